//! Change requests as the console shows them (issue 11): every traffic change and every delete
//! waits for a second person's approval. A card shows one request — its dry-run diff, who asked
//! and why, the approvals so far and its expiry — with Approve / Reject for those who may decide;
//! a list gathers the pending ones of an endpoint (or of every endpoint, for the inbox); a status
//! line follows one request where it was made (the traffic editor, a delete button).

mod card;
mod decide;
mod diff;
mod list;
mod status;

pub use card::ChangeRequestCard;
pub use list::ChangeRequests;
pub use status::RequestStatus;

use chrono::{DateTime, Utc};
use shared::rollout::{Change, ChangeRequestState};

/// Now, from the browser's clock: chrono's own clock needs a feature that pulls in more JS glue.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}

/// "2026-11-30 05:31 UTC".
pub use shared::api::clock;

/// What the request would do, in a few words.
pub fn describe(change: &Change) -> String {
    match change {
        Change::Traffic { .. } => "Traffic change".to_owned(),
        Change::DeleteDeployment { deployment } => format!("Delete deployment {deployment}"),
        Change::DeleteEndpoint => "Delete endpoint".to_owned(),
        Change::PassGate { step, outcome } => format!(
            "Continue past step {}'s gate ({})",
            step + 1,
            outcome.as_str()
        ),
    }
}

/// The state in words for the person who asked: what happens next, or how it ended.
pub fn outcome(state: ChangeRequestState) -> &'static str {
    match state {
        ChangeRequestState::Pending => "waiting for approval",
        ChangeRequestState::Approved => "approved — being applied",
        ChangeRequestState::Applied => "applied",
        ChangeRequestState::Failed => "approved, but the workspace failed to apply it",
        ChangeRequestState::Rejected => "rejected",
        ChangeRequestState::Expired => "expired before enough approvals",
        ChangeRequestState::Stale => "not applied: the endpoint changed after it was requested",
        ChangeRequestState::Cancelled => "cancelled",
    }
}
