//! The raw samples of one deployment's traffic, recorded without a lock: a fixed ring of
//! slots, each a small seqlock of atomics. The scoring path claims the next slot with one
//! atomic addition and writes three words; readers (gates, the console's metrics) copy what
//! was written in full and skip what is being written. Memory grows in chunks as the ring
//! fills, so an endpoint that serves little costs little, and never beyond the capacity.
//!
//! A writer that finds its slot still being written (another writer a whole lap ahead, which
//! the single scoring thread never is) drops its sample rather than wait: the counters still
//! count the request, and a sample is never torn.

use super::ring::KEEP_MS;
use shared::gates::RequestSample;
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// Slots allocated at a time (96 KiB).
const CHUNK: usize = 4096;
/// Bits of a packed word that hold the latency in nanoseconds (78 hours); the rest the status.
const LATENCY_BITS: u32 = 48;
const LATENCY_MASK: u64 = (1 << LATENCY_BITS) - 1;

/// A run of slots, allocated on its first sample.
type Chunk = OnceLock<Box<[Slot]>>;

/// One sample's place in the ring.
#[derive(Debug, Default)]
struct Slot {
    /// `2n + 1` while sample `n` is being written, `2n + 2` once it is written in full,
    /// 0 before the slot's first sample.
    stamp: AtomicU64,
    /// Milliseconds since the Unix epoch (an `i64`'s bits).
    at_ms: AtomicU64,
    /// The status above [`LATENCY_BITS`], the latency in nanoseconds below.
    packed: AtomicU64,
}

/// The last `capacity` samples of one kind of traffic, oldest overwritten first.
#[derive(Debug)]
pub struct SampleRing {
    chunks: Box<[Chunk]>,
    capacity: u64,
    /// How many samples were ever claimed: the next sample's number.
    next: AtomicU64,
}

