//! The life of a change request: its states and the only transitions between them. The store
//! writes each transition guarded by the state it read, like a rollout's.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a change request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeRequestState {
    /// Waiting for approvals.
    Pending,
    /// Approved (or break-glass); the change is being applied.
    Approved,
    Applied,
    /// The workspace refused or failed the change.
    Failed,
    Rejected,
    Expired,
    /// The endpoint's split changed after the request was made; not applied.
    Stale,
    /// Withdrawn by Greenlight: its rollout was paused, aborted or rolled back.
    Cancelled,
}

/// What happens to a change request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeRequestEvent {
    /// The last required approval arrived.
    ApprovalsComplete,
    /// An admin applies it without approvals.
    BreakGlass,
    Reject,
    Expire,
    Cancel,
    /// The live split no longer is the request's `before` (checked again right before applying).
    FoundStale,
    Applied,
    ApplyFailed,
}

impl ChangeRequestState {
    pub const ALL: [Self; 8] = [
        Self::Pending,
        Self::Approved,
        Self::Applied,
        Self::Failed,
        Self::Rejected,
        Self::Expired,
        Self::Stale,
        Self::Cancelled,
    ];

    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Applied => "applied",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Stale => "stale",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Pending and approved requests are open; every other state is final.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Approved)
    }

    /// The state `event` leads to; `None` when it can't happen now.
    pub fn next(self, event: ChangeRequestEvent) -> Option<Self> {
        use ChangeRequestEvent as E;
        use ChangeRequestState as S;
        Some(match (self, event) {
            (S::Pending, E::ApprovalsComplete | E::BreakGlass) => S::Approved,
            (S::Pending, E::Reject) => S::Rejected,
            (S::Pending, E::Expire) => S::Expired,
            (S::Pending, E::Cancel) => S::Cancelled,
            (S::Pending | S::Approved, E::FoundStale) => S::Stale,
            (S::Approved, E::Applied) => S::Applied,
            (S::Approved, E::ApplyFailed) => S::Failed,
            _ => return None,
        })
    }
}

impl fmt::Display for ChangeRequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows: `ChangeRequestState::ALL`; columns: approvals_complete, break_glass, reject, expire,
    /// cancel, found_stale, applied, apply_failed. `None`: refused.
    #[test]
    fn every_change_request_transition_matches_the_table_refused_ones_included() {
        use ChangeRequestEvent as E;
        use ChangeRequestState as S;
        const EVENTS: [E; 8] = [
            E::ApprovalsComplete,
            E::BreakGlass,
            E::Reject,
            E::Expire,
            E::Cancel,
            E::FoundStale,
            E::Applied,
            E::ApplyFailed,
        ];
        const N: Option<S> = None;
        #[rustfmt::skip]
        let table: [[Option<S>; 8]; 8] = [
            /* pending */   [Some(S::Approved), Some(S::Approved), Some(S::Rejected), Some(S::Expired), Some(S::Cancelled), Some(S::Stale), N, N],
            /* approved */  [N, N, N, N, N, Some(S::Stale), Some(S::Applied), Some(S::Failed)],
            /* applied */   [N; 8],
            /* failed */    [N; 8],
            /* rejected */  [N; 8],
            /* expired */   [N; 8],
            /* stale */     [N; 8],
            /* cancelled */ [N; 8],
        ];
        for (row, state) in S::ALL.into_iter().enumerate() {
            for (column, event) in EVENTS.into_iter().enumerate() {
                assert_eq!(state.next(event), table[row][column], "{state} + {event:?}");
            }
            assert_eq!(state.is_open(), matches!(state, S::Pending | S::Approved));
            assert_eq!(S::parse(state.as_str()), Some(state));
        }
    }
}
