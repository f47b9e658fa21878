//! Change requests: every change of live or mirror traffic and every deletion of a deployment or
//! an endpoint waits for approvals by people other than the one who asked (issue 11).
//!
//! The rules are functions of their inputs only (the request, the actor, `now`), so the console
//! disables the Approve button with exactly the reason the API answers with, and a test can walk
//! every refusal without a database.

pub use super::request_state::{ChangeRequestEvent, ChangeRequestState};
use super::split::TrafficSplit;
use crate::error::FieldError;
use crate::names::DeploymentName;
use crate::role::Role;
use crate::text;
use crate::username::Username;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Approvals a change needs when its endpoint has no policy of its own (issue 11: default 1).
pub const DEFAULT_REQUIRED_APPROVALS: u32 = 1;
/// A policy can't ask for none: "no approval" is what break-glass is for, and it is audited.
pub const MIN_REQUIRED_APPROVALS: u32 = 1;
/// More approvers than a team has would block every change; five is more than any rollout we
/// know of asks for, and the cap keeps a typo (`50`) from locking an endpoint.
pub const MAX_REQUIRED_APPROVALS: u32 = 5;
/// How long a request stays open: a day, so a request is decided by people who saw the endpoint
/// recently, and an old one can't be approved after everyone forgot it.
pub const DEFAULT_EXPIRY: TimeDelta = TimeDelta::hours(24);

/// What a change request would do. `before` is kept on the request itself (all kinds), since a
/// deletion, too, was decided against the split people saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// Set live and mirror traffic to `after` (sent exactly as it is; see `TrafficDiff`).
    Traffic {
        after: TrafficSplit,
    },
    DeleteDeployment {
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        deployment: DeploymentName,
    },
    DeleteEndpoint,
    /// Let a rollout go on past step `step`'s gate, which did not pass by itself (`outcome`:
    /// marginal, or inconclusive past its patience). It changes no traffic: approving it lets the
    /// rollout continue; rejecting it (or letting it expire) rolls the rollout back.
    PassGate {
        step: u32,
        outcome: crate::gates::Outcome,
    },
}

/// A change request as the rules see it: the database row without the display fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequest {
    pub change: Change,
    /// The endpoint's split when the request was made.
    pub before: TrafficSplit,
    pub requester: Username,
    pub state: ChangeRequestState,
    pub required_approvals: u32,
    /// Who approved so far, once each.
    pub approvers: Vec<Username>,
    pub expires_at: DateTime<Utc>,
}

impl ChangeRequest {
    /// A new request: pending, no approvals, expiring [`DEFAULT_EXPIRY`] after `created_at`.
    pub fn open(
        change: Change,
        before: TrafficSplit,
        requester: Username,
        required_approvals: u32,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            change,
            before,
            requester,
            state: ChangeRequestState::Pending,
            required_approvals,
            approvers: Vec::new(),
            expires_at: expires_at(created_at),
        }
    }

    /// Pending past its expiry: the sweeper marks it `expired` (and pauses its rollout).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.state == ChangeRequestState::Pending && now >= self.expires_at
    }
}

/// Who acts on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub username: Username,
    pub role: Role,
}

/// Why an approval (or a rejection) is refused. `code()` is the API's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalRefused {
    /// The request is no longer pending (approved, applied, rejected, stale…).
    NotPending(ChangeRequestState),
    /// Its time ran out (the sweeper may not have marked it yet).
    Expired,
    /// The requester can't decide on their own request: approvals mean a second person.
    SelfApproval,
    /// Deciding needs the approver role.
    RoleTooLow,
    /// Approvals must come from distinct people.
    AlreadyApprovedByYou,
}

impl ApprovalRefused {
    /// The stable error code of the API's envelope.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotPending(_) => "not_pending",
            Self::Expired => "expired",
            Self::SelfApproval => "self_approval",
            Self::RoleTooLow => "forbidden",
            Self::AlreadyApprovedByYou => "already_approved",
        }
    }

    /// 403 when it is about who you are (no retry helps), 409 when about the request's state.
    pub fn is_forbidden(self) -> bool {
        matches!(self, Self::SelfApproval | Self::RoleTooLow)
    }
}