impl SampleRing {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            chunks: (0..capacity.div_ceil(CHUNK))
                .map(|_| OnceLock::new())
                .collect(),
            capacity: capacity as u64,
            next: AtomicU64::new(0),
        }
    }

    /// Where sample `n` lives: its chunk, its index in the chunk, and that chunk's length.
    fn position(&self, n: u64) -> Option<(&Chunk, usize, usize)> {
        let index = usize::try_from(n % self.capacity).ok()?;
        let chunk = self.chunks.get(index / CHUNK)?;
        let first = index - index % CHUNK;
        let len = CHUNK.min(usize::try_from(self.capacity).ok()? - first);
        Some((chunk, index % CHUNK, len))
    }

    /// The slot of sample `n`, allocated with its chunk on first use.
    fn slot(&self, n: u64) -> Option<&Slot> {
        let (chunk, offset, len) = self.position(n)?;
        chunk
            .get_or_init(|| (0..len).map(|_| Slot::default()).collect())
            .get(offset)
    }

    /// Records a request answered at `at_ms` with `status` after `latency`.
    pub fn push(&self, at_ms: i64, status: u16, latency: Duration) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = self.slot(n) else { return };
        let writing = 2 * n + 1;
        let mut current = slot.stamp.load(Ordering::Relaxed);
        loop {
            // Odd: another writer is in the slot; at or past `writing`: a newer sample is.
            if current % 2 == 1 || current >= writing {
                return;
            }
            match slot.stamp.compare_exchange_weak(
                current,
                writing,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => current = now,
            }
        }
        // The odd stamp is visible before any word of the new sample.
        fence(Ordering::Release);
        let nanos = u64::try_from(latency.as_nanos()).map_or(LATENCY_MASK, |n| n.min(LATENCY_MASK));
        slot.at_ms.store(at_ms as u64, Ordering::Relaxed);
        slot.packed
            .store(u64::from(status) << LATENCY_BITS | nanos, Ordering::Relaxed);
        slot.stamp.store(writing + 1, Ordering::Release);
    }

    /// The samples of `[start_ms, end_ms)` still in the ring and at most [`KEEP_MS`] older
    /// than `now_ms`, oldest first.
    pub fn window(&self, start_ms: i64, end_ms: i64, now_ms: i64) -> Vec<RequestSample> {
        let start_ms = start_ms.max(now_ms - KEEP_MS);
        let end = self.next.load(Ordering::Acquire);
        let mut samples: Vec<RequestSample> = (end.saturating_sub(self.capacity)..end)
            .filter_map(|n| self.read(n))
            .filter(|sample| (start_ms..end_ms).contains(&sample.at_ms))
            .collect();
        // Writers on several threads may finish out of order; the clock may step back.
        samples.sort_by_key(|sample| sample.at_ms);
        samples
    }

    /// Sample `n`, if it is in its slot, written in full.
    fn read(&self, n: u64) -> Option<RequestSample> {
        let (chunk, offset, _) = self.position(n)?;
        let slot = chunk.get()?.get(offset)?;
        let written = 2 * n + 2;
        if slot.stamp.load(Ordering::Acquire) != written {
            return None;
        }
        let at_ms = slot.at_ms.load(Ordering::Relaxed) as i64;
        let packed = slot.packed.load(Ordering::Relaxed);
        // The words are read before the stamp is read again.
        fence(Ordering::Acquire);
        if slot.stamp.load(Ordering::Relaxed) != written {
            return None;
        }
        Some(RequestSample {
            at_ms,
            status: (packed >> LATENCY_BITS) as u16,
            latency_ms: (packed & LATENCY_MASK) as f64 / 1e6,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const NOW: i64 = 100 * KEEP_MS;

    #[test]
    fn samples_come_back_as_written_oldest_first() {
        let ring = SampleRing::new(10);
        ring.push(NOW + 2, 424, Duration::from_micros(7_250));
        ring.push(NOW + 1, 200, Duration::from_millis(3));
        let samples = ring.window(0, i64::MAX, NOW);
        assert_eq!(samples.len(), 2);
        assert_eq!((samples[0].at_ms, samples[0].status), (NOW + 1, 200));
        assert_eq!((samples[1].at_ms, samples[1].status), (NOW + 2, 424));
        assert!((samples[1].latency_ms - 7.25).abs() < 1e-9, "{samples:?}");
        assert_eq!(
            ring.window(NOW + 2, NOW + 3, NOW).len(),
            1,
            "start inclusive"
        );
        assert!(
            ring.window(NOW + 1, NOW + 2, NOW).len() == 1,
            "end exclusive"
        );
    }

    #[test]
    fn a_full_ring_keeps_the_newest_and_forgets_the_hour_before() {
        let ring = SampleRing::new(CHUNK + 3);
        for i in 0..(2 * CHUNK as i64 + 10) {
            ring.push(NOW + i, 200, Duration::from_millis(1));
        }
        let kept = ring.window(0, i64::MAX, NOW);
        assert_eq!(kept.len(), CHUNK + 3);
        assert_eq!(kept[0].at_ms, NOW + CHUNK as i64 + 7);
        assert_eq!(kept[CHUNK + 2].at_ms, NOW + 2 * CHUNK as i64 + 9);
        let an_hour_on = NOW + 2 * CHUNK as i64 + 9 + KEEP_MS;
        assert_eq!(
            ring.window(0, i64::MAX, an_hour_on).len(),
            1,
            "only the last is in the hour"
        );
    }

    #[test]
    fn memory_grows_in_chunks_as_the_ring_fills() {
        let ring = SampleRing::new(10 * CHUNK);
        ring.push(NOW, 200, Duration::ZERO);
        let allocated = ring.chunks.iter().filter(|c| c.get().is_some()).count();
        assert_eq!(allocated, 1);
    }

    #[test]
    fn writers_on_many_threads_lose_nothing_below_the_capacity() {
        let ring = Arc::new(SampleRing::new(40_000));
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let ring = Arc::clone(&ring);
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        ring.push(NOW + i, 200 + t, Duration::from_nanos(i as u64));
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().expect("a writer panicked");
        }
        let samples = ring.window(0, i64::MAX, NOW);
        assert_eq!(samples.len(), 40_000);
        for t in 0..4u16 {
            let mine: Vec<_> = samples.iter().filter(|s| s.status == 200 + t).collect();
            assert_eq!(mine.len(), 10_000, "thread {t}");
            assert!(mine
                .iter()
                .all(|s| (s.latency_ms * 1e6).round() as i64 == s.at_ms - NOW));
        }
    }
}
