//! Per-deployment request metrics, live and mirrored traffic kept apart, so the console can
//! compare green with blue.

use crate::emulator::locks::lock;
use serde::Serialize;
use shared::api::metrics::{
    Comparison as ComparisonSummary, DeploymentMetricsSummary, DifferingSample, TrafficSummary,
};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (ms) of the latency histogram's buckets; the last bucket is unbounded.
const BUCKETS_MS: [f64; 14] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 60000.0,
];
/// Differing mirrored outputs kept as samples, per deployment (the latest ones).
pub const MAX_SAMPLES: usize = 5;
/// Characters kept of each part of a sample (request, live and mirrored answer); a longer one
/// is cut and ends in `…`. Requests carry callers' data: a sample shows its shape, not all of it.
pub const MAX_SAMPLE_CHARS: usize = 200;

/// Counts for one kind of traffic (live or mirrored) to one deployment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrafficStats {
    pub requests: u64,
    pub errors: u64,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Counts per bucket of `BUCKETS_MS` (plus one for slower requests).
    pub latency_buckets: Vec<u64>,
    pub latency_sum_ms: f64,
}

impl TrafficStats {
    fn record(&mut self, status: u16, latency: Duration) {
        if self.latency_buckets.is_empty() {
            self.latency_buckets = vec![0; BUCKETS_MS.len() + 1];
        }
        self.requests += 1;
        if status >= 400 {
            self.errors += 1;
        }
        *self.statuses.entry(status).or_default() += 1;
        let ms = latency.as_secs_f64() * 1000.0;
        self.latency_sum_ms += ms;
        let bucket = BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(BUCKETS_MS.len());
        self.latency_buckets[bucket] += 1;
    }

    /// The latency below which `q` (0–1) of requests finished: the upper bound of the bucket
    /// that holds that quantile, so an over-estimate by at most one bucket.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.requests == 0 {
            return None;
        }
        let target = (q * self.requests as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, count) in self.latency_buckets.iter().enumerate() {
            seen += count;
            if seen >= target {
                return Some(BUCKETS_MS.get(i).copied().unwrap_or(f64::INFINITY));
            }
        }
        None
    }
}

/// What mirrored requests showed compared with the live answer to the same request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Comparison {
    pub equal: u64,
    pub differ: u64,
    pub samples: VecDeque<DifferingSample>,
}

/// One deployment's metrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeploymentMetrics {
    pub live: TrafficStats,
    pub mirrored: TrafficStats,
    pub comparison: Comparison,
}

/// The metrics of all deployments of one endpoint.
#[derive(Debug, Default)]
pub struct EndpointMetrics {
    deployments: Mutex<BTreeMap<String, DeploymentMetrics>>,
}

impl EndpointMetrics {
    pub fn record_live(&self, deployment: &str, status: u16, latency: Duration) {
        self.with(deployment, |m| m.live.record(status, latency));
    }

    pub fn record_mirrored(&self, deployment: &str, status: u16, latency: Duration) {
        self.with(deployment, |m| m.mirrored.record(status, latency));
    }

    /// Records whether the mirror's output equalled the live output for the same request.
    pub fn record_comparison(&self, deployment: &str, request: &[u8], live: &[u8], mirror: &[u8]) {
        self.with(deployment, |m| {
            if live == mirror {
                m.comparison.equal += 1;
            } else {
                m.comparison.differ += 1;
                if m.comparison.samples.len() == MAX_SAMPLES {
                    m.comparison.samples.pop_front();
                }
                m.comparison.samples.push_back(DifferingSample {
                    request: excerpt(request),
                    live: excerpt(live),
                    mirror: excerpt(mirror),
                });
            }
        });
    }

    pub fn snapshot(&self) -> BTreeMap<String, DeploymentMetrics> {
        lock(&self.deployments).clone()
    }

    fn with(&self, deployment: &str, f: impl FnOnce(&mut DeploymentMetrics)) {
        let mut all = lock(&self.deployments);
        f(all.entry(deployment.to_owned()).or_default());
    }
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

impl From<&TrafficStats> for TrafficSummary {
    fn from(stats: &TrafficStats) -> Self {
        Self {
            requests: stats.requests,
            errors: stats.errors,
            statuses: stats.statuses.clone(),
            p50_ms: stats.quantile_ms(0.50),
            p95_ms: stats.quantile_ms(0.95),
            p99_ms: stats.quantile_ms(0.99),
            minutes: Vec::new(),
        }
    }
}

impl EndpointMetrics {
    pub fn summary(&self) -> BTreeMap<String, DeploymentMetricsSummary> {
        self.snapshot()
            .into_iter()
            .map(|(name, m)| {
                let summary = DeploymentMetricsSummary {
                    ready_instances: None,
                    live: TrafficSummary::from(&m.live),
                    mirrored: TrafficSummary::from(&m.mirrored),
                    comparison: ComparisonSummary {
                        equal: m.comparison.equal,
                        differ: m.comparison.differ,
                        samples: m.comparison.samples.into_iter().collect(),
                    },
                };
                (name, summary)
            })
            .collect()
    }

