//! Bodies of the change-request routes: `GET /api/v1/change-requests?state=…`,
//! `GET /api/v1/change-requests/{id}`, `POST /api/v1/change-requests/{id}/{approve|reject}`,
//! `GET|PUT /api/v1/endpoints/{endpoint}/policy`, and what a traffic change or a delete sends
//! now that it asks instead of applying (answered `202` with the request it created).
//!
//! The rules behind them are in [`crate::rollout::change_request`]; a detail converts into the
//! rules' own [`ChangeRequest`], so the console disables Approve with the very refusal the API
//! would answer with.

use crate::api::Split;
use crate::error::FieldError;
use crate::names::EndpointName;
use crate::rollout::{
    check_comment, check_reason, check_required_approvals, Change, ChangeRequest,
    ChangeRequestState, TrafficDiff, TrafficSplit, WorkspaceId, DEFAULT_REQUIRED_APPROVALS,
};
use crate::username::Username;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A change request as the Approvals inbox and the rollout page list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeRequestSummary {
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub workspace: WorkspaceId,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub endpoint: EndpointName,
    pub change: Change,
    /// The endpoint's split when the request was made; it is applied only if that is still
    /// the live split.
    pub before: TrafficSplit,
    pub state: ChangeRequestState,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub requester: Username,
    pub reason: String,
    pub required_approvals: u32,
    /// Distinct approvals so far.
    pub approval_count: u32,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The rollout and plan step that made it; none for a change from the traffic editor or a
    /// delete button.
    pub rollout_id: Option<Uuid>,
    pub rollout_step: Option<u32>,
}

/// An approval or a rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionView {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub by: Username,
    pub at: DateTime<Utc>,
    pub comment: Option<String>,
}

/// `GET /api/v1/change-requests/{id}`, and the `202` answer of a change that now asks first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeRequestDetail {
    #[serde(flatten)]
    pub summary: ChangeRequestSummary,
    /// For a traffic change: exactly the maps that will be sent, before → after.
    pub diff: Option<TrafficDiff>,
    pub approvals: Vec<DecisionView>,
    pub rejection: Option<DecisionView>,
    /// When it went stale: the request's `before` → the live split found instead, so its
    /// requester sees what changed.
    pub stale: Option<TrafficDiff>,
    /// Set when an admin applied it without approvals.
    pub break_glass: Option<DecisionView>,
    /// The operation that applies it (`/api/v1/operations/{id}`), once approved.
    pub operation_id: Option<Uuid>,
    /// When it reached a final state.
    pub decided_at: Option<DateTime<Utc>>,
}

impl ChangeRequestDetail {
    /// The request as the approval rules take it ([`crate::rollout::approve`]).
    pub fn rule_input(&self) -> ChangeRequest {
        let s = &self.summary;
        ChangeRequest {
            change: s.change.clone(),
            before: s.before.clone(),
            requester: s.requester.clone(),
            state: s.state,
            required_approvals: s.required_approvals,
            approvers: self.approvals.iter().map(|a| a.by.clone()).collect(),
            expires_at: s.expires_at,
        }
    }
}

/// `GET /api/v1/change-requests`: newest first; `next` is the following page's cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeRequestList {
    pub items: Vec<ChangeRequestSummary>,
    pub next: Option<String>,
}

/// `POST /api/v1/change-requests/{id}/approve`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    #[serde(default)]
    pub comment: Option<String>,
}

impl ApproveRequest {
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        check_comment(self.comment.as_deref(), false).map_err(|e| vec![e])
    }
}

/// `POST /api/v1/change-requests/{id}/reject`: a rejection ends the request (and pauses its
/// rollout), so it must say why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    #[serde(default)]
    pub comment: Option<String>,
}

impl RejectRequest {
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        check_comment(self.comment.as_deref(), true).map_err(|e| vec![e])
    }
}

/// `GET|PUT /api/v1/endpoints/{endpoint}/policy` (PUT: admins; audited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EndpointPolicy {
    /// Distinct approvers (role ≥ approver, not the requester) a change needs; 1–5.
    pub required_approvals: u32,
}

impl Default for EndpointPolicy {
    /// What an endpoint without a stored policy has.
    fn default() -> Self {
        Self {
            required_approvals: DEFAULT_REQUIRED_APPROVALS,
        }
    }
}

impl EndpointPolicy {
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        check_required_approvals("required_approvals", self.required_approvals).map_err(|e| vec![e])
    }
}

/// `PUT /api/v1/endpoints/{endpoint}/traffic` once changes ask first: the split, the version
/// it was based on, and why. With `break_glass` an admin applies it at once (the reason is then
/// the break-glass reason, audited as such). Meant to replace `TrafficChange`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrafficChangeRequest {
    pub traffic: Split,
    #[serde(default)]
    pub mirror_traffic: Split,
    #[serde(default)]
    pub version: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub break_glass: bool,
}

