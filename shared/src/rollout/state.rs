//! The state machines of a rollout and of each of its steps.
//!
//! A state changes only through [`RolloutState::next`] / [`StepState::next`]: the store reads the
//! state, asks for the next one, and writes it guarded by the state it read (`update … where
//! state = $old`), in the same transaction as the audit event. A late worker or a second click
//! therefore gets a refusal or a lost update guard, never a silently skipped transition. Every
//! (state, event) pair, refused ones included, is in the table test below.
//!
//! Decisions, and why:
//! - **Pause takes effect at a step boundary.** An effect already sent to the workspace still
//!   finishes and is recorded (`StepSucceeded` in `Paused` stays `Paused`; the last step's
//!   success ends the rollout `Succeeded`); no new step starts. Pausing while a step waits for
//!   approval cancels its change request, so a request is never applied while its rollout is
//!   paused; `Resume` runs the step again with a new request.
//! - **A rejection (or an expired or stale request) pauses the rollout.** The endpoint keeps the
//!   split it has; people decide: roll back (no approval needed), abort, or resume (ask again).
//!   A rejection of "shift to 100 %" does not mean green must go.
//! - **Abort and rollback both restore the known-good split** (the one before the rollout,
//!   mirror off), through the active states `Aborting` / `RollingBack`, so the executor carries
//!   the restore on after a crash. They differ in intent (abort: "stop"; rollback: "green is
//!   bad") and in where they are allowed: only rollback reopens a `Failed` rollout, which may have
//!   left the endpoint half-shifted. A rollout that has not started is aborted at once.
//! - **Green stays after abort or rollback**, at 0 %, for people to look at; removing it is a
//!   deletion, i.e. a change request of its own.
//! - **Every active state can fail**; a failed restore ends `Failed`, from which rollback is
//!   tried again.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: [$ty; [$($name),+].len()] = [$($ty::$variant),+];

            /// The stored and serialized name.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|s| s.as_str() == text)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// Created; the executor has not taken it up yet.
    Pending,
    /// The executor works on the current step.
    Running,
    /// The current step's change request waits for approvals.
    WaitingForApproval,
    /// Held by a person, a rejection or a lapsed request; no new step starts.
    Paused,
    /// Restoring the known-good split, then `Aborted`.
    Aborting,
    /// Restoring the known-good split, then `RolledBack`.
    RollingBack,
    Succeeded,
    Failed,
    Aborted,
    RolledBack,
}

names!(RolloutState {
    Pending => "pending",
    Running => "running",
    WaitingForApproval => "waiting_for_approval",
    Paused => "paused",
    Aborting => "aborting",
    RollingBack => "rolling_back",
    Succeeded => "succeeded",
    Failed => "failed",
    Aborted => "aborted",
    RolledBack => "rolled_back",
});

/// What happens to a rollout. People send `Pause`, `Resume`, `Abort` and `Rollback`; approvers
/// cause `Approved` / `Rejected`; the executor and the expiry sweeper send the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RolloutEvent {
    /// The executor takes a pending rollout up.
    Start,
    /// A step that was not the last succeeded.
    StepSucceeded,
    /// The last step succeeded.
    AllStepsSucceeded,
    /// The current step opened a change request.
    NeedsApproval,
    /// The current step's request got its last approval.
    Approved,
    Rejected,
    /// The current step's request expired or went stale.
    RequestLapsed,
    Pause,
    Resume,
    Abort,
    Rollback,
    /// The known-good split is back.
    Restored,
    Fail,
}

names!(RolloutEvent {
    Start => "start",
    StepSucceeded => "step_succeeded",
    AllStepsSucceeded => "all_steps_succeeded",
    NeedsApproval => "needs_approval",
    Approved => "approved",
    Rejected => "rejected",
    RequestLapsed => "request_lapsed",
    Pause => "pause",
    Resume => "resume",
    Abort => "abort",
    Rollback => "rollback",
    Restored => "restored",
    Fail => "fail",
});

impl RolloutEvent {
    /// Events a person sends through `POST /api/v1/rollouts/{id}/{action}` (operator and up).
    pub fn is_action(self) -> bool {
        matches!(
            self,
            Self::Pause | Self::Resume | Self::Abort | Self::Rollback
        )
    }

