//! What an endpoint's traffic did, kept so a window of it can be judged: every answered
//! request of the last hour per deployment and traffic kind (live or mirrored), raw, so
//! percentiles and tests run on the requests themselves; each mirrored request's two answers
//! (live and mirror) to compare predictions; and running counters for Prometheus.
//!
//! Memory is bounded: [`MAX_SAMPLES_PER_RING`] samples per deployment and traffic kind (a
//! slot of [`samples::SampleRing`] is 24 bytes, so at most ~2.3 MiB per ring, allocated as it
//! fills), and [`MAX_PAIRS`] answer pairs or [`MAX_PAIR_BYTES`] of bodies per endpoint,
//! whichever is reached first. Anything older than [`ring::KEEP_MS`] (an hour) is dropped.

pub mod counts;
pub mod prometheus;
pub mod ring;
pub mod samples;

use crate::emulator::locks::{lock, read, write};
use counts::Counters;
use ring::TimeRing;
use samples::SampleRing;
use serde::Serialize;
use shared::gates::predictions::{answer, compare, NumberTolerance};
use shared::gates::window::MAX_ANSWER_BYTES;
use shared::gates::{AnswerPair, DeploymentSamples, TrafficSamples, WindowSamples};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub use prometheus::PROMETHEUS_HEADER;

/// Raw samples kept per deployment and traffic kind: an hour at ~28 requests a second.
pub const MAX_SAMPLES_PER_RING: usize = 100_000;
/// Mirrored answer pairs kept per endpoint.
pub const MAX_PAIRS: usize = 5_000;
/// Bytes of answer bodies kept per endpoint (each body is cut at `MAX_ANSWER_BYTES`).
pub const MAX_PAIR_BYTES: usize = 16 * 1024 * 1024;
/// Characters kept of a mirrored request's body beside its answers; a longer one is cut and
/// ends in `…`. Requests carry callers' data: a sample shows its shape, not all of it.
pub const MAX_SAMPLE_CHARS: usize = 200;

/// Running counts for one kind of traffic (live or mirrored) to one deployment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrafficCounts {
    pub requests: u64,
    pub errors: u64,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    pub latency_sum_ms: f64,
}

/// How mirrored answers compared with the live answer to the same request, structurally
/// (numbers within the default tolerance of `shared::gates::predictions`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ComparisonCounts {
    pub equal: u64,
    pub differ: u64,
}

/// One deployment's running counts since the workspace started.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeploymentCounts {
    pub live: TrafficCounts,
    pub mirrored: TrafficCounts,
    pub comparison: ComparisonCounts,
}

/// What one deployment's traffic did. The scoring path keeps one per deployment in its routing
/// snapshot and records into it directly, without a lock: counters are atomics, and raw
/// samples go into lock-free rings.
#[derive(Debug)]
pub struct DeploymentMetrics {
    counters: Counters,
    live: SampleRing,
    mirrored: SampleRing,
}

impl Default for DeploymentMetrics {
    fn default() -> Self {
        Self {
            counters: Counters::default(),
            live: SampleRing::new(MAX_SAMPLES_PER_RING),
            mirrored: SampleRing::new(MAX_SAMPLES_PER_RING),
        }
    }
}

impl DeploymentMetrics {
    /// A request answered by this deployment for the client.
    pub fn record_live(&self, status: u16, latency: Duration) {
        self.counters.live.record(status, latency);
        self.sample(false, status, latency);
    }

    /// A mirrored copy answered by this deployment (its answer went nowhere).
    pub fn record_mirrored(&self, status: u16, latency: Duration) {
        self.counters.mirrored.record(status, latency);
        self.sample(true, status, latency);
    }

    fn sample(&self, mirrored: bool, status: u16, latency: Duration) {
        let ring = if mirrored { &self.mirrored } else { &self.live };
        ring.push(now_ms(), status, latency);
    }

    /// True once it served a request, live or mirrored.
    fn served(&self) -> bool {
        self.counters.live.requests() + self.counters.mirrored.requests() > 0
    }
}

/// Everything recorded of one endpoint's traffic.
#[derive(Debug)]
pub struct EndpointMetrics {
    deployments: RwLock<BTreeMap<String, Arc<DeploymentMetrics>>>,
    pairs: Mutex<TimeRing<AnswerPair>>,
}