impl TrafficChangeRequest {
    /// The reason's rule; the split's rules are [`crate::check_traffic`], which needs the
    /// endpoint's deployments.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        check_reason("reason", Some(&self.reason), true).map_err(|e| vec![e])
    }
}

/// The body of a deployment or endpoint deletion once it asks first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeleteChangeRequest {
    pub reason: String,
    #[serde(default)]
    pub break_glass: bool,
}

impl DeleteChangeRequest {
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        check_reason("reason", Some(&self.reason), true).map_err(|e| vec![e])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;
    use crate::rollout::{approve, expires_at, Actor, ApprovalRefused};

    fn user(name: &str) -> Username {
        Username::parse(name).expect("valid")
    }

    fn detail() -> ChangeRequestDetail {
        let before = TrafficSplit::all_to("blue");
        let after = TrafficSplit::shifted("blue", "green", 10);
        let created = DateTime::<Utc>::UNIX_EPOCH;
        ChangeRequestDetail {
            summary: ChangeRequestSummary {
                id: Uuid::nil(),
                workspace: WorkspaceId::local(),
                endpoint: EndpointName::parse("my-endpoint").expect("valid"),
                change: Change::Traffic {
                    after: after.clone(),
                },
                before: before.clone(),
                state: ChangeRequestState::Pending,
                requester: user("alice"),
                reason: "step 4 of the rollout".into(),
                required_approvals: 2,
                approval_count: 1,
                created_at: created,
                expires_at: expires_at(created),
                rollout_id: Some(Uuid::nil()),
                rollout_step: Some(3),
            },
            diff: Some(TrafficDiff::between(&before, &after)),
            approvals: vec![DecisionView {
                by: user("bob"),
                at: created,
                comment: None,
            }],
            rejection: None,
            stale: None,
            break_glass: None,
            operation_id: None,
            decided_at: None,
        }
    }

    #[test]
    fn a_detail_feeds_the_approval_rule_so_the_console_shows_the_apis_refusal() {
        let d = detail();
        let input = d.rule_input();
        assert_eq!(input.approvers, [user("bob")]);
        let now = d.summary.created_at;
        let alice = Actor {
            username: user("alice"),
            role: Role::Operator,
        };
        assert_eq!(
            approve(&input, &alice, now),
            Err(ApprovalRefused::SelfApproval)
        );
        let bob = Actor {
            username: user("bob"),
            role: Role::Approver,
        };
        assert_eq!(
            approve(&input, &bob, now),
            Err(ApprovalRefused::AlreadyApprovedByYou)
        );
    }

    #[test]
    fn a_change_request_detail_is_snake_case_with_a_flat_summary() {
        let json = serde_json::to_value(detail()).expect("serialize");
        assert_eq!(json["workspace"], "local");
        assert_eq!(json["change"]["kind"], "traffic");
        assert_eq!(json["required_approvals"], 2);
        assert_eq!(json["diff"]["send"]["traffic"]["green"], 10);
        assert_eq!(json["expires_at"], "1970-01-02T00:00:00Z");
        let back: ChangeRequestDetail = serde_json::from_value(json).expect("parse");
        assert_eq!(back, detail());
    }

    #[test]
    fn a_rejection_needs_a_comment_an_approval_does_not() {
        assert_eq!(ApproveRequest::default().check(), Ok(()));
        let refused = RejectRequest::default().check().expect_err("no comment");
        assert_eq!(refused[0].field, "comment");
        let given = RejectRequest {
            comment: Some("bake longer first".into()),
        };
        assert_eq!(given.check(), Ok(()));
    }

    #[test]
    fn the_endpoint_policy_defaults_to_one_approval_and_is_bounded() {
        assert_eq!(EndpointPolicy::default().required_approvals, 1);
        assert_eq!(EndpointPolicy::default().check(), Ok(()));
        let none = EndpointPolicy {
            required_approvals: 0,
        };
        assert_eq!(none.check().expect_err("0")[0].field, "required_approvals");
        assert!(serde_json::from_str::<EndpointPolicy>(r#"{"required_approvals": 2}"#).is_ok());
    }

    #[test]
    fn changes_that_ask_first_need_a_reason() {
        let change: TrafficChangeRequest = serde_json::from_value(serde_json::json!({
            "traffic": {"blue": 90, "green": 10}, "reason": " "
        }))
        .expect("parse");
        assert!(!change.break_glass);
        assert_eq!(change.check().expect_err("blank")[0].field, "reason");
        let delete = DeleteChangeRequest {
            reason: "v1 retired".into(),
            break_glass: false,
        };
        assert_eq!(delete.check(), Ok(()));
    }
}
