//! Azure Monitor's answer read as Greenlight's per-minute samples: `RequestsPerMinute` split
//! by `deployment` and `statusCode` gives each minute's requests, model errors (5xx and 424)
//! and throttled requests (429); `RequestLatency_P50/P95/P99` by `deployment` give its
//! percentiles. Pure, so it is tested on Azure's documented response shape without a network.

use crate::workspace::error::WorkspaceError;
use shared::arm::monitor::{
    MetricsResponse, DEPLOYMENT, REQUESTS_PER_MINUTE, REQUEST_LATENCY_P50, REQUEST_LATENCY_P95,
    REQUEST_LATENCY_P99, STATUS_CODE,
};
use shared::gates::{
    is_model_error, is_throttled, DeploymentSamples, MinuteSample, TrafficSamples, WindowSamples,
};
use std::collections::BTreeMap;

/// What Monitor says of an endpoint's window, per deployment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitorReading {
    /// Minute by minute, oldest first; minutes without requests or latencies are left out.
    pub minutes: BTreeMap<String, Vec<MinuteSample>>,
    /// Requests per HTTP status over the whole window.
    pub statuses: BTreeMap<String, BTreeMap<u16, u64>>,
}

impl MonitorReading {
    /// Reads the answer to `RequestsPerMinute` (aggregation `total`, `$filter=deployment eq '*'
    /// and statusCode eq '*'`) and the one to the three latency percentiles (aggregation
    /// `average`, `$filter=deployment eq '*'`). A series without a `deployment` value is not a
    /// deployment's and is skipped; a point without a value is a minute without data.
    pub fn parse(
        requests: &MetricsResponse,
        latencies: &MetricsResponse,
    ) -> Result<Self, WorkspaceError> {
        let mut minutes: BTreeMap<String, BTreeMap<i64, MinuteSample>> = BTreeMap::new();
        let mut statuses: BTreeMap<String, BTreeMap<u16, u64>> = BTreeMap::new();
        for series in requests
            .metric(REQUESTS_PER_MINUTE)
            .map(|m| m.timeseries.as_slice())
            .unwrap_or_default()
        {
            let Some(deployment) = series.dimension(DEPLOYMENT) else {
                continue;
            };
            let status = series
                .dimension(STATUS_CODE)
                .and_then(|s| s.trim().parse::<u16>().ok());
            for point in &series.data {
                // At a one-minute grain a minute's count is its total, and its average too.
                let Some(count) = point.total.or(point.average).filter(|c| *c > 0.0) else {
                    continue;
                };
                let minute = minute(&mut minutes, deployment, &point.time_stamp)?;
                minute.requests += count;
                if let Some(status) = status {
                    if is_model_error(status) {
                        minute.errors += count;
                    } else if is_throttled(status) {
                        minute.throttled += count;
                    }
                    *statuses
                        .entry(deployment.to_owned())
                        .or_default()
                        .entry(status)
                        .or_default() += count.round() as u64;
                }
            }
        }
        let percentiles: [(&str, Percentile); 3] = [
            (REQUEST_LATENCY_P50, |m| &mut m.p50_ms),
            (REQUEST_LATENCY_P95, |m| &mut m.p95_ms),
            (REQUEST_LATENCY_P99, |m| &mut m.p99_ms),
        ];
        for (name, field) in percentiles {
            let Some(metric) = latencies.metric(name) else {
                continue;
            };
            for series in &metric.timeseries {
                let Some(deployment) = series.dimension(DEPLOYMENT) else {
                    continue;
                };
                for point in &series.data {
                    let Some(value) = point.average else {
                        continue;
                    };
                    *field(minute(&mut minutes, deployment, &point.time_stamp)?) = Some(value);
                }
            }
        }
        Ok(Self {
            minutes: minutes
                .into_iter()
                .map(|(name, by_minute)| (name, by_minute.into_values().collect()))
                .collect(),
            statuses,
        })
    }
}

impl MonitorReading {
    /// The window `[start_ms, end_ms)` as a gate reads it: each deployment's minutes as its
    /// live traffic. Monitor does not tell mirrored requests apart (a mirror deployment's
    /// requests count as its own), so mirrored samples are empty; Azure keeps no answers, so
    /// there are no pairs.
    pub fn into_window(self, start_ms: i64, end_ms: i64) -> WindowSamples {
        WindowSamples {
            start_ms,
            end_ms,
            deployments: self
                .minutes
                .into_iter()
                .map(|(name, minutes)| {
                    let samples = DeploymentSamples {
                        live: TrafficSamples::PerMinute(minutes),
                        mirrored: TrafficSamples::PerMinute(Vec::new()),
                    };
                    (name, samples)
                })
                .collect(),
            pairs: None,
        }
    }
}

/// Where a latency metric's value goes in a minute.
type Percentile = fn(&mut MinuteSample) -> &mut Option<f64>;

