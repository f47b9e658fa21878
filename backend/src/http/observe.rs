//! What a deployment is doing: its log tail and the endpoint's per-deployment metrics.

use super::error::ApiError;
use super::json::AppJson;
use super::paths::{DeploymentPath, EndpointPath};
use super::query::AppQuery;
use super::AppState;
use crate::auth::Authenticated;
use axum::extract::State;
use serde::Deserialize;
use shared::api::workspace::{DEFAULT_LOG_TAIL, MAX_LOG_TAIL};
use shared::api::{DeploymentLogs, EndpointMetricsSummary};
use shared::{ErrorEnvelope, Role};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
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
        (status = 401, body = ErrorEnvelope),
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

/// Requests, errors and latency per deployment, live and mirrored apart, with how mirrored
/// answers compared with live ones. Samples of differing answers (the start of callers' request
/// bodies) are for operators and up; viewers get the counts with no samples. Read from the local
/// workspace; Azure keeps these in Azure Monitor, which this version does not read (`501`).
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}/metrics",
    operation_id = "get_endpoint_metrics",
    tag = "endpoints",
    params(EndpointPath),
    responses(
        (status = 200, body = EndpointMetricsSummary),
        (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 501, description = "The workspace is Azure's", body = ErrorEnvelope),
    )
)]
pub async fn metrics(
    State(state): State<AppState>,
    auth: Authenticated,
    EndpointPath { endpoint }: EndpointPath,
) -> Result<AppJson<EndpointMetricsSummary>, ApiError> {
    let client = state.workspace()?;
    if state.local_workspace.is_none() {
        return Err(ApiError::NotSupported(
            "metrics of an Azure workspace live in Azure Monitor, which Greenlight does not read yet"
                .into(),
        ));
    }
    let mut metrics = client.local_metrics(&endpoint).await?;
    if !auth.session.user.role.allows(Role::Operator) {
        for deployment in metrics.deployments.values_mut() {
            deployment.comparison.samples.clear();
        }
    }
    Ok(AppJson(metrics))
}