    /// Abort and rollback move live traffic without approval, so the audit log must say why.
    pub fn needs_reason(self) -> bool {
        matches!(self, Self::Abort | Self::Rollback)
    }
}

/// A transition the state machine does not have; the message says what state the object is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionRefused {
    pub state: &'static str,
    pub event: &'static str,
}

impl fmt::Display for TransitionRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "can't {} while {}", self.event, self.state)
    }
}

impl std::error::Error for TransitionRefused {}

impl RolloutState {
    /// The state `event` leads to, or why it can't happen now (a 409 for the API).
    pub fn next(self, event: RolloutEvent) -> Result<Self, TransitionRefused> {
        use RolloutEvent as E;
        use RolloutState as S;
        let next = match (self, event) {
            (S::Pending, E::Start) => S::Running,
            (S::Pending, E::Pause) => S::Paused,
            (S::Pending, E::Abort) => S::Aborted,
            (S::Running, E::StepSucceeded) => S::Running,
            (S::Running, E::NeedsApproval) => S::WaitingForApproval,
            (S::WaitingForApproval, E::Approved) => S::Running,
            (S::WaitingForApproval, E::Rejected | E::RequestLapsed) => S::Paused,
            (S::Running | S::WaitingForApproval, E::Pause) => S::Paused,
            (S::Paused, E::Resume) => S::Running,
            (S::Paused, E::StepSucceeded) => S::Paused,
            (S::Running | S::Paused, E::AllStepsSucceeded) => S::Succeeded,
            (S::Running | S::WaitingForApproval | S::Paused, E::Abort) => S::Aborting,
            (S::Running | S::WaitingForApproval | S::Paused | S::Failed, E::Rollback) => {
                S::RollingBack
            }
            (S::Aborting, E::Restored) => S::Aborted,
            (S::RollingBack, E::Restored) => S::RolledBack,
            (s, E::Fail) if s.is_active() => S::Failed,
            _ => {
                return Err(TransitionRefused {
                    state: self.as_str(),
                    event: event.as_str(),
                })
            }
        };
        Ok(next)
    }

    /// The active states, for the partial unique index `… where state in (…)`: a migration
    /// test can hold the index to this list.
    pub const ACTIVE: [RolloutState; 6] = [
        Self::Pending,
        Self::Running,
        Self::WaitingForApproval,
        Self::Paused,
        Self::Aborting,
        Self::RollingBack,
    ];

    /// At most one rollout per endpoint may be active (a partial unique index over these
    /// states): an active rollout owns the endpoint's traffic.
    pub fn is_active(self) -> bool {
        !self.is_terminal()
    }

    /// The executor never moves it on. Only `Failed` can be reopened, by a person's rollback.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Aborted | Self::RolledBack
        )
    }

    /// States the executor claims work in (`for update skip locked`); the others wait for a
    /// person (`Paused`, `WaitingForApproval`) or are over.
    pub fn is_due(self) -> bool {
        matches!(
            self,
            Self::Pending | Self::Running | Self::Aborting | Self::RollingBack
        )
    }
}

/// Where one step of a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Running,
    WaitingForApproval,
    Succeeded,
    Failed,
    /// Never ran to its end because the rollout ended first (abort, rollback, an earlier failure).
    Skipped,
}

names!(StepState {
    Pending => "pending",
    Running => "running",
    WaitingForApproval => "waiting_for_approval",
    Succeeded => "succeeded",
    Failed => "failed",
    Skipped => "skipped",
});

/// What happens to a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepEvent {
    Start,
    NeedsApproval,
    /// Its request is approved: the step runs again to apply the change.
    Approved,
    /// Its request was rejected: the step waits to be asked again (the rollout pauses).
    Rejected,
    /// Its request expired, went stale or was cancelled by a pause.
    RequestLapsed,
    Succeed,
    Fail,
    Skip,
    /// The workspace failed the step's change (Azure's operation ended Failed): nothing of it
    /// took effect, so the step waits to run afresh — a new request, a second person again —
    /// once someone resumes the rollout.
    Interrupt,
}

names!(StepEvent {
    Start => "start",
    NeedsApproval => "needs_approval",
    Approved => "approved",
    Rejected => "rejected",
    RequestLapsed => "request_lapsed",
    Succeed => "succeed",
    Fail => "fail",
    Skip => "skip",
    Interrupt => "interrupt",
});