/// The minute of `deployment` that a point's `timeStamp` names, new if not seen yet.
fn minute<'a>(
    minutes: &'a mut BTreeMap<String, BTreeMap<i64, MinuteSample>>,
    deployment: &str,
    time_stamp: &str,
) -> Result<&'a mut MinuteSample, WorkspaceError> {
    let at_ms = minute_of(time_stamp)?;
    Ok(minutes
        .entry(deployment.to_owned())
        .or_default()
        .entry(at_ms)
        .or_insert_with(|| MinuteSample {
            at_ms,
            ..MinuteSample::default()
        }))
}

/// A point's `timeStamp` in milliseconds since the Unix epoch.
fn minute_of(time_stamp: &str) -> Result<i64, WorkspaceError> {
    chrono::DateTime::parse_from_rfc3339(time_stamp)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            WorkspaceError::Unexpected(format!(
                "Azure Monitor gave a time stamp that is not ISO 8601: {time_stamp:?}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The response body of "Get Metric for data", the documented example of Metrics - List:
    /// `specification/monitor/resource-manager/Microsoft.Insights/stable/2023-10-01/examples/
    /// GetMetric.json` in `Azure/azure-rest-api-specs` (three of its zero-valued tier series
    /// left out for length).
    const AZURE_EXAMPLE: &str = include_str!("azure-get-metric.json");
    /// An online endpoint's answers in that same shape, with the metric and dimension names
    /// Azure documents for `Microsoft.MachineLearningServices/workspaces/onlineEndpoints`
    /// ("Supported metrics", Azure Monitor reference); dimension names come back lowercased,
    /// as in Azure's example (`Tier` asked, `tier` answered).
    const ENDPOINT_REQUESTS: &str = include_str!("endpoint-requests.json");
    const ENDPOINT_LATENCIES: &str = include_str!("endpoint-latencies.json");

    fn parsed(text: &str) -> MetricsResponse {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not Monitor's shape: {e}"))
    }

    #[test]
    fn azures_documented_example_reads_as_metrics_with_dimensions() {
        let answer = parsed(AZURE_EXAMPLE);
        assert_eq!(answer.interval.as_deref(), Some("PT1H"));
        let count = answer.metric("blobcount").expect("BlobCount");
        assert_eq!(count.unit, "Count");
        assert_eq!(count.timeseries[0].dimension("Tier"), Some("Hot"));
        assert_eq!(count.timeseries[0].data[0].average, Some(7.0));
        assert_eq!(count.timeseries[0].data.len(), 5);
        let round_trip = serde_json::to_value(&answer).expect("serializes");
        let original: serde_json::Value = serde_json::from_str(AZURE_EXAMPLE).expect("JSON");
        assert_eq!(round_trip, original, "nothing of Azure's shape is lost");
        // No deployment dimension: nothing of an endpoint's traffic.
        let reading = MonitorReading::parse(&answer, &answer).expect("parses");
        assert!(reading.minutes.is_empty());
    }

    #[test]
    fn requests_split_by_status_become_minutes_per_deployment() {
        let reading =
            MonitorReading::parse(&parsed(ENDPOINT_REQUESTS), &parsed(ENDPOINT_LATENCIES))
                .expect("parses");
        let ten = 1_714_557_600_000; // 2024-05-01T10:00:00Z
        let green = &reading.minutes["green"];
        assert_eq!(green.len(), 1, "the empty minute is left out: {green:?}");
        assert_eq!(green[0].at_ms, ten);
        assert_eq!(green[0].requests, 15.0);
        assert_eq!(green[0].errors, 3.0, "the 424s, not the 429s");
        assert_eq!(green[0].throttled, 5.0);
        assert_eq!(
            (green[0].p50_ms, green[0].p95_ms, green[0].p99_ms),
            (Some(210.0), Some(240.0), Some(260.0))
        );
        let blue = &reading.minutes["blue"];
        assert_eq!(blue.len(), 2);
        assert_eq!((blue[0].requests, blue[0].errors), (41.0, 1.0));
        assert_eq!((blue[1].at_ms, blue[1].requests), (ten + 60_000, 50.0));
        assert_eq!(blue[1].p99_ms, Some(18.0));
        assert_eq!(
            reading.statuses["green"],
            BTreeMap::from([(200, 7), (424, 3), (429, 5)])
        );
        assert_eq!(
            reading.statuses["blue"],
            BTreeMap::from([(200, 90), (503, 1)])
        );
    }

    #[test]
    fn a_time_stamp_that_is_not_iso_8601_is_an_unexpected_answer() {
        let mut answer = parsed(ENDPOINT_REQUESTS);
        answer.value[0].timeseries[0].data[0].time_stamp = "yesterday".into();
        let refused = MonitorReading::parse(&answer, &MetricsResponse::default());
        assert!(matches!(refused, Err(WorkspaceError::Unexpected(_))));
    }
}
