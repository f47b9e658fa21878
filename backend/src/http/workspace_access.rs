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

    /// What asking for and deciding on changes needs.
    pub fn change_context(&self) -> Result<crate::change_requests::Context, ApiError> {
        let workspace = self.workspace()?;
        Ok(crate::change_requests::Context {
            pool: self.pool.clone(),
            operations: self.operations.clone(),
            workspace_id: workspace.workspace_id(),
            workspace,
        })
    }
}

/// `202 Accepted` with the change request a change created, `Location` its URL.
pub fn requested(detail: shared::api::change_requests::ChangeRequestDetail) -> Response {
    let location = format!("/api/v1/change-requests/{}", detail.summary.id);
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        AppJson(detail),
    )
        .into_response()
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

/// The query of a delete, which asks for approval like any change.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Why (required; shown to the approvers, kept in the audit log).
    pub reason: Option<String>,
    /// An admin deletes at once, without approvals.
    pub break_glass: Option<bool>,
}

impl DeleteQuery {
    /// The reason, checked with the rule every change request's reason follows.
    pub fn checked_reason(&self) -> Result<String, ApiError> {
        shared::rollout::check_reason("reason", self.reason.as_deref(), true)
            .map_err(|e| ApiError::rejected(vec![e]))?;
        Ok(self.reason.clone().unwrap_or_default())
    }
}