impl StepState {
    /// The state `event` leads to, or why it can't happen now.
    pub fn next(self, event: StepEvent) -> Result<Self, TransitionRefused> {
        use StepEvent as E;
        use StepState as S;
        let next = match (self, event) {
            (S::Pending, E::Start) => S::Running,
            (S::Running, E::NeedsApproval) => S::WaitingForApproval,
            (S::Running, E::Succeed) => S::Succeeded,
            (S::WaitingForApproval, E::Approved) => S::Running,
            (S::WaitingForApproval, E::Rejected | E::RequestLapsed) => S::Pending,
            (S::Running | S::WaitingForApproval, E::Fail) => S::Failed,
            (S::Pending | S::Running | S::WaitingForApproval, E::Skip) => S::Skipped,
            (S::Running | S::WaitingForApproval, E::Interrupt) => S::Pending,
            _ => {
                return Err(TransitionRefused {
                    state: self.as_str(),
                    event: event.as_str(),
                })
            }
        };
        Ok(next)
    }

    /// No event moves it any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RolloutState as S;

    /// Rows: `RolloutState::ALL`; columns: `RolloutEvent::ALL` — start, step_succeeded,
    /// all_steps_succeeded, needs_approval, approved, rejected, request_lapsed, pause, resume,
    /// abort, rollback, restored, fail. `None`: refused.
    #[rustfmt::skip]
    const ROLLOUT_TABLE: [[Option<RolloutState>; 13]; 10] = {
        const N: Option<RolloutState> = None;
        const RUN: Option<RolloutState> = Some(S::Running);
        const WAIT: Option<RolloutState> = Some(S::WaitingForApproval);
        const PAUSE: Option<RolloutState> = Some(S::Paused);
        const ABORTING: Option<RolloutState> = Some(S::Aborting);
        const BACK: Option<RolloutState> = Some(S::RollingBack);
        const OK: Option<RolloutState> = Some(S::Succeeded);
        const FAIL: Option<RolloutState> = Some(S::Failed);
        const ABORTED: Option<RolloutState> = Some(S::Aborted);
        const BACKED: Option<RolloutState> = Some(S::RolledBack);
        [
            //  start step  all  need appr rej  laps paus resu abrt roll rest fail
            /* pending */
            [RUN, N,    N,   N,   N,   N,   N,   PAUSE, N,  ABORTED, N, N,  FAIL],
            /* running */
            [N,   RUN,  OK,  WAIT, N,  N,   N,   PAUSE, N,  ABORTING, BACK, N, FAIL],
            /* waiting_for_approval */
            [N,   N,    N,   N,   RUN, PAUSE, PAUSE, PAUSE, N, ABORTING, BACK, N, FAIL],
            /* paused */
            [N,   PAUSE, OK, N,   N,   N,   N,   N,   RUN, ABORTING, BACK, N, FAIL],
            /* aborting */
            [N,   N,    N,   N,   N,   N,   N,   N,   N,   N,   N,   ABORTED, FAIL],
            /* rolling_back */
            [N,   N,    N,   N,   N,   N,   N,   N,   N,   N,   N,   BACKED, FAIL],
            /* succeeded */
            [N,   N,    N,   N,   N,   N,   N,   N,   N,   N,   N,   N,   N],
            /* failed */
            [N,   N,    N,   N,   N,   N,   N,   N,   N,   N,   BACK, N,  N],
            /* aborted */
            [N,   N,    N,   N,   N,   N,   N,   N,   N,   N,   N,   N,   N],
            /* rolled_back */
            [N,   N,    N,   N,   N,   N,   N,   N,   N,   N,   N,   N,   N],
        ]
    };

    #[test]
    fn every_rollout_transition_matches_the_table_refused_ones_included() {
        for (row, state) in RolloutState::ALL.into_iter().enumerate() {
            for (column, event) in RolloutEvent::ALL.into_iter().enumerate() {
                let expected = ROLLOUT_TABLE[row][column];
                let got = state.next(event).ok();
                assert_eq!(got, expected, "{state} + {event}");
            }
        }
    }