impl fmt::Display for ApprovalRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPending(state) => write!(f, "the request is {state}, no longer pending"),
            Self::Expired => f.write_str("the request has expired"),
            Self::SelfApproval => {
                f.write_str("you made this request; another person must decide on it")
            }
            Self::RoleTooLow => f.write_str("deciding on change requests needs the approver role"),
            Self::AlreadyApprovedByYou => f.write_str("you have already approved this request"),
        }
    }
}

impl std::error::Error for ApprovalRefused {}

/// An accepted approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approved {
    /// The required number of distinct approvals is reached: apply it now.
    pub now_complete: bool,
}

/// Checks shared by approving and rejecting, in the order a person reads them: a decided or
/// expired request first (nothing else matters), then who you are. Self-approval before role, so
/// an operator sees "you made this request" on their own request (issue 11: `self_approval`).
fn may_decide(
    request: &ChangeRequest,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), ApprovalRefused> {
    if request.state != ChangeRequestState::Pending {
        return Err(ApprovalRefused::NotPending(request.state));
    }
    if now >= request.expires_at {
        return Err(ApprovalRefused::Expired);
    }
    if actor.username == request.requester {
        return Err(ApprovalRefused::SelfApproval);
    }
    if !actor.role.allows(Role::Approver) {
        return Err(ApprovalRefused::RoleTooLow);
    }
    Ok(())
}

/// The approval rule: a pending, unexpired request; an approver (or admin) who is not the
/// requester and has not approved it yet. `now_complete` once the distinct approvals reach the
/// required count.
pub fn approve(
    request: &ChangeRequest,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Approved, ApprovalRefused> {
    may_decide(request, actor, now)?;
    if request.approvers.contains(&actor.username) {
        return Err(ApprovalRefused::AlreadyApprovedByYou);
    }
    // Distinct people only, even if a stored list repeated a name.
    let earlier = &request.approvers;
    let distinct = earlier
        .iter()
        .enumerate()
        .filter(|(i, name)| !earlier[..*i].contains(name))
        .count();
    Ok(Approved {
        now_complete: distinct + 1 >= request.required_approvals as usize,
    })
}

/// The rejection rule: like approving, and one rejection ends the request. Someone who approved
/// may still reject before it is applied (a change of mind is worth hearing).
pub fn reject(
    request: &ChangeRequest,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), ApprovalRefused> {
    may_decide(request, actor, now)
}

/// Why break-glass is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakGlassRefused {
    NotAdmin,
    ReasonRequired,
    /// The reason breaks the free-text rule.
    Reason(FieldError),
}

impl fmt::Display for BreakGlassRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAdmin => f.write_str("only an admin may apply a change without approvals"),
            Self::ReasonRequired => {
                f.write_str("applying a change without approvals needs a reason")
            }
            Self::Reason(e) => f.write_str(&e.message),
        }
    }
}

impl std::error::Error for BreakGlassRefused {}

/// Break-glass: an admin may apply a change without approvals, with a reason that the audit log
/// records (`change_request.break_glass`). The request must still be open and not stale: the
/// apply path checks that for every request alike.
pub fn check_break_glass(actor: &Actor, reason: &str) -> Result<(), BreakGlassRefused> {
    if actor.role != Role::Admin {
        return Err(BreakGlassRefused::NotAdmin);
    }
    if reason.trim().is_empty() {
        return Err(BreakGlassRefused::ReasonRequired);
    }
    check_reason("reason", Some(reason), true).map_err(BreakGlassRefused::Reason)
}

/// A reason (change requests, abort, rollback, break-glass) under the free-text rule; `required`
/// ones must hold more than blanks.
pub fn check_reason(name: &str, reason: Option<&str>, required: bool) -> Result<(), FieldError> {
    match reason {
        Some(text) if !text.trim().is_empty() => {
            text::check_field(name, text, text::REASON).map_err(FieldError::from)
        }
        _ if required => Err(field(name, format!("{name} is required"))),
        _ => Ok(()),
    }
}

/// An approver's comment: optional on an approval, required on a rejection (it stops a rollout,
/// so its requester must learn why).
pub fn check_comment(comment: Option<&str>, required: bool) -> Result<(), FieldError> {
    check_reason("comment", comment, required)
}

