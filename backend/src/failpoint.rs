//! Crash points for the crash tests. With `GREENLIGHT_FAILPOINT` naming one or more points
//! (comma-separated), the process aborts the first time it reaches one of them: no destructors,
//! no graceful stop, as `kill -9` would end it. Unset (always, outside those tests), reaching a
//! point costs one cached lookup.
//!
//! The points, and how often a rollout reaches each. A test that restarts the server with the
//! same points after every crash needs no counter: each point is reached once per step or per
//! write, and a restarted process carries on past it without reaching it again.
//! - `rollout-step-end`: right after a rollout step's end is committed; once per step.
//! - `operation-write-done`: in `OperationRunner::run`, once the workspace has answered a
//!   write (and its progress is stored) but before the operation's end is; once per write, as
//!   only the process that issued the write reaches it (the process that takes the operation
//!   up afterwards follows it in the workspace and has no crash point).
//! - `rollout-operation`, `change-request-operation`: 700 ms after a rollout step or an approved
//!   change request started its workspace write, so that a slow write (a deploy) dies while
//!   the workspace is still at it. Whichever of this and `operation-write-done` comes first
//!   ends the life, so with both configured each write ends exactly one life mid-operation.

use std::time::Duration;

fn configured() -> &'static [String] {
    static POINTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    POINTS.get_or_init(|| {
        std::env::var("GREENLIGHT_FAILPOINT")
            .map(|v| v.split(',').map(|p| p.trim().to_owned()).collect())
            .unwrap_or_default()
    })
}

/// Aborts the process now if `point` is configured.
pub fn hit(point: &str) {
    hit_after(point, Duration::ZERO);
}

/// Aborts the process `delay` from now if `point` is configured (so that work just started,
/// such as a workspace call, is under way when the process dies).
pub fn hit_after(point: &str, delay: Duration) {
    if !configured().iter().any(|p| p == point) {
        return;
    }
    let point = point.to_owned();
    let die = move || {
        std::thread::sleep(delay);
        eprintln!("failpoint {point}: aborting");
        std::process::abort();
    };
    if delay.is_zero() {
        die();
    } else {
        std::thread::spawn(die);
    }
}
