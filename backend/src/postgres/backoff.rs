//! How long to wait before starting a private Postgres server that died again: 1 s, 2 s, 4 s …
//! at most [`MAX_RESTART_DELAY`], and back to 1 s once a restarted server ran for
//! [`STABLE_AFTER`] (a crash a day should not wait half a minute because of one last week).

use std::time::{Duration, Instant};

/// Longest wait between two restarts of a server that keeps dying.
pub const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);
const FIRST_DELAY: Duration = Duration::from_secs(1);
/// A server that ran this long since its last restart starts the count afresh.
const STABLE_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct RestartBackoff {
    next: Duration,
    restarted_at: Option<Instant>,
}

impl Default for RestartBackoff {
    fn default() -> Self {
        Self {
            next: FIRST_DELAY,
            restarted_at: None,
        }
    }
}

impl RestartBackoff {
    /// The server died at `now`: how long to wait before starting it again.
    pub fn delay(&mut self, now: Instant) -> Duration {
        if self
            .restarted_at
            .is_some_and(|at| now.saturating_duration_since(at) > STABLE_AFTER)
        {
            self.next = FIRST_DELAY;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(MAX_RESTART_DELAY);
        delay
    }

    /// The server was started again at `now`.
    pub fn restarted(&mut self, now: Instant) {
        self.restarted_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_that_keeps_dying_waits_twice_as_long_each_time_up_to_thirty_seconds() {
        let mut backoff = RestartBackoff::default();
        let start = Instant::now();
        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..8 {
            let wait = backoff.delay(now);
            waits.push(wait.as_secs());
            now += wait + Duration::from_secs(2);
            backoff.restarted(now);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn a_server_that_ran_a_minute_since_its_restart_starts_the_count_afresh() {
        let mut backoff = RestartBackoff::default();
        let start = Instant::now();
        assert_eq!(backoff.delay(start), Duration::from_secs(1));
        backoff.restarted(start + Duration::from_secs(1));
        assert_eq!(
            backoff.delay(start + Duration::from_secs(5)),
            Duration::from_secs(2)
        );
        backoff.restarted(start + Duration::from_secs(7));
        let much_later = start + Duration::from_secs(7) + STABLE_AFTER + Duration::from_secs(1);
        assert_eq!(backoff.delay(much_later), Duration::from_secs(1));
    }
}
