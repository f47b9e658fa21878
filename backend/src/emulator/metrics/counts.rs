//! One deployment's running counters, in atomics: the scoring path records a request with a
//! few relaxed additions and takes no lock; readers add them up into [`TrafficCounts`].

use super::{ComparisonCounts, DeploymentCounts, TrafficCounts};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Statuses counted one by one: 100 to 599.
const FIRST_STATUS: u16 = 100;
const STATUSES: usize = 500;

/// The counters of one kind of traffic (live or mirrored).
#[derive(Debug)]
pub(super) struct TrafficCounters {
    requests: AtomicU64,
    errors: AtomicU64,
    latency_sum_ns: AtomicU64,
    /// By status, from [`FIRST_STATUS`].
    statuses: Box<[AtomicU64]>,
}

impl Default for TrafficCounters {
    fn default() -> Self {
        Self {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency_sum_ns: AtomicU64::new(0),
            statuses: (0..STATUSES).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl TrafficCounters {
    pub(super) fn record(&self, status: u16, latency: Duration) {
        self.requests.fetch_add(1, Relaxed);
        if status >= 400 {
            self.errors.fetch_add(1, Relaxed);
        }
        if let Some(slot) = status
            .checked_sub(FIRST_STATUS)
            .and_then(|i| self.statuses.get(usize::from(i)))
        {
            slot.fetch_add(1, Relaxed);
        }
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_ns.fetch_add(nanos, Relaxed);
    }

    pub(super) fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }

    fn read(&self) -> TrafficCounts {
        TrafficCounts {
            requests: self.requests.load(Relaxed),
            errors: self.errors.load(Relaxed),
            statuses: self
                .statuses
                .iter()
                .zip(FIRST_STATUS..)
                .filter_map(|(count, status)| {
                    let count = count.load(Relaxed);
                    (count > 0).then_some((status, count))
                })
                .collect(),
            latency_sum_ms: self.latency_sum_ns.load(Relaxed) as f64 / 1e6,
        }
    }
}

/// Every counter of one deployment.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub live: TrafficCounters,
    pub mirrored: TrafficCounters,
    pub equal: AtomicU64,
    pub differ: AtomicU64,
}

impl Counters {
    /// True once anything was counted.
    pub(super) fn any(&self) -> bool {
        self.live.requests()
            + self.mirrored.requests()
            + self.equal.load(Relaxed)
            + self.differ.load(Relaxed)
            > 0
    }

    pub(super) fn read(&self) -> DeploymentCounts {
        DeploymentCounts {
            live: self.live.read(),
            mirrored: self.mirrored.read(),
            comparison: ComparisonCounts {
                equal: self.equal.load(Relaxed),
                differ: self.differ.load(Relaxed),
            },
        }
    }
}
