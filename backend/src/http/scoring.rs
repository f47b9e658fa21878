//! `POST /api/v1/endpoints/{endpoint}/invoke`: a test request to the scoring URI, by traffic or
//! to one deployment, with what answered and how fast.

use super::error::ApiError;
use super::json::AppJson;
use super::paths::{checked_name, EndpointPath};
use super::AppState;
use crate::auth::{Authenticated, Operator};
use axum::extract::State;
use shared::api::{InvokeRequest, InvokeResult};
use shared::{DeploymentName, ErrorEnvelope};

/// Sends `body` to the endpoint's scoring URI with the endpoint's own credential. The model's
/// answer comes back whatever its status (a 424 from the model is a result, not an error).
#[utoipa::path(
    post,
    path = "/api/v1/endpoints/{endpoint}/invoke",
    operation_id = "invoke_endpoint",
    tag = "endpoints",
    params(EndpointPath),
    request_body = InvokeRequest,
    responses(
        (status = 200, description = "The scoring URI answered", body = InvokeResult),
        (status = 403, description = "Needs the operator role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn invoke(
    State(state): State<AppState>,
    _auth: Authenticated<Operator>,
    EndpointPath { endpoint }: EndpointPath,
    AppJson(request): AppJson<InvokeRequest>,
) -> Result<AppJson<InvokeResult>, ApiError> {
    let deployment = request
        .deployment
        .as_deref()
        .map(|d| checked_name::<DeploymentName>("deployment", d))
        .transpose()?;
    let body = serde_json::to_vec(&request.body).map_err(|e| ApiError::Internal(e.into()))?;
    let answer = state
        .workspace()?
        .invoke(&endpoint, deployment.as_ref(), body.into())
        .await?;
    let body = serde_json::from_slice(&answer.body).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&answer.body).into_owned())
    });
    Ok(AppJson(InvokeResult {
        status: answer.status,
        body,
        latency_ms: answer.latency.as_secs_f64() * 1000.0,
        deployment: answer.deployment,
    }))
}
