//! What a gate judges: the traffic each deployment served during a window, as the workspace can
//! report it. The local workspace keeps every request (per-request samples, the judge's best
//! input) and pairs each mirrored answer with the live answer to the same request; Azure keeps
//! only per-minute aggregates in Azure Monitor and never shows mirrored answers. One type for
//! both, so the gate has one code path and says which kind of samples it judged.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether an answer means the model (or its container) failed the request: a server error, or
/// Azure's 424 "model error". Client errors and throttling (429) are not the model's fault and
/// are counted apart, so a mirror that sheds load never looks like a failing model.
pub fn is_model_error(status: u16) -> bool {
    status >= 500 || status == 424
}

/// Whether an answer was refused for lack of capacity (not sent to the model, or not in time).
pub fn is_throttled(status: u16) -> bool {
    status == 429
}

/// One request, answered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestSample {
    /// When it was answered, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub status: u16,
    pub latency_ms: f64,
}

/// One minute of one deployment's traffic as Azure Monitor aggregates it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MinuteSample {
    /// The minute's start, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub requests: f64,
    /// Requests the model failed ([`is_model_error`]).
    pub errors: f64,
    /// Requests throttled ([`is_throttled`]).
    pub throttled: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// One kind of traffic (live or mirrored) to one deployment over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "granularity", content = "samples", rename_all = "snake_case")]
pub enum TrafficSamples {
    PerRequest(Vec<RequestSample>),
    PerMinute(Vec<MinuteSample>),
}

impl Default for TrafficSamples {
    fn default() -> Self {
        Self::PerRequest(Vec::new())
    }
}

/// A deployment's live and mirrored traffic over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentSamples {
    pub live: TrafficSamples,
    pub mirrored: TrafficSamples,
}

/// A mirrored request's two answers: the live deployment's (what the client got) and the
/// mirror's (what green would have said). Bodies are cut at [`MAX_ANSWER_BYTES`]; a cut body
/// is compared as text and so never "agrees" by accident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerPair {
    pub at_ms: i64,
    /// The deployment that answered the client.
    pub live_deployment: String,
    /// The deployment the request was mirrored to.
    pub mirror_deployment: String,
    pub live: String,
    pub mirrored: String,
    /// The start of the request both answered (a couple of hundred characters, cut with `…`):
    /// enough for people to see what was asked, not all of a caller's data.
    #[serde(default)]
    pub request: String,
}

/// The longest answer body kept for comparison.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// An endpoint's traffic over `[start_ms, end_ms)`, per deployment, with the mirrored answer
/// pairs where the workspace keeps them (the local workspace; Azure does not).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowSamples {
    pub start_ms: i64,
    pub end_ms: i64,
    pub deployments: BTreeMap<String, DeploymentSamples>,
    /// `None` when the workspace cannot show mirrored answers at all (Azure); empty when it
    /// can but there were none.
    pub pairs: Option<Vec<AnswerPair>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_errors_are_server_errors_and_424_not_throttling_or_client_errors() {
        for status in [424, 500, 502, 503, 504] {
            assert!(is_model_error(status), "{status}");
        }
        for status in [200, 400, 401, 404, 429] {
            assert!(!is_model_error(status), "{status}");
        }
        assert!(is_throttled(429) && !is_throttled(503));
    }

    #[test]
    fn samples_name_their_granularity_on_the_wire() {
        let samples = TrafficSamples::PerMinute(vec![MinuteSample {
            at_ms: 60_000,
            requests: 10.0,
            ..MinuteSample::default()
        }]);
        let json = serde_json::to_value(&samples).unwrap_or_default();
        assert_eq!(json["granularity"], "per_minute");
        assert_eq!(json["samples"][0]["requests"], 10.0);
    }
}
