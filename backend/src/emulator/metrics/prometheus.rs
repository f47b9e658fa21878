//! The endpoints' counters in Prometheus' text format, for a scraper of the whole workspace.
//! Counters only (requests by status, latency sum and count, mirror comparisons): percentiles
//! are for a query over the raw samples (`/endpoints/{e}/samples`), not for a fixed histogram.

use super::DeploymentCounts;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The `# HELP` and `# TYPE` lines of the metrics below.
pub const PROMETHEUS_HEADER: &str = "\
# HELP greenlight_scoring_requests_total Scoring requests answered, by deployment, traffic kind and status.
# TYPE greenlight_scoring_requests_total counter
# HELP greenlight_scoring_latency_ms Scoring latency in milliseconds as the router saw it.
# TYPE greenlight_scoring_latency_ms summary
# HELP greenlight_mirror_comparisons_total Mirrored answers compared (structurally) with the live answer to the same request.
# TYPE greenlight_mirror_comparisons_total counter
";

/// Appends one endpoint's counters.
pub fn write(endpoint: &str, counts: &BTreeMap<String, DeploymentCounts>, out: &mut String) {
    for (deployment, m) in counts {
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
