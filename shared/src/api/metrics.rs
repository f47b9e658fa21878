//! Per-deployment traffic metrics of an endpoint over a recent window (the last hour at most),
//! as the backend serves them and the console draws them. One definition for both ends.

use crate::gates::{is_model_error, is_throttled, MinuteSample, WindowSamples};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest window of metrics the backend serves (and the local workspace keeps).
pub const MAX_METRICS_MINUTES: u32 = 60;

/// One kind of traffic (live or mirrored) to one deployment over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrafficSummary {
    pub requests: u64,
    /// Answers with a status of 400 or more (of every kind: see [`Self::model_errors`] and
    /// [`Self::throttled`] for the kinds that matter apart).
    pub errors: u64,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Latency percentiles over the window's requests: computed from the requests themselves
    /// (the local workspace) or as Azure Monitor aggregates them — never a histogram bucket's
    /// bound.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The window minute by minute, oldest first (the history the console draws).
    #[serde(default)]
    pub minutes: Vec<MinuteSample>,
}

impl TrafficSummary {
    fn count(&self, rule: impl Fn(u16) -> bool) -> u64 {
        self.statuses
            .iter()
            .filter(|(status, _)| rule(**status))
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests the model failed: 5xx, or 424 (the model raised an error).
    pub fn model_errors(&self) -> u64 {
        self.count(is_model_error)
    }

    /// Requests refused for lack of capacity (429): load shed, not the model's fault.
    pub fn throttled(&self) -> u64 {
        self.count(is_throttled)
    }

    /// Other 4xx answers: the caller's request was wrong (or it was not allowed).
    pub fn client_errors(&self) -> u64 {
        self.count(|s| (400..500).contains(&s) && !is_model_error(s) && !is_throttled(s))
    }

    /// The share of the requests that reached the model which it failed, over the window;
    /// `None` when none reached it. Throttled requests never reached it, so they count on
    /// neither side (as the gates judge): 3 failures of 3 that got through is 100 %, even if
    /// 12 more were shed.
    pub fn model_error_rate(&self) -> Option<f64> {
        let reached = self.requests.saturating_sub(self.throttled());
        (reached > 0).then(|| self.model_errors() as f64 / reached as f64)
    }
}

/// A mirrored answer that differed from the live answer to the same request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DifferingSample {
    pub request: String,
    pub live: String,
    pub mirror: String,
}

/// Mirrored answers compared with the live ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comparison {
    pub equal: u64,
    pub differ: u64,
    /// The latest few that differed, each part cut to a couple of hundred characters. Empty
    /// for viewers: requests carry callers' data, so only operators and up see samples.
    pub samples: Vec<DifferingSample>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeploymentMetricsSummary {
    /// Instances ready to take requests right now (the local workspace knows; Azure reports no
    /// such count on the deployment).
    #[serde(default)]
    pub ready_instances: Option<u64>,
    pub live: TrafficSummary,
    pub mirrored: TrafficSummary,
    pub comparison: Comparison,
}

/// `GET /api/v1/endpoints/{endpoint}/metrics?minutes=N` (1–[`MAX_METRICS_MINUTES`], default
/// 60): the window `[start_ms, end_ms)` and each deployment's traffic in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointMetricsSummary {
    /// The window, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub start_ms: i64,
    #[serde(default)]
    pub end_ms: i64,
    pub deployments: BTreeMap<String, DeploymentMetricsSummary>,
}

/// The local workspace's answer to `GET {scoring base}/endpoints/{e}/samples`: the raw window
/// (`WindowSamples`' fields, so a reader of `WindowSamples` can take it as is) and each
/// deployment's ready instances, which only the local workspace knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalWindow {
    #[serde(flatten)]
    pub window: WindowSamples,
    #[serde(default)]
    pub ready_instances: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_split_by_whose_fault_they_are() {
        let traffic = TrafficSummary {
            requests: 100,
            errors: 80,
            statuses: BTreeMap::from([(200, 20), (429, 67), (424, 3), (503, 2), (400, 8)]),
            ..TrafficSummary::default()
        };
        assert_eq!(traffic.model_errors(), 5);
        assert_eq!(traffic.throttled(), 67);
        assert_eq!(traffic.client_errors(), 8);
        assert_eq!(
            traffic.model_error_rate(),
            Some(5.0 / 33.0),
            "429s never reached it"
        );
        assert_eq!(TrafficSummary::default().model_error_rate(), None);
    }
}
