//! Bodies of the rollout routes: `POST|GET /api/v1/endpoints/{endpoint}/rollouts`,
//! `GET /api/v1/rollouts/{id}`, `POST /api/v1/rollouts/{id}/{pause|resume|abort|rollback}`.
//!
//! A rollout names its workspace beside its endpoint: endpoint names are unique only within a
//! workspace, and the tables behind these bodies key on `(workspace, endpoint)` so that a
//! second workspace needs no change of shape. Names are the parsed newtypes, never plain strings,
//! so a body read back from the database can't carry a name Azure would refuse.

use super::change_requests::ChangeRequestSummary;
use super::deployments::CreateDeploymentRequest;
use crate::error::FieldError;
use crate::gates::GateReport;
use crate::names::{DeploymentName, EndpointName};
use crate::rollout::{
    check_plan, check_reason, Plan, RolloutEvent, RolloutState, Step, StepEvent, StepState,
    TrafficSplit, WorkspaceId,
};
use crate::username::Username;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /api/v1/endpoints/{endpoint}/rollouts`: start a rollout to a new deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StartRolloutRequest {
    /// The new ("green") deployment, which the plan's `deploy` step creates at 0 %.
    pub deployment: CreateDeploymentRequest,
    /// The steps; the seed's seven when left out.
    #[serde(default)]
    pub plan: Plan,
    /// Why, for the audit log and the approvers.
    #[serde(default)]
    pub reason: Option<String>,
}

impl StartRolloutRequest {
    /// Every broken rule, fields named from the body's root (`deployment.model`,
    /// `plan.steps[3].percent`, `reason`). Whether the endpoint can start a rollout now is
    /// [`crate::rollout::check_rollout_start`], which needs the live split.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut problems: Vec<FieldError> = Vec::new();
        let prefixed = |prefix: &str, e: FieldError| FieldError {
            field: format!("{prefix}.{}", e.field),
            message: e.message,
        };
        if let Err(errors) = self.deployment.check() {
            problems.extend(errors.into_iter().map(|e| prefixed("deployment", e)));
        }
        if let Err(violations) = check_plan(&self.plan) {
            problems.extend(
                violations
                    .into_iter()
                    .map(|v| prefixed("plan", FieldError::from(v))),
            );
        }
        problems.extend(check_reason("reason", self.reason.as_deref(), false).err());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// A rollout as lists and the endpoint's rollout history show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutSummary {
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub workspace: WorkspaceId,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub endpoint: EndpointName,
    /// The deployment that took all live traffic when the rollout started ("blue").
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub old_deployment: DeploymentName,
    /// The deployment the rollout moves traffic to ("green").
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub new_deployment: DeploymentName,
    pub state: RolloutState,
    /// The index in `plan.steps` of the step being worked on; none before the start and after
    /// the end.
    pub current_step: Option<u32>,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub started_by: Username,
    /// Everyone who approved one of its steps, once each, in order of first approval.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub approvers: Vec<Username>,
    pub created_at: DateTime<Utc>,
    /// When it reached a terminal state.
    pub finished_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/endpoints/{endpoint}/rollouts`: newest first; `next` is the following page's
/// cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutList {
    pub items: Vec<RolloutSummary>,
    pub next: Option<String>,
}

/// One step of a rollout, as its timeline shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutStepView {
    pub index: u32,
    pub step: Step,
    pub state: StepState,
    /// What its change request needs (the plan's count, never below the endpoint's policy); 0
    /// when the step does not wait.
    pub required_approvals: u32,
    /// The step's latest change request, if it made one.
    pub change_request_id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub approvers: Vec<Username>,
    /// The workspace's operation id of the step's write, recorded before it is waited on.
    pub arm_operation_id: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed, in words for people.
    pub error: Option<String>,
    /// A gated step's latest judgement.
    #[serde(default)]
    pub gate: Option<GateCheck>,
}

/// A gate's latest judgement of its step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateCheck {
    pub judged_at: DateTime<Utc>,
    /// The judgement the step acted on (passed on, rolled back, asked an approver); false while
    /// the gate still watches.
    pub decided: bool,
    pub report: GateReport,
}

/// What moved in one timeline entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum Transition {
    Rollout {
        event: RolloutEvent,
        from: RolloutState,
        to: RolloutState,
    },
    Step {
        index: u32,
        event: StepEvent,
        from: StepState,
        to: StepState,
    },
}

/// One transition of the rollout or of a step, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// The person who caused it; none when the executor did.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub actor: Option<Username>,
    pub transition: Transition,
    /// The reason or comment given with it.
    pub reason: Option<String>,
    pub change_request_id: Option<Uuid>,
}

