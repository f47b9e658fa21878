//! Per-deployment traffic metrics of an endpoint, as the local workspace reports them and the
//! console draws them. One definition for both ends.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One kind of traffic (live or mirrored) to one deployment, since the workspace started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrafficSummary {
    pub requests: u64,
    /// Answers with a status of 400 or more.
    pub errors: u64,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
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

/// `GET /api/v1/endpoints/{endpoint}/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointMetricsSummary {
    pub deployments: BTreeMap<String, DeploymentMetricsSummary>,
}
