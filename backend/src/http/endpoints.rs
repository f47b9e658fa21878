//! `/api/v1/endpoints`: the workspace's online endpoints, read through the ARM client.

use super::error::ApiError;
use super::json::AppJson;
use super::AppState;
use crate::auth::Authenticated;
use crate::workspace::ArmClient;
use axum::extract::{Path, State};
use shared::api::{EndpointList, EndpointSummary};
use shared::arm::OnlineEndpoint;
use shared::ErrorEnvelope;
use std::sync::Arc;

fn client(state: &AppState) -> Result<&Arc<ArmClient>, ApiError> {
    state.workspace.as_ref().ok_or(ApiError::NoWorkspace)
}

fn summary(endpoint: OnlineEndpoint) -> EndpointSummary {
    let properties = endpoint.properties;
    EndpointSummary {
        name: endpoint.name.unwrap_or_default(),
        auth_mode: properties.auth_mode.map(|m| m.to_string()),
        provisioning_state: properties.provisioning_state.map(|s| s.to_string()),
        traffic: properties.traffic.unwrap_or_default(),
        mirror_traffic: properties.mirror_traffic.unwrap_or_default(),
        scoring_uri: properties.scoring_uri,
    }
}

/// Every online endpoint of the workspace, by name.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints",
    tag = "endpoints",
    responses(
        (status = 200, body = EndpointList),
        (status = 401, body = ErrorEnvelope),
        (status = 502, description = "The workspace failed", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authenticated,
) -> Result<AppJson<EndpointList>, ApiError> {
    let mut items: Vec<EndpointSummary> = client(&state)?
        .list_endpoints()
        .await?
        .into_iter()
        .map(summary)
        .collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(AppJson(EndpointList { items }))
}

/// One endpoint: auth mode, state, traffic and mirror split, scoring URI.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}",
    tag = "endpoints",
    params(("endpoint" = String, Path, description = "The endpoint's name")),
    responses(
        (status = 200, body = EndpointSummary),
        (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authenticated,
    Path(endpoint): Path<String>,
) -> Result<AppJson<EndpointSummary>, ApiError> {
    let found = client(&state)?.get_endpoint(&endpoint).await?;
    Ok(AppJson(summary(found)))
}
