//! Polling long-running operations.

use super::error::ArmFailure;
use super::ControlState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use shared::arm::OperationState;

#[derive(Debug, Deserialize)]
pub struct OperationPath {
    id: String,
}

/// The `Azure-AsyncOperation` URL: the operation's status document, with `Retry-After: 1`
/// while it runs (without it, Azure's client libraries wait their default 30 s between polls).
pub async fn status(
    State(state): State<ControlState>,
    Path(path): Path<OperationPath>,
) -> Result<Response, ArmFailure> {
    let status = state
        .workspace
        .operations
        .get(&path.id)
        .ok_or_else(|| ArmFailure::resource_not_found("operation", &path.id))?;
    let running = !status.status.is_terminal();
    let mut response = Json(status).into_response();
    if running {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
    }
    Ok(response)
}

/// The `Location` URL: 202 while the operation runs, then 200 (or the failure as an ARM error).
pub async fn result(
    State(state): State<ControlState>,
    Path(path): Path<OperationPath>,
) -> Result<Response, ArmFailure> {
    let status = state
        .workspace
        .operations
        .get(&path.id)
        .ok_or_else(|| ArmFailure::resource_not_found("operation", &path.id))?;
    Ok(match status.status {
        OperationState::Succeeded => StatusCode::OK.into_response(),
        OperationState::Failed | OperationState::Canceled => {
            ArmFailure::operation_failed(status.error).into_response()
        }
        _ => {
            let mut response = StatusCode::ACCEPTED.into_response();
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            response
        }
    })
}
