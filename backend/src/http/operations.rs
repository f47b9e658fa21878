//! `/api/v1/operations`: long-running work, as `202 Accepted` answers point at it.

use super::error::ApiError;
use super::json::AppJson;
use super::paths::IdPath;
use super::query::AppQuery;
use super::AppState;
use crate::auth::Authenticated;
use crate::store::operations as store;
use axum::extract::State;
use serde::Deserialize;
use shared::api::{Operation, OperationList};
use shared::ErrorEnvelope;

/// One operation: its status, the steps so far, and how it ended.
#[utoipa::path(
    get,
    path = "/api/v1/operations/{id}",
    operation_id = "get_operation",
    tag = "operations",
    params(("id" = Uuid, Path, description = "The operation's id")),
    responses(
        (status = 200, body = Operation),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authenticated,
    IdPath(id): IdPath,
) -> Result<AppJson<Operation>, ApiError> {
    store::get(&state.pool, id)
        .await?
        .map(AppJson)
        .ok_or(ApiError::NotFound)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperationQuery {
    /// Only this endpoint's operations.
    endpoint: Option<String>,
    /// At most this many (1–500, default 50).
    limit: Option<u32>,
}

/// The latest operations, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/operations",
    operation_id = "list_operations",
    tag = "operations",
    params(OperationQuery),
    responses(
        (status = 200, body = OperationList),
        (status = 422, description = "`limit` is out of range", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authenticated,
    AppQuery(query): AppQuery<OperationQuery>,
) -> Result<AppJson<OperationList>, ApiError> {
    let limit = super::audit_log::page_limit(query.limit)?;
    let items = store::recent(&state.pool, query.endpoint.as_deref(), limit).await?;
    Ok(AppJson(OperationList { items }))
}
