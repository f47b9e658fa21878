//! `/api/v1/endpoints/{endpoint}/policy`: how many approvals an endpoint's changes need.

use super::error::ApiError;
use super::json::AppJson;
use super::paths::EndpointPath;
use super::AppState;
use crate::auth::{Admin, Authenticated};
use crate::store::change_requests as store;
use axum::extract::State;
use shared::api::change_requests::EndpointPolicy;
use shared::ErrorEnvelope;

/// The endpoint's approval policy (the default when none was set).
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}/policy",
    operation_id = "get_policy",
    tag = "change-requests",
    params(EndpointPath),
    responses(
        (status = 200, body = EndpointPolicy),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authenticated,
    EndpointPath { endpoint }: EndpointPath,
) -> Result<AppJson<EndpointPolicy>, ApiError> {
    let workspace = state.workspace()?.workspace_id();
    let mut conn = state.pool.acquire().await?;
    Ok(AppJson(
        store::policy(&mut conn, &workspace, &endpoint).await?,
    ))
}

/// Sets how many distinct approvers (1–5) the endpoint's changes need; audited. Requests
/// already open keep the number they were made with.
#[utoipa::path(
    put,
    path = "/api/v1/endpoints/{endpoint}/policy",
    operation_id = "set_policy",
    tag = "change-requests",
    params(EndpointPath),
    request_body = EndpointPolicy,
    responses(
        (status = 200, body = EndpointPolicy),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
        (status = 422, description = "Out of range", body = ErrorEnvelope),
    )
)]
pub async fn set(
    State(state): State<AppState>,
    auth: Authenticated<Admin>,
    EndpointPath { endpoint }: EndpointPath,
    AppJson(policy): AppJson<EndpointPolicy>,
) -> Result<AppJson<EndpointPolicy>, ApiError> {
    policy.check().map_err(ApiError::rejected)?;
    let workspace = state.workspace()?.workspace_id();
    let actor = auth.session.user.username.as_str();
    let stored = store::set_policy(&state.pool, actor, &workspace, &endpoint, policy).await?;
    Ok(AppJson(stored))
}
