//! `POST /api/v1/endpoints/{endpoint}/invoke`: a test request to the scoring URI, by traffic or
//! to one deployment, with what answered and how fast.

use super::error::ApiError;
use super::json::AppJson;
use super::workspace_access::path_name;
use super::AppState;
use crate::auth::{Authenticated, Operator};
use axum::extract::{Path, State};
use shared::api::{InvokeRequest, InvokeResult};
use shared::ErrorEnvelope;

/// Sends `body` to the endpoint's scoring URI with the endpoint's own credential. The model's
/// answer comes back whatever its status (a 424 from the model is a result, not an error).
#[utoipa::path(
    post,
    path = "/api/v1/endpoints/{endpoint}/invoke",
    tag = "endpoints",
    params(("endpoint" = String, Path, description = "The endpoint's name")),
    request_body = InvokeRequest,
    responses(
        (status = 200, description = "The scoring URI answered", body = InvokeResult),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Needs the operator role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn invoke(
    State(state): State<AppState>,
    _auth: Authenticated<Operator>,
    Path(endpoint): Path<String>,
    AppJson(request): AppJson<InvokeRequest>,
) -> Result<AppJson<InvokeResult>, ApiError> {
    let endpoint = path_name("endpoint", &endpoint)?;
    let deployment = request
        .deployment
        .as_deref()
        .map(|d| path_name("deployment", d))
        .transpose()?;
    let body = serde_json::to_vec(&request.body).map_err(|e| ApiError::Internal(e.into()))?;
    let answer = state
        .workspace()?
        .invoke(&endpoint, deployment.as_deref(), body.into())
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
