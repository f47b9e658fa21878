//! An endpoint's traffic over a window, one interface for both workspaces: Azure Monitor's
//! per-minute metrics of the endpoint (`{endpoint id}/providers/Microsoft.Insights/metrics`,
//! which the local workspace serves too, so this path is tested locally), and the window's
//! samples a gate judges — raw per request where the workspace keeps them, else Monitor's.

use super::{checked, decode, ArmClient};
use crate::workspace::error::WorkspaceError;
use crate::workspace::monitor::MonitorReading;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use shared::arm::monitor::{
    MetricsResponse, DEPLOYMENT, MONITOR_API_VERSION, REQUESTS_PER_MINUTE, REQUEST_LATENCY_P50,
    REQUEST_LATENCY_P95, REQUEST_LATENCY_P99, STATUS_CODE,
};
use shared::gates::{MinuteSample, WindowSamples};
use shared::EndpointName;
use std::collections::BTreeMap;

/// Series Monitor returns at most per query; Azure's default (10) is less than the
/// deployments × status codes of an endpoint.
const TOP: &str = "1000";

impl ArmClient {
    /// Each deployment's minutes of `[start, end)` as Azure Monitor aggregates them: requests,
    /// model errors (5xx and 424, from the `statusCode` dimension), throttled requests (429),
    /// and the p50 / p95 / p99 latencies (`RequestLatency_P50/P95/P99`).
    pub async fn monitor_metrics(
        &self,
        endpoint: &EndpointName,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<BTreeMap<String /*deployment*/, Vec<MinuteSample>>, WorkspaceError> {
        Ok(self.monitor_reading(endpoint, start, end).await?.minutes)
    }

    /// [`Self::monitor_metrics`] with each deployment's requests per status over the window.
    pub async fn monitor_reading(
        &self,
        endpoint: &EndpointName,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<MonitorReading, WorkspaceError> {
        // Two queries: `statusCode` is a dimension of the request count only, and Monitor
        // refuses a filter on a dimension a metric lacks.
        let requests = self
            .monitor_query(
                endpoint,
                (start, end),
                &[REQUESTS_PER_MINUTE],
                "total",
                &format!("{DEPLOYMENT} eq '*' and {STATUS_CODE} eq '*'"),
            )
            .await?;
        let latencies = self
            .monitor_query(
                endpoint,
                (start, end),
                &[
                    REQUEST_LATENCY_P50,
                    REQUEST_LATENCY_P95,
                    REQUEST_LATENCY_P99,
                ],
                "average",
                &format!("{DEPLOYMENT} eq '*'"),
            )
            .await?;
        MonitorReading::parse(&requests, &latencies)
    }

    async fn monitor_query(
        &self,
        endpoint: &EndpointName,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        metrics: &[&str],
        aggregation: &str,
        filter: &str,
    ) -> Result<MetricsResponse, WorkspaceError> {
        let base = self.url(&format!(
            "/onlineEndpoints/{endpoint}/providers/Microsoft.Insights/metrics"
        ));
        // To the millisecond (Azure takes fractional seconds): a whole-second end would leave
        // out the requests of the window's last second.
        let timespan = format!(
            "{}/{}",
            start.to_rfc3339_opts(SecondsFormat::Millis, true),
            end.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        let url = reqwest::Url::parse_with_params(
            &base,
            [
                ("api-version", MONITOR_API_VERSION),
                ("metricnames", &metrics.join(",")),
                ("timespan", &timespan),
                ("interval", "PT1M"),
                ("aggregation", aggregation),
                ("$filter", filter),
                ("top", TOP),
            ],
        )
        .map_err(|e| WorkspaceError::Unexpected(format!("a Monitor URL: {e}")))?;
        decode(checked(self.send(Method::GET, url.as_str(), None).await?).await?).await
    }

    /// Whether this workspace keeps every request (the local workspace), or only Azure
    /// Monitor's minutes (Azure).
    pub fn keeps_raw_samples(&self) -> bool {
        self.config.raw_samples
    }

    /// The traffic a gate judges over `[start, end)`. From the local workspace: every request,
    /// live and mirrored apart, and each mirrored request's two answers (`pairs`). From Azure:
    /// Monitor's minutes as each deployment's live traffic, and no pairs — Azure keeps no
    /// answers. Monitor does not tell mirrored requests from live ones either (a mirror
    /// deployment's requests are counted as its own), so on Azure the mirrored samples are empty
    /// and a mirror deployment's traffic shows as its live traffic.
    pub async fn window_samples(
        &self,
        endpoint: &EndpointName,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<WindowSamples, WorkspaceError> {
        if self.config.raw_samples {
            return Ok(self.local_window(endpoint, start, end).await?.window);
        }
        Ok(self
            .monitor_reading(endpoint, start, end)
            .await?
            .into_window(start.timestamp_millis(), end.timestamp_millis()))
    }
}
