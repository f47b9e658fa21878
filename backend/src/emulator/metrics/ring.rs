//! A time-pruned ring: what happened in the last [`KEEP_MS`], oldest first, bounded by a count
//! and a byte budget so a busy endpoint's memory stays flat however long it runs.

use shared::api::metrics::MAX_METRICS_MINUTES;
use shared::gates::AnswerPair;
use std::collections::VecDeque;

/// How long samples are kept: the longest window the backend asks for.
pub const KEEP_MS: i64 = MAX_METRICS_MINUTES as i64 * 60_000;

/// What a ring holds: something that happened at a time, with a size worth counting.
pub trait Stamped: Clone {
    fn at_ms(&self) -> i64;
    /// Keeps the ring sorted when the clock steps back (a sample is never older than the last).
    fn set_at_ms(&mut self, at_ms: i64);
    /// Heap bytes beyond the struct itself (answer bodies), counted against the byte budget.
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl Stamped for AnswerPair {
    fn at_ms(&self) -> i64 {
        self.at_ms
    }
    fn set_at_ms(&mut self, at_ms: i64) {
        self.at_ms = at_ms;
    }
    fn heap_bytes(&self) -> usize {
        self.live.len()
            + self.mirrored.len()
            + self.request.len()
            + self.live_deployment.len()
            + self.mirror_deployment.len()
    }
}

/// The items of the last [`KEEP_MS`], at most `max_items` and `max_bytes` of heap; the oldest
/// go first when either bound is reached.
#[derive(Debug, Clone)]
pub struct TimeRing<T> {
    items: VecDeque<T>,
    max_items: usize,
    max_bytes: usize,
    bytes: usize,
}

impl<T: Stamped> TimeRing<T> {
    pub fn new(max_items: usize, max_bytes: usize) -> Self {
        Self {
            items: VecDeque::new(),
            max_items: max_items.max(1),
            max_bytes,
            bytes: 0,
        }
    }

    /// Adds `item`, recorded at `now_ms`, and drops what fell out of the bounds.
    pub fn push(&mut self, mut item: T, now_ms: i64) {
        if let Some(last) = self.items.back() {
            if item.at_ms() < last.at_ms() {
                item.set_at_ms(last.at_ms());
            }
        }
        self.bytes += item.heap_bytes();
        self.items.push_back(item);
        let oldest_kept = now_ms - KEEP_MS;
        while self.items.len() > self.max_items
            || self.bytes > self.max_bytes
            || self.items.front().is_some_and(|i| i.at_ms() < oldest_kept)
        {
            match self.items.pop_front() {
                Some(dropped) => self.bytes -= dropped.heap_bytes(),
                None => break,
            }
        }
    }

    /// The items of `[start_ms, end_ms)`, oldest first.
    pub fn window(&self, start_ms: i64, end_ms: i64) -> Vec<T> {
        let from = self.items.partition_point(|i| i.at_ms() < start_ms);
        let to = self.items.partition_point(|i| i.at_ms() < end_ms);
        self.items.range(from..to.max(from)).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::gates::RequestSample;

    impl Stamped for RequestSample {
        fn at_ms(&self) -> i64 {
            self.at_ms
        }
        fn set_at_ms(&mut self, at_ms: i64) {
            self.at_ms = at_ms;
        }
    }

    fn sample(at_ms: i64) -> RequestSample {
        RequestSample {
            at_ms,
            status: 200,
            latency_ms: 1.0,
        }
    }

    #[test]
    fn old_samples_leave_and_the_count_is_capped() {
        let mut ring = TimeRing::new(3, usize::MAX);
        let now = 10 * KEEP_MS;
        ring.push(sample(now - KEEP_MS - 1), now);
        assert_eq!(ring.len(), 0, "older than the kept hour");
        for i in 0..5 {
            ring.push(sample(now + i), now + i);
        }
        assert_eq!(ring.len(), 3);
        let kept: Vec<i64> = ring.window(0, i64::MAX).iter().map(|s| s.at_ms).collect();
        assert_eq!(kept, vec![now + 2, now + 3, now + 4]);
        assert_eq!(ring.window(now + 3, now + 4).len(), 1, "end is exclusive");
    }

    #[test]
    fn a_clock_step_back_keeps_the_ring_sorted() {
        let mut ring = TimeRing::new(10, usize::MAX);
        ring.push(sample(1_000), 1_000);
        ring.push(sample(500), 1_000);
        let kept: Vec<i64> = ring.window(0, i64::MAX).iter().map(|s| s.at_ms).collect();
        assert_eq!(kept, vec![1_000, 1_000]);
    }

    #[test]
    fn answer_pairs_are_bounded_by_bytes() {
        let pair = |at_ms| AnswerPair {
            at_ms,
            live_deployment: String::new(),
            mirror_deployment: String::new(),
            live: "x".repeat(100),
            mirrored: "y".repeat(100),
            request: String::new(),
        };
        let mut ring = TimeRing::new(1_000, 450);
        for i in 0..5 {
            ring.push(pair(i), 0);
        }
        assert_eq!(ring.len(), 2, "two pairs of 200 bytes fit in 450");
    }
}
