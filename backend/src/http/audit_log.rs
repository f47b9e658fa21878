//! `GET /api/v1/audit`: the audit log, newest first, paged by keyset (never by offset: the log
//! grows without bound).

use super::error::ApiError;
use super::json::AppJson;
use super::query::AppQuery;
use super::AppState;
use crate::auth::Authenticated;
use crate::store;
use axum::extract::State;
use serde::Deserialize;
use shared::api::audit::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use shared::api::AuditPage;
use shared::ErrorEnvelope;

/// A `limit` parameter checked against the API's bounds.
pub fn page_limit(limit: Option<u32>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("limit must be between 1 and {MAX_PAGE_LIMIT} (got {limit})"),
        ));
    }
    Ok(i64::from(limit))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Rows per page (1–500, default 50).
    limit: Option<u32>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
}

/// A page of audit events, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "list_audit_events",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 401, body = ErrorEnvelope),
        (status = 422, description = "A bad `limit` or `after`", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authenticated,
    AppQuery(query): AppQuery<AuditQuery>,
) -> Result<AppJson<AuditPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    let after = query
        .after
        .as_deref()
        .map(|cursor| {
            cursor.parse::<i64>().map_err(|_| {
                ApiError::invalid(
                    "after",
                    "after must be a `next` cursor from a previous page",
                )
            })
        })
        .transpose()?;
    Ok(AppJson(
        store::audit::page(&state.pool, after, limit).await?,
    ))
}