impl Default for EndpointMetrics {
    fn default() -> Self {
        Self {
            deployments: RwLock::default(),
            pairs: Mutex::new(TimeRing::new(MAX_PAIRS, MAX_PAIR_BYTES)),
        }
    }
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl EndpointMetrics {
    /// The metrics of `deployment`, made on first use. Counted in [`Self::snapshot`] and
    /// [`Self::window`] once it has recorded something.
    pub fn deployment(&self, deployment: &str) -> Arc<DeploymentMetrics> {
        if let Some(metrics) = read(&self.deployments).get(deployment) {
            return Arc::clone(metrics);
        }
        Arc::clone(
            write(&self.deployments)
                .entry(deployment.to_owned())
                .or_default(),
        )
    }

    /// A request answered by `deployment` for the client.
    pub fn record_live(&self, deployment: &str, status: u16, latency: Duration) {
        self.deployment(deployment).record_live(status, latency);
    }

    /// A mirrored copy answered by `deployment` (its answer went nowhere).
    pub fn record_mirrored(&self, deployment: &str, status: u16, latency: Duration) {
        self.deployment(deployment).record_mirrored(status, latency);
    }

    /// A mirrored request's two answers: `live` from `live_deployment` (what the client got)
    /// and `mirrored` from `mirror_deployment`. Counted as equal or differing (structurally)
    /// and kept, cut, for a window's prediction diff.
    pub fn record_pair(
        &self,
        live_deployment: &str,
        mirror_deployment: &str,
        request: &[u8],
        live: &[u8],
        mirrored: &[u8],
    ) {
        // Parsed outside the lock: the scoring path never waits on a comparison.
        let (live, mirrored) = (cut(live), cut(mirrored));
        let agree = compare(
            &answer(&live),
            &answer(&mirrored),
            NumberTolerance::default(),
        )
        .agree;
        let counters = &self.deployment(mirror_deployment).counters;
        let outcome = if agree {
            &counters.equal
        } else {
            &counters.differ
        };
        outcome.fetch_add(1, Ordering::Relaxed);
        let at_ms = now_ms();
        let pair = AnswerPair {
            at_ms,
            live_deployment: live_deployment.to_owned(),
            mirror_deployment: mirror_deployment.to_owned(),
            live,
            mirrored,
            request: excerpt(request),
        };
        lock(&self.pairs).push(pair, at_ms);
    }

    /// Running counts per deployment since the workspace started.
    pub fn snapshot(&self) -> BTreeMap<String, DeploymentCounts> {
        read(&self.deployments)
            .iter()
            .filter(|(_, metrics)| metrics.counters.any())
            .map(|(name, metrics)| (name.clone(), metrics.counters.read()))
            .collect()
    }

    /// The raw samples and answer pairs of `[start_ms, end_ms)`, for every deployment that
    /// served traffic since the workspace started (those with none in the window get empty
    /// samples).
    pub fn window(&self, start_ms: i64, end_ms: i64) -> WindowSamples {
        let now = now_ms();
        let deployments = read(&self.deployments)
            .iter()
            .filter(|(_, metrics)| metrics.served())
            .map(|(name, metrics)| {
                let samples = DeploymentSamples {
                    live: TrafficSamples::PerRequest(metrics.live.window(start_ms, end_ms, now)),
                    mirrored: TrafficSamples::PerRequest(
                        metrics.mirrored.window(start_ms, end_ms, now),
                    ),
                };
                (name.clone(), samples)
            })
            .collect();
        WindowSamples {
            start_ms,
            end_ms,
            deployments,
            pairs: Some(lock(&self.pairs).window(start_ms, end_ms)),
        }
    }

    /// Appends this endpoint's counters in Prometheus' text format.
    pub fn write_prometheus(&self, endpoint: &str, out: &mut String) {
        prometheus::write(endpoint, &self.snapshot(), out);
    }
}

/// The first [`MAX_ANSWER_BYTES`] of an answer as text (never splitting a character).
fn cut(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= MAX_ANSWER_BYTES {
        return text.into_owned();
    }
    let mut end = MAX_ANSWER_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The first [`MAX_SAMPLE_CHARS`] characters of `bytes` as text, with `…` when cut.
fn excerpt(bytes: &[u8]) -> String {
    // Each character is at most 4 bytes, so this many bytes hold enough whole characters.
    let head = &bytes[..bytes.len().min(4 * MAX_SAMPLE_CHARS)];
    let text = String::from_utf8_lossy(head);
    let mut chars = text.chars();
    let mut kept: String = chars.by_ref().take(MAX_SAMPLE_CHARS).collect();
    if chars.next().is_some() || head.len() < bytes.len() {
        kept.push('…');
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::gates::RequestSample;

    fn per_request(samples: &TrafficSamples) -> &[RequestSample] {
        match samples {
            TrafficSamples::PerRequest(samples) => samples,
            TrafficSamples::PerMinute(_) => &[],
        }
    }

    #[test]
    fn live_and_mirrored_traffic_are_kept_apart() {
        let metrics = EndpointMetrics::default();
        metrics.record_live("blue", 200, Duration::from_millis(3));
        metrics.record_live("blue", 424, Duration::from_millis(7));
        metrics.record_mirrored("green", 200, Duration::from_millis(30));
        let counts = metrics.snapshot();
        assert_eq!(counts["blue"].live.requests, 2);
        assert_eq!(counts["blue"].live.errors, 1);
        assert_eq!(counts["blue"].mirrored.requests, 0);
        assert_eq!(counts["green"].mirrored.requests, 1);
        let window = metrics.window(0, i64::MAX);
        let blue = per_request(&window.deployments["blue"].live);
        assert_eq!(blue.len(), 2);
        assert_eq!(blue[1].status, 424);
        assert!((blue[1].latency_ms - 7.0).abs() < 0.5, "{blue:?}");
        assert!(per_request(&window.deployments["green"].live).is_empty());
        assert_eq!(per_request(&window.deployments["green"].mirrored).len(), 1);
        assert!(metrics.window(0, 1).deployments["blue"].live == TrafficSamples::default());
    }

    #[test]
    fn a_full_ring_stays_at_its_cap() {
        let metrics = EndpointMetrics::default();
        let started = std::time::Instant::now();
        let n = MAX_SAMPLES_PER_RING + 1_000;
        for _ in 0..n {
            metrics.record_live("blue", 200, Duration::from_millis(3));
        }
        let each = started.elapsed() / n as u32;
        let window = metrics.window(0, i64::MAX);
        assert_eq!(
            per_request(&window.deployments["blue"].live).len(),
            MAX_SAMPLES_PER_RING
        );
        assert_eq!(
            metrics.snapshot()["blue"].live.requests,
            n as u64,
            "counters count all"
        );
        // Not a timed assertion: the number is printed for the record (`--nocapture`).
        println!(
            "{n} samples recorded, {each:?} each; a sample is {} bytes in its ring",
            3 * std::mem::size_of::<u64>()
        );
    }

    #[test]
    fn mirrored_answers_are_compared_structurally_and_kept_as_pairs() {
        let metrics = EndpointMetrics::default();
        metrics.record_pair("blue", "green", b"{}", b"[1.0]", b"[1]");
        metrics.record_pair("blue", "green", b"{}", b"[1]", b"[2]");
        let counts = &metrics.snapshot()["green"].comparison;
        assert_eq!((counts.equal, counts.differ), (1, 1), "1.0 and 1 agree");
        let pairs = metrics.window(0, i64::MAX).pairs.unwrap_or_default();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[1].live_deployment, "blue");
        assert_eq!(pairs[1].mirror_deployment, "green");
        assert_eq!(
            (pairs[1].live.as_str(), pairs[1].mirrored.as_str()),
            ("[1]", "[2]")
        );
    }

    #[test]
    fn pairs_keep_only_the_start_of_long_bodies() {
        let metrics = EndpointMetrics::default();
        let long = format!("{{\"note\": \"{}\"}}", "é".repeat(MAX_ANSWER_BYTES));
        metrics.record_pair("blue", "green", long.as_bytes(), b"[1]", long.as_bytes());
        let pairs = metrics.window(0, i64::MAX).pairs.unwrap_or_default();
        let pair = &pairs[0];
        assert_eq!(pair.request.chars().count(), MAX_SAMPLE_CHARS + 1);
        assert!(pair.request.ends_with('…') && pair.request.starts_with("{\"note\": \"éé"));
        assert!(pair.mirrored.len() <= MAX_ANSWER_BYTES && pair.mirrored.len() > 1000);
        assert_eq!(pair.live, "[1]", "short answers are kept whole");
        let exact = "x".repeat(MAX_SAMPLE_CHARS);
        assert_eq!(excerpt(exact.as_bytes()), exact, "nothing cut, no mark");
    }

    #[test]
    fn prometheus_text_has_counts_and_latency_sums() {
        let metrics = EndpointMetrics::default();
        metrics.record_live("blue", 200, Duration::from_millis(3));
        metrics.record_live("blue", 200, Duration::from_millis(30));
        let mut text = String::new();
        metrics.write_prometheus("ep", &mut text);
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .map(str::to_owned)
                .unwrap_or_default()
        };
        assert!(line("greenlight_scoring_requests_total{endpoint=\"ep\",deployment=\"blue\",traffic=\"live\",status=\"200\"}").ends_with(" 2"));
        assert!(line("greenlight_scoring_latency_ms_count{endpoint=\"ep\",deployment=\"blue\",traffic=\"live\"}").ends_with(" 2"));
        let sum = line("greenlight_scoring_latency_ms_sum{endpoint=\"ep\",deployment=\"blue\",traffic=\"live\"}");
        let value: f64 = sum
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        assert!((value - 33.0).abs() < 1.0, "{sum}");
    }
}
