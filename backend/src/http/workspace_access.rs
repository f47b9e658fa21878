//! What the workspace handlers share: reaching the ARM client, and answering `202 Accepted`
//! for work that goes on after the response.

use super::error::ApiError;
use super::json::AppJson;
use super::AppState;
use crate::operations::Job;
use crate::workspace::{ArmClient, WorkspaceError};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::api::Operation;
use std::sync::Arc;

impl AppState {
    /// The workspace client, or `503 no_workspace` when none is configured.
    pub fn workspace(&self) -> Result<Arc<ArmClient>, ApiError> {
        self.workspace.clone().ok_or(ApiError::NoWorkspace)
    }
}

/// Starts `job` and answers `202 Accepted` with it.
pub async fn start<W, F>(state: &AppState, job: Job, work: W) -> Result<Response, ApiError>
where
    W: FnOnce() -> F + Send + 'static,
    F: std::future::Future<Output = Result<serde_json::Value, WorkspaceError>> + Send + 'static,
{
    Ok(accepted(state.operations.launch(job, work).await?))
}

/// `202 Accepted`, `Location: /api/v1/operations/{id}`, and the operation as it starts.
pub fn accepted(operation: Operation) -> Response {
    let location = format!("/api/v1/operations/{}", operation.id);
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        AppJson(operation),
    )
        .into_response()
}

/// True when the workspace says there is no such resource.
pub fn is_not_found(err: &crate::workspace::WorkspaceError) -> bool {
    matches!(
        err,
        crate::workspace::WorkspaceError::Arm { status: 404, .. }
    )
}
