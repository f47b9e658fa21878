//! The pure domain of rollout sessions (issue 11): plans as data, the state machines of a rollout
//! and its steps, and change requests with their approval rules.
//!
//! Nothing here does I/O or reads a clock: every rule takes what it decides on (the request, the
//! actor, `now`, the live split) as arguments, so the server, the executor and the browser
//! console decide identically, and every rule is unit-tested next to it.
//!
//! - [`plan`]: what a rollout does, step by step; [`plan_check`]: [`check_plan`], which the plan
//!   editor runs as the user types and the server runs before storing a plan, and the rule for
//!   the endpoint a rollout may start from.
//! - [`state`]: [`RolloutState`] and [`StepState`] and the only transitions between them. The
//!   store guards each update with the state it read (`where state = $old`), so a late worker
//!   can't overwrite a newer state.
//! - [`split`]: an endpoint's live and mirror split as a value, the dry-run diff a change request
//!   shows, staleness, and the rule that returning to the known-good split needs no approval.
//! - [`change_request`]: who may approve, reject or break glass; [`request_state`]: the states a
//!   change request goes through.
//! - [`workspace_id`]: Greenlight's name for a connected workspace, stored beside every
//!   endpoint name in the new tables so several workspaces can share one database.

pub mod change_request;
pub mod plan;
pub mod plan_check;
pub mod request_state;
pub mod split;
pub mod state;
pub mod workspace_id;

pub use change_request::{
    approve, check_break_glass, check_comment, check_reason, check_required_approvals, expires_at,
    reject, Actor, ApprovalRefused, Approved, BreakGlassRefused, Change, ChangeRequest,
    ChangeRequestEvent, ChangeRequestState, DEFAULT_EXPIRY, DEFAULT_REQUIRED_APPROVALS,
    MAX_REQUIRED_APPROVALS, MIN_REQUIRED_APPROVALS,
};
pub use plan::{Plan, Step, StepDuration, MAX_STEPS, MAX_STEP_DURATION};
pub use plan_check::{check_plan, check_rollout_start, PlanRule, PlanViolation, StartRefused};
pub use split::{is_stale, needs_approval, DeploymentChange, TrafficDiff, TrafficSplit};
pub use state::{RolloutEvent, RolloutState, StepEvent, StepState, TransitionRefused};
pub use workspace_id::{InvalidWorkspaceId, WorkspaceId};