/// An endpoint policy's (or a plan step's) number of required approvals.
pub fn check_required_approvals(name: &str, count: u32) -> Result<(), FieldError> {
    if (MIN_REQUIRED_APPROVALS..=MAX_REQUIRED_APPROVALS).contains(&count) {
        Ok(())
    } else {
        Err(field(
            name,
            format!(
                "{name} must be between {MIN_REQUIRED_APPROVALS} and {MAX_REQUIRED_APPROVALS} (got {count})"
            ),
        ))
    }
}

fn field(name: &str, message: String) -> FieldError {
    FieldError {
        field: name.to_owned(),
        message,
    }
}

/// When a request made at `created_at` expires.
pub fn expires_at(created_at: DateTime<Utc>) -> DateTime<Utc> {
    created_at + DEFAULT_EXPIRY
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Username {
        Username::parse(name).expect("a valid username")
    }

    fn actor(name: &str, role: Role) -> Actor {
        Actor {
            username: user(name),
            role,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(20_000)
    }

    fn request(required: u32) -> ChangeRequest {
        ChangeRequest::open(
            Change::Traffic {
                after: TrafficSplit::shifted("blue", "green", 10),
            },
            TrafficSplit::all_to("blue"),
            user("alice"),
            required,
            now(),
        )
    }

    #[test]
    fn already_approved_by_you_is_refused() {
        let mut r = request(3);
        r.approvers = vec![user("bob"), user("carol")];
        let refused = approve(&r, &actor("carol", Role::Approver), now()).expect_err("twice");
        assert_eq!(refused, ApprovalRefused::AlreadyApprovedByYou);
        assert_eq!(refused.code(), "already_approved");
        assert!(
            !refused.is_forbidden(),
            "409: about the request, not the person"
        );
    }

    #[test]
    fn a_request_is_expired_once_pending_past_its_expiry() {
        let r = request(1);
        assert!(!r.is_expired(r.expires_at - TimeDelta::seconds(1)));
        assert!(r.is_expired(r.expires_at));
        let mut applied = request(1);
        applied.state = ChangeRequestState::Applied;
        assert!(
            !applied.is_expired(applied.expires_at),
            "only pending requests expire"
        );
    }

    #[test]
    fn self_approval_is_refused_even_for_an_approver() {
        for role in Role::ALL {
            let refused = approve(&request(1), &actor("alice", role), now());
            assert_eq!(refused, Err(ApprovalRefused::SelfApproval), "{role}");
        }
        let refused = ApprovalRefused::SelfApproval;
        assert_eq!(refused.code(), "self_approval");
        assert!(refused.is_forbidden());
    }

    #[test]
    fn role_too_low_is_refused_below_approver() {
        for role in [Role::Viewer, Role::Operator] {
            assert_eq!(
                approve(&request(1), &actor("bob", role), now()),
                Err(ApprovalRefused::RoleTooLow)
            );
        }
        for role in [Role::Approver, Role::Admin] {
            assert!(approve(&request(1), &actor("bob", role), now()).is_ok());
        }
    }

    #[test]
    fn one_approval_completes_a_request_that_needs_one() {
        assert_eq!(
            approve(&request(1), &actor("bob", Role::Approver), now()),
            Ok(Approved { now_complete: true })
        );
    }

    #[test]
    fn two_required_approvals_need_two_distinct_approvers() {
        let mut r = request(2);
        assert_eq!(
            approve(&r, &actor("bob", Role::Approver), now()),
            Ok(Approved {
                now_complete: false
            })
        );
        r.approvers.push(user("bob"));
        assert_eq!(
            approve(&r, &actor("bob", Role::Approver), now()),
            Err(ApprovalRefused::AlreadyApprovedByYou)
        );
        assert_eq!(
            approve(&r, &actor("carol", Role::Admin), now()),
            Ok(Approved { now_complete: true })
        );
    }

    #[test]
    fn expired_requests_cannot_be_approved_or_rejected() {
        let r = request(1);
        let bob = actor("bob", Role::Approver);
        let at_expiry = r.expires_at;
        assert_eq!(approve(&r, &bob, at_expiry), Err(ApprovalRefused::Expired));
        assert_eq!(reject(&r, &bob, at_expiry), Err(ApprovalRefused::Expired));
        assert!(approve(&r, &bob, at_expiry - TimeDelta::seconds(1)).is_ok());
        assert_eq!(r.expires_at - now(), TimeDelta::hours(24));
    }

    #[test]
    fn not_pending_requests_cannot_be_decided() {
        let bob = actor("bob", Role::Approver);
        for state in ChangeRequestState::ALL {
            let mut r = request(1);
            r.state = state;
            let expected = if state == ChangeRequestState::Pending {
                Ok(())
            } else {
                Err(ApprovalRefused::NotPending(state))
            };
            assert_eq!(approve(&r, &bob, now()).map(|_| ()), expected, "{state}");
            assert_eq!(reject(&r, &bob, now()), expected, "{state}");
        }
        assert_eq!(
            ApprovalRefused::NotPending(ChangeRequestState::Applied).to_string(),
            "the request is applied, no longer pending"
        );
    }

    #[test]
    fn rejection_follows_the_approval_rule_but_an_earlier_approver_may_reject() {
        let mut r = request(2);
        r.approvers.push(user("bob"));
        assert_eq!(reject(&r, &actor("bob", Role::Approver), now()), Ok(()));
        assert_eq!(
            reject(&r, &actor("alice", Role::Admin), now()),
            Err(ApprovalRefused::SelfApproval)
        );
        assert_eq!(
            reject(&r, &actor("dave", Role::Operator), now()),
            Err(ApprovalRefused::RoleTooLow)
        );
    }

    #[test]
    fn break_glass_needs_an_admin_and_a_reason() {
        let admin = actor("root-admin", Role::Admin);
        assert_eq!(
            check_break_glass(&admin, "green is down, customers hit"),
            Ok(())
        );
        assert_eq!(
            check_break_glass(&actor("bob", Role::Approver), "urgent"),
            Err(BreakGlassRefused::NotAdmin)
        );
        assert_eq!(
            check_break_glass(&admin, "  \n"),
            Err(BreakGlassRefused::ReasonRequired)
        );
        assert!(matches!(
            check_break_glass(&admin, "bad\u{0}"),
            Err(BreakGlassRefused::Reason(FieldError { ref field, .. })) if field == "reason"
        ));
    }

    #[test]
    fn reasons_and_comments_follow_the_free_text_rule() {
        assert_eq!(
            check_reason("reason", Some("rolling out v2\nas planned"), true),
            Ok(())
        );
        assert_eq!(
            check_reason("reason", None, true).map_err(|e| e.message),
            Err("reason is required".to_owned())
        );
        assert_eq!(check_reason("reason", Some(" "), false), Ok(()));
        assert!(check_reason("reason", Some(&"x".repeat(2001)), false).is_err());
        assert_eq!(check_comment(None, false), Ok(()));
        assert_eq!(
            check_comment(Some(""), true).map_err(|e| e.field),
            Err("comment".to_owned())
        );
    }

    #[test]
    fn required_approvals_are_bounded_from_one_to_five() {
        assert!(check_required_approvals("required_approvals", 0).is_err());
        assert_eq!(
            check_required_approvals("required_approvals", DEFAULT_REQUIRED_APPROVALS),
            Ok(())
        );
        assert_eq!(check_required_approvals("required_approvals", 5), Ok(()));
        let refused = check_required_approvals("required_approvals", 6).expect_err("six");
        assert_eq!(
            refused.message,
            "required_approvals must be between 1 and 5 (got 6)"
        );
    }

    #[test]
    fn changes_serialize_with_their_kind() {
        let json = serde_json::to_value(Change::DeleteDeployment {
            deployment: DeploymentName::parse("blue").expect("valid"),
        })
        .expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"kind": "delete_deployment", "deployment": "blue"})
        );
        let back: Change =
            serde_json::from_value(serde_json::json!({"kind": "delete_endpoint"})).expect("parse");
        assert_eq!(back, Change::DeleteEndpoint);
        assert!(serde_json::from_value::<Change>(
            serde_json::json!({"kind": "traffic", "after": {"traffic": {}}, "extra": 1})
        )
        .is_err());
    }
}
