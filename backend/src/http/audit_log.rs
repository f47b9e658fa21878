//! `GET /api/v1/audit`: the audit log, filtered, newest first, paged by keyset (never by
//! offset: the log grows without bound); `GET /api/v1/audit/chain`: how far its hash chain is
//! verified.

use super::error::ApiError;
use super::json::AppJson;
use super::query::AppQuery;
use super::AppState;
use crate::auth::Authenticated;
use crate::store;
use axum::extract::State;
use serde::Deserialize;
use shared::api::audit::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use shared::api::{AuditChainState, AuditPage, AuditQuery};
use shared::audit_filter::AuditFilter;
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

/// An `after` parameter: the `next` cursor (an id) of a previous page, when given.
pub fn page_cursor(after: Option<&str>) -> Result<Option<i64>, ApiError> {
    after
        .map(|cursor| {
            cursor.parse::<i64>().map_err(|_| {
                ApiError::invalid(
                    "after",
                    "after must be a `next` cursor from a previous page",
                )
            })
        })
        .transpose()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditPageQuery {
    /// Rows per page (1–500, default 50).
    limit: Option<u32>,
    /// The `next` cursor of the previous page (sent with the same filters).
    after: Option<String>,
}

/// The filters of `query`, or a `422` naming each bad one.
pub fn filter_of(query: &AuditQuery) -> Result<AuditFilter, ApiError> {
    AuditFilter::parse(query).map_err(ApiError::rejected)
}

/// A page of the audit events that match every filter given, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "list_audit_events",
    tag = "audit",
    params(AuditPageQuery, AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 422, description = "A bad `limit`, `after` or filter", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authenticated,
    AppQuery(query): AppQuery<AuditPageQuery>,
    AppQuery(filter): AppQuery<AuditQuery>,
) -> Result<AppJson<AuditPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    let filter = filter_of(&filter)?;
    let after = page_cursor(query.after.as_deref())?;
    Ok(AppJson(
        store::audit::page(&state.pool, &filter, after, limit).await?,
    ))
}

/// How far the hash chain is verified ("verified up to #N"), or its first broken event. Each
/// call verifies only the events added since the one before.
#[utoipa::path(
    get,
    path = "/api/v1/audit/chain",
    operation_id = "get_audit_chain",
    tag = "audit",
    responses(
        (status = 200, body = AuditChainState),
    )
)]
pub async fn chain(
    State(state): State<AppState>,
    _auth: Authenticated,
) -> Result<AppJson<AuditChainState>, ApiError> {
    Ok(AppJson(state.audit_chain.state(&state.pool).await?))
}
