//! Azure Monitor's metrics, as Azure ML online endpoints publish them: the wire shape of
//! `GET {resource id}/providers/Microsoft.Insights/metrics` ("Metrics - List", api-version
//! 2023-10-01, `specification/monitor/resource-manager/Microsoft.Insights/stable/2023-10-01/`
//! in `Azure/azure-rest-api-specs`), and the metric and dimension names Azure documents for
//! `Microsoft.MachineLearningServices/workspaces/onlineEndpoints` ("Supported metrics" in the
//! Azure Monitor reference). One definition for the ARM client that reads Azure and for the
//! local workspace that serves the same route.

use serde::{Deserialize, Serialize};

/// The Monitor API version Greenlight asks for.
pub const MONITOR_API_VERSION: &str = "2023-10-01";

/// "The number of requests sent to online endpoint within a minute" (Count, default
/// aggregation Average; dimensions `deployment`, `statusCode`, `statusCodeClass`,
/// `modelStatusCode`).
pub const REQUESTS_PER_MINUTE: &str = "RequestsPerMinute";
/// "The average complete interval of time taken for a request to be responded" (ms; `deployment`).
pub const REQUEST_LATENCY: &str = "RequestLatency";
/// Per-minute latency percentiles (ms, default aggregation Average; dimension `deployment`).
pub const REQUEST_LATENCY_P50: &str = "RequestLatency_P50";
pub const REQUEST_LATENCY_P90: &str = "RequestLatency_P90";
pub const REQUEST_LATENCY_P95: &str = "RequestLatency_P95";
pub const REQUEST_LATENCY_P99: &str = "RequestLatency_P99";

/// The dimensions of the metrics above, as `$filter` names them.
pub const DEPLOYMENT: &str = "deployment";
pub const STATUS_CODE: &str = "statusCode";
pub const STATUS_CODE_CLASS: &str = "statusCodeClass";
pub const MODEL_STATUS_CODE: &str = "modelStatusCode";

/// Azure's `LocalizableString`: an invariant name and its display text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalizableString {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localized_value: Option<String>,
}

/// One dimension's value on a time series (`metadatavalues`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataValue {
    pub name: LocalizableString,
    #[serde(default)]
    pub value: String,
}

/// One point of a time series: the aggregations asked for, each absent when the interval had
/// no data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricValue {
    /// ISO 8601, as Azure writes it.
    pub time_stamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<f64>,
}

/// One combination of dimension values and its points.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeSeriesElement {
    #[serde(default)]
    pub metadatavalues: Vec<MetadataValue>,
    #[serde(default)]
    pub data: Vec<MetricValue>,
}

impl TimeSeriesElement {
    /// The value of dimension `name` on this series (Azure answers with the name lowercased
    /// whatever case the filter used, so names compare without case).
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.metadatavalues
            .iter()
            .find(|m| m.name.value.eq_ignore_ascii_case(name))
            .map(|m| m.value.as_str())
    }
}

/// One metric of the answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: LocalizableString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_description: Option<String>,
    pub unit: String,
    #[serde(default)]
    pub timeseries: Vec<TimeSeriesElement>,
    /// `Success`, or why this metric could not be read (the others may still have been).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// The answer of "Metrics - List".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u32>,
    pub timespan: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    pub value: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resourceregion: Option<String>,
}

impl MetricsResponse {
    /// The metric named `name` (metric names compare without case, as Azure's do).
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.value
            .iter()
            .find(|m| m.name.value.eq_ignore_ascii_case(name))
    }
}