    /// Rows: `StepState::ALL`; columns: `StepEvent::ALL` — start, needs_approval, approved,
    /// rejected, request_lapsed, succeed, fail, skip, interrupt.
    #[rustfmt::skip]
    const STEP_TABLE: [[Option<StepState>; 9]; 6] = {
        use StepState as T;
        const N: Option<StepState> = None;
        const RUN: Option<StepState> = Some(T::Running);
        const WAIT: Option<StepState> = Some(T::WaitingForApproval);
        const PEND: Option<StepState> = Some(T::Pending);
        const OK: Option<StepState> = Some(T::Succeeded);
        const FAIL: Option<StepState> = Some(T::Failed);
        const SKIP: Option<StepState> = Some(T::Skipped);
        [
            //  start need appr rej  laps succ fail skip  intr
            /* pending */              [RUN, N,    N,   N,    N,    N,  N,    SKIP, N],
            /* running */              [N,   WAIT, N,   N,    N,    OK, FAIL, SKIP, PEND],
            /* waiting_for_approval */ [N,   N,    RUN, PEND, PEND, N,  FAIL, SKIP, PEND],
            /* succeeded */            [N,   N,    N,   N,    N,    N,  N,    N,    N],
            /* failed */               [N,   N,    N,   N,    N,    N,  N,    N,    N],
            /* skipped */              [N,   N,    N,   N,    N,    N,  N,    N,    N],
        ]
    };

    #[test]
    fn every_step_transition_matches_the_table_refused_ones_included() {
        for (row, state) in StepState::ALL.into_iter().enumerate() {
            for (column, event) in StepEvent::ALL.into_iter().enumerate() {
                assert_eq!(
                    state.next(event).ok(),
                    STEP_TABLE[row][column],
                    "{state} + {event}"
                );
            }
        }
    }

    #[test]
    fn active_and_terminal_rollout_states_are_complementary() {
        let active: Vec<&str> = RolloutState::ALL
            .into_iter()
            .filter(|s| s.is_active())
            .map(RolloutState::as_str)
            .collect();
        assert_eq!(
            active,
            [
                "pending",
                "running",
                "waiting_for_approval",
                "paused",
                "aborting",
                "rolling_back"
            ]
        );
        assert_eq!(
            RolloutState::ACTIVE.map(RolloutState::as_str).as_slice(),
            active.as_slice()
        );
        for state in RolloutState::ALL {
            assert_ne!(state.is_active(), state.is_terminal(), "{state}");
            // The executor only claims active rollouts.
            assert!(!state.is_due() || state.is_active(), "{state}");
        }
    }

    #[test]
    fn only_a_rollback_reopens_a_terminal_rollout_and_only_a_failed_one() {
        for state in RolloutState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for event in RolloutEvent::ALL {
                let reopened = state.next(event).is_ok();
                assert_eq!(
                    reopened,
                    state == S::Failed && event == RolloutEvent::Rollback,
                    "{state} + {event}"
                );
            }
        }
    }

    #[test]
    fn a_refusal_names_the_state_and_the_event() {
        let refused = S::Succeeded.next(RolloutEvent::Pause).expect_err("over");
        assert_eq!(refused.to_string(), "can't pause while succeeded");
    }

    #[test]
    fn abort_and_rollback_need_a_reason_and_are_the_only_actions_with_pause_and_resume() {
        let actions: Vec<&str> = RolloutEvent::ALL
            .into_iter()
            .filter(|e| e.is_action())
            .map(RolloutEvent::as_str)
            .collect();
        assert_eq!(actions, ["pause", "resume", "abort", "rollback"]);
        let with_reason: Vec<&str> = RolloutEvent::ALL
            .into_iter()
            .filter(|e| e.needs_reason())
            .map(RolloutEvent::as_str)
            .collect();
        assert_eq!(with_reason, ["abort", "rollback"]);
    }

    #[test]
    fn state_names_round_trip_through_text_and_json() {
        for state in RolloutState::ALL {
            assert_eq!(RolloutState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).expect("serialize");
            assert_eq!(json, format!("\"{state}\""));
        }
        for state in StepState::ALL {
            assert_eq!(StepState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).expect("serialize");
            assert_eq!(json, format!("\"{state}\""));
        }
        for event in RolloutEvent::ALL {
            let json = serde_json::to_string(&event).expect("serialize");
            assert_eq!(json, format!("\"{event}\""));
        }
        for event in StepEvent::ALL {
            let json = serde_json::to_string(&event).expect("serialize");
            assert_eq!(json, format!("\"{event}\""));
        }
        assert_eq!(RolloutState::parse("done"), None);
    }
}