    /// Appends this endpoint's metrics in Prometheus' text format.
    pub fn write_prometheus(&self, endpoint: &str, out: &mut String) {
        use std::fmt::Write;
        for (deployment, m) in self.snapshot() {
            for (traffic, stats) in [("live", &m.live), ("mirror", &m.mirrored)] {
                let labels = format!(
                    "endpoint=\"{endpoint}\",deployment=\"{deployment}\",traffic=\"{traffic}\""
                );
                for (status, count) in &stats.statuses {
                    let _ = writeln!(
                        out,
                        "greenlight_scoring_requests_total{{{labels},status=\"{status}\"}} {count}"
                    );
                }
                let mut cumulative = 0;
                for (i, count) in stats.latency_buckets.iter().enumerate() {
                    cumulative += count;
                    let le = BUCKETS_MS
                        .get(i)
                        .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                    let _ = writeln!(
                        out,
                        "greenlight_scoring_latency_ms_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                    );
                }
                let _ = writeln!(
                    out,
                    "greenlight_scoring_latency_ms_sum{{{labels}}} {}",
                    stats.latency_sum_ms
                );
                let _ = writeln!(
                    out,
                    "greenlight_scoring_latency_ms_count{{{labels}}} {}",
                    stats.requests
                );
            }
            for (outcome, count) in [
                ("equal", m.comparison.equal),
                ("differ", m.comparison.differ),
            ] {
                let _ = writeln!(
                    out,
                    "greenlight_mirror_comparisons_total{{endpoint=\"{endpoint}\",deployment=\"{deployment}\",outcome=\"{outcome}\"}} {count}"
                );
            }
        }
    }
}

/// The `# HELP` and `# TYPE` lines of the metrics above.
pub const PROMETHEUS_HEADER: &str = "\
# HELP greenlight_scoring_requests_total Scoring requests answered, by deployment, traffic kind and status.
# TYPE greenlight_scoring_requests_total counter
# HELP greenlight_scoring_latency_ms Scoring latency in milliseconds as the router saw it.
# TYPE greenlight_scoring_latency_ms histogram
# HELP greenlight_mirror_comparisons_total Mirrored answers compared with the live answer to the same request.
# TYPE greenlight_mirror_comparisons_total counter
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_and_mirrored_traffic_are_counted_apart() {
        let metrics = EndpointMetrics::default();
        metrics.record_live("blue", 200, Duration::from_millis(3));
        metrics.record_live("blue", 424, Duration::from_millis(3));
        metrics.record_mirrored("green", 200, Duration::from_millis(30));
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot["blue"].live.requests, 2);
        assert_eq!(snapshot["blue"].live.errors, 1);
        assert_eq!(snapshot["blue"].mirrored.requests, 0);
        assert_eq!(snapshot["green"].mirrored.requests, 1);
        assert_eq!(snapshot["green"].live.requests, 0);
    }

    #[test]
    fn quantiles_come_from_the_histogram_buckets() {
        let mut stats = TrafficStats::default();
        for _ in 0..90 {
            stats.record(200, Duration::from_millis(4));
        }
        for _ in 0..10 {
            stats.record(200, Duration::from_millis(150));
        }
        assert_eq!(stats.quantile_ms(0.5), Some(5.0));
        assert_eq!(stats.quantile_ms(0.95), Some(200.0));
        assert_eq!(TrafficStats::default().quantile_ms(0.5), None);
    }

    #[test]
    fn prometheus_text_has_cumulative_buckets_and_counts() {
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
        assert!(line("greenlight_scoring_latency_ms_bucket{endpoint=\"ep\",deployment=\"blue\",traffic=\"live\",le=\"5\"}").ends_with(" 1"));
        assert!(line("greenlight_scoring_latency_ms_bucket{endpoint=\"ep\",deployment=\"blue\",traffic=\"live\",le=\"+Inf\"}").ends_with(" 2"));
        assert!(line("greenlight_scoring_latency_ms_count{endpoint=\"ep\",deployment=\"blue\",traffic=\"live\"}").ends_with(" 2"));
    }

    #[test]
    fn differing_mirror_outputs_keep_a_few_samples() {
        let metrics = EndpointMetrics::default();
        metrics.record_comparison("green", b"{}", b"[1]", b"[1]");
        for i in 0..10 {
            metrics.record_comparison("green", b"{}", b"[-1]", format!("[{i}]").as_bytes());
        }
        let green = &metrics.snapshot()["green"];
        assert_eq!(green.comparison.equal, 1);
        assert_eq!(green.comparison.differ, 10);
        assert_eq!(green.comparison.samples.len(), MAX_SAMPLES);
        assert_eq!(
            green.comparison.samples.back().map(|s| s.mirror.as_str()),
            Some("[9]")
        );
    }

    #[test]
    fn samples_keep_only_the_start_of_long_bodies() {
        let metrics = EndpointMetrics::default();
        let long = format!("{{\"note\": \"{}\"}}", "é".repeat(5000));
        metrics.record_comparison("green", long.as_bytes(), b"[1]", long.as_bytes());
        let sample = metrics.snapshot()["green"].comparison.samples[0].clone();
        for part in [&sample.request, &sample.mirror] {
            assert_eq!(part.chars().count(), MAX_SAMPLE_CHARS + 1, "{part}");
            assert!(part.ends_with('…') && part.starts_with("{\"note\": \"éé"));
        }
        assert_eq!(sample.live, "[1]", "short parts are kept whole");
        let exact = "x".repeat(MAX_SAMPLE_CHARS);
        assert_eq!(excerpt(exact.as_bytes()), exact, "nothing cut, no mark");
    }
}