/// `GET /api/v1/rollouts/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutDetail {
    #[serde(flatten)]
    pub summary: RolloutSummary,
    pub reason: Option<String>,
    pub plan: Plan,
    /// The new deployment's spec, as submitted, except that each environment variable's value
    /// is shown as its fingerprint (`sha256:…`): values are often secrets, and viewers read
    /// rollouts.
    pub deployment: CreateDeploymentRequest,
    /// The split before the rollout; abort and rollback return to it (mirror off).
    pub known_good: TrafficSplit,
    /// One per plan step, in plan order.
    pub steps: Vec<RolloutStepView>,
    pub timeline: Vec<TimelineEntry>,
    /// The current step's open change request, for Approve / Reject on the rollout page.
    pub pending_request: Option<ChangeRequestSummary>,
    /// While the rollout runs and a freeze window covers its endpoint: that window. Its traffic
    /// steps wait (no request is opened, an open one can't be approved) until the window ends.
    #[serde(default)]
    pub held_by_freeze: Option<crate::api::freeze::FreezeNotice>,
}

/// `POST /api/v1/rollouts/{id}/{pause|resume|abort|rollback}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RolloutActionRequest {
    /// Required for abort and rollback: they move live traffic without approval.
    #[serde(default)]
    pub reason: Option<String>,
}

impl RolloutActionRequest {
    /// The body's rule for `action` (one of [`RolloutEvent::is_action`]).
    pub fn check(&self, action: RolloutEvent) -> Result<(), Vec<FieldError>> {
        check_reason("reason", self.reason.as_deref(), action.needs_reason()).map_err(|e| vec![e])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::{PlanRule, PlanViolation};
    use std::collections::BTreeMap;

    fn start() -> StartRolloutRequest {
        serde_json::from_value(serde_json::json!({
            "deployment": {
                "name": "green",
                "model": "azureml:regression-v2:1",
                "instance_type": "Standard_DS3_v2",
                "instance_count": 1
            }
        }))
        .expect("a start request")
    }

    #[test]
    fn a_start_request_without_a_plan_gets_the_seed_plan() {
        let request = start();
        assert_eq!(request.plan, Plan::seed_default());
        assert_eq!(request.check(), Ok(()));
    }

    #[test]
    fn start_request_fields_are_named_from_the_body_root() {
        let mut request = start();
        request.deployment.instance_count = 0;
        request.plan.steps[3] = Step::Shift {
            percent: 0,
            approvals: 1,
        };
        request.reason = Some("x\u{0}".into());
        let fields: Vec<String> = request
            .check()
            .expect_err("three problems")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "deployment.instance_count",
                "plan.steps[3].percent",
                "reason"
            ]
        );
        let v = PlanViolation {
            field: "steps".into(),
            rule: PlanRule::StepCount,
            message: String::new(),
        };
        assert_eq!(FieldError::from(v).field, "steps");
    }

    #[test]
    fn abort_and_rollback_bodies_need_a_reason_pause_and_resume_do_not() {
        let empty = RolloutActionRequest::default();
        assert_eq!(empty.check(RolloutEvent::Pause), Ok(()));
        assert_eq!(empty.check(RolloutEvent::Resume), Ok(()));
        for action in [RolloutEvent::Abort, RolloutEvent::Rollback] {
            let refused = empty.check(action).expect_err("no reason");
            assert_eq!(refused[0].field, "reason");
        }
        let given = RolloutActionRequest {
            reason: Some("green's p95 doubled".into()),
        };
        assert_eq!(given.check(RolloutEvent::Rollback), Ok(()));
    }

    #[test]
    fn a_rollout_detail_flattens_its_summary_and_tags_transitions() {
        let user = |n: &str| Username::parse(n).expect("valid");
        let summary = RolloutSummary {
            id: Uuid::nil(),
            workspace: WorkspaceId::local(),
            endpoint: EndpointName::parse("my-endpoint").expect("valid"),
            old_deployment: DeploymentName::parse("blue").expect("valid"),
            new_deployment: DeploymentName::parse("green").expect("valid"),
            state: RolloutState::WaitingForApproval,
            current_step: Some(3),
            started_by: user("alice"),
            approvers: vec![],
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            finished_at: None,
        };
        let detail = RolloutDetail {
            summary,
            reason: None,
            plan: Plan::seed_default(),
            deployment: start().deployment,
            known_good: TrafficSplit {
                traffic: BTreeMap::from([("blue".into(), 100)]),
                mirror_traffic: BTreeMap::new(),
            },
            steps: vec![],
            timeline: vec![TimelineEntry {
                at: DateTime::<Utc>::UNIX_EPOCH,
                actor: None,
                transition: Transition::Step {
                    index: 3,
                    event: StepEvent::NeedsApproval,
                    from: StepState::Running,
                    to: StepState::WaitingForApproval,
                },
                reason: None,
                change_request_id: None,
            }],
            pending_request: None,
            held_by_freeze: None,
        };
        let json = serde_json::to_value(&detail).expect("serialize");
        assert_eq!(json["workspace"], "local");
        assert_eq!(json["state"], "waiting_for_approval");
        assert_eq!(json["known_good"]["mirror_traffic"], serde_json::json!({}));
        assert_eq!(json["timeline"][0]["transition"]["scope"], "step");
        assert_eq!(json["timeline"][0]["transition"]["event"], "needs_approval");
        let back: RolloutDetail = serde_json::from_value(json).expect("parse");
        assert_eq!(back, detail);
    }
}
