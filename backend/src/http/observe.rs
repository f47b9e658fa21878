//! What a deployment is doing: its log tail and the endpoint's per-deployment metrics over a
//! window.

use super::error::ApiError;
use super::json::AppJson;
use super::paths::{DeploymentPath, EndpointPath};
use super::query::AppQuery;
use super::AppState;
use crate::auth::Authenticated;
use crate::metrics_summary::{summarize, Statuses};
use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use shared::api::metrics::MAX_METRICS_MINUTES;
use shared::api::workspace::{DEFAULT_LOG_TAIL, MAX_LOG_TAIL};
use shared::api::{DeploymentLogs, EndpointMetricsSummary};
use shared::{ErrorEnvelope, Role};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// How many of the last lines (1–10000, default 200).
    tail: Option<u32>,
}

/// The last lines the deployment's inference server printed.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}/deployments/{deployment}/logs",
    operation_id = "get_deployment_logs",
    tag = "deployments",
    params(
        DeploymentPath,
        LogQuery,
    ),
    responses(
        (status = 200, body = DeploymentLogs),
        (status = 404, body = ErrorEnvelope),
        (status = 422, description = "`tail` is out of range", body = ErrorEnvelope),
    )
)]
pub async fn logs(
    State(state): State<AppState>,
    _auth: Authenticated,
    DeploymentPath {
        endpoint,
        deployment,
    }: DeploymentPath,
    AppQuery(query): AppQuery<LogQuery>,
) -> Result<AppJson<DeploymentLogs>, ApiError> {
    let tail = query.tail.unwrap_or(DEFAULT_LOG_TAIL);
    if !(1..=MAX_LOG_TAIL).contains(&tail) {
        return Err(ApiError::invalid(
            "tail",
            format!("tail must be between 1 and {MAX_LOG_TAIL} (got {tail})"),
        ));
    }
    let content = state
        .workspace()?
        .logs(&endpoint, &deployment, tail)
        .await?;
    Ok(AppJson(DeploymentLogs { content }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// The window: the last this many minutes (1–60, default 60).
    #[param(value_type = Option<u32>)]
    minutes: Option<String>,
}

/// The window's length in minutes from `?minutes=`; the error names the field.
fn window_minutes(raw: Option<&str>) -> Result<u32, ApiError> {
    let Some(raw) = raw else {
        return Ok(MAX_METRICS_MINUTES);
    };
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|m| (1..=MAX_METRICS_MINUTES).contains(m))
        .ok_or_else(|| {
            ApiError::invalid(
                "minutes",
                format!(
                    "minutes must be a whole number from 1 to {MAX_METRICS_MINUTES} (got {raw:?})"
                ),
            )
        })
}

/// Each deployment's traffic over the last `minutes`, live and mirrored apart: requests,
/// statuses (so model errors, 424 and 5xx, are told from throttling, 429), latency percentiles
/// over the window's requests, the window minute by minute (the console's history), and how
/// mirrored answers compared with the live ones (structurally). From the local workspace's
/// raw samples, or from Azure Monitor (per-minute aggregates; no mirrored answers there).
/// Samples of differing answers (the start of callers' request bodies) are for operators and
/// up; viewers get the counts with no samples.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}/metrics",
    operation_id = "get_endpoint_metrics",
    tag = "endpoints",
    params(EndpointPath, MetricsQuery),
    responses(
        (status = 200, body = EndpointMetricsSummary),
        (status = 404, body = ErrorEnvelope),
        (status = 422, description = "`minutes` is not 1–60", body = ErrorEnvelope),
    )
)]
pub async fn metrics(
    State(state): State<AppState>,
    auth: Authenticated,
    EndpointPath { endpoint }: EndpointPath,
    AppQuery(query): AppQuery<MetricsQuery>,
) -> Result<AppJson<EndpointMetricsSummary>, ApiError> {
    let minutes = window_minutes(query.minutes.as_deref())?;
    let client = state.workspace()?;
    let end = Utc::now();
    let start = end - chrono::Duration::minutes(i64::from(minutes));
    let mut metrics = if client.keeps_raw_samples() {
        let local = client.local_window(&endpoint, start, end).await?;
        summarize(&local.window, &Statuses::new(), &local.ready_instances)
    } else {
        let reading = client.monitor_reading(&endpoint, start, end).await?;
        let statuses = reading.statuses.clone();
        let window = reading.into_window(start.timestamp_millis(), end.timestamp_millis());
        summarize(&window, &statuses, &BTreeMap::new())
    };
    if !auth.session.user.role.allows(Role::Operator) {
        for deployment in metrics.deployments.values_mut() {
            deployment.comparison.samples.clear();
        }
    }
    Ok(AppJson(metrics))
}
