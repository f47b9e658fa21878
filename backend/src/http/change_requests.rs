//! `/api/v1/change-requests`: what waits for approval, and the decisions on it.

use super::error::ApiError;
use super::json::AppJson;
use super::paths::{checked_name, IdPath};
use super::query::AppQuery;
use super::AppState;
use crate::auth::{Authenticated, CurrentSession};
use crate::change_requests::{approve_request, reject_request};
use crate::store::change_requests::{self as store, ListFilter};
use axum::extract::State;
use serde::Deserialize;
use shared::api::change_requests::{
    ApproveRequest, ChangeRequestDetail, ChangeRequestList, RejectRequest,
};
use shared::rollout::{Actor, ChangeRequestState};
use shared::ErrorEnvelope;

/// Who decides, as the approval rules take it.
pub fn actor(session: &CurrentSession) -> Actor {
    Actor {
        username: session.user.username.clone(),
        role: session.user.role,
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequestQuery {
    /// Only requests in this state (`pending`, `applied`, `rejected`, …).
    state: Option<String>,
    /// Only this endpoint's requests.
    endpoint: Option<String>,
    /// At most this many (1–500, default 50).
    limit: Option<u32>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
}

/// Change requests, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/change-requests",
    operation_id = "list_change_requests",
    tag = "change-requests",
    params(ChangeRequestQuery),
    responses(
        (status = 200, body = ChangeRequestList),
        (status = 422, description = "A filter breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authenticated,
    AppQuery(query): AppQuery<ChangeRequestQuery>,
) -> Result<AppJson<ChangeRequestList>, ApiError> {
    let limit = super::audit_log::page_limit(query.limit)?;
    let wanted_state = query
        .state
        .as_deref()
        .map(|s| {
            ChangeRequestState::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "state",
                    format!("state {s:?} is not a change request state"),
                )
            })
        })
        .transpose()?;
    let endpoint = query
        .endpoint
        .as_deref()
        .map(|e| checked_name("endpoint", e))
        .transpose()?;
    let after = query
        .after
        .as_deref()
        .map(|c| {
            store::parse_cursor(c)
                .ok_or_else(|| ApiError::invalid("after", "after is not a cursor this API gave"))
        })
        .transpose()?;
    store::expire_due(&state.pool).await?;
    let filter = ListFilter {
        state: wanted_state,
        endpoint,
        after,
        limit,
    };
    Ok(AppJson(store::list(&state.pool, &filter).await?))
}

/// One change request: the dry-run diff, approvals, and how it ended.
#[utoipa::path(
    get,
    path = "/api/v1/change-requests/{id}",
    operation_id = "get_change_request",
    tag = "change-requests",
    params(("id" = Uuid, Path, description = "The request's id")),
    responses(
        (status = 200, body = ChangeRequestDetail),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authenticated,
    IdPath(id): IdPath,
) -> Result<AppJson<ChangeRequestDetail>, ApiError> {
    store::expire_due(&state.pool).await?;
    store::get(&state.pool, id)
        .await?
        .map(AppJson)
        .ok_or(ApiError::NotFound)
}

/// Approves a request. The last approval it needs applies it (follow `operation_id`), unless
/// the endpoint changed since it was asked for: then it is `stale` and nothing changes.
#[utoipa::path(
    post,
    path = "/api/v1/change-requests/{id}/approve",
    operation_id = "approve_change_request",
    tag = "change-requests",
    params(("id" = Uuid, Path, description = "The request's id")),
    request_body = ApproveRequest,
    responses(
        (status = 200, body = ChangeRequestDetail),
        (status = 403, description = "`self_approval`, or `forbidden` below the approver role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`not_pending`, `expired` or `already_approved`", body = ErrorEnvelope),
        (status = 422, description = "The comment breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn approve(
    State(state): State<AppState>,
    auth: Authenticated,
    IdPath(id): IdPath,
    AppJson(body): AppJson<ApproveRequest>,
) -> Result<AppJson<ChangeRequestDetail>, ApiError> {
    body.check().map_err(ApiError::rejected)?;
    let ctx = state.change_context()?;
    let detail = approve_request(&ctx, &actor(&auth.session), id, body.comment.as_deref()).await?;
    Ok(AppJson(detail))
}

/// Rejects a request, with a comment saying why; one rejection ends it.
#[utoipa::path(
    post,
    path = "/api/v1/change-requests/{id}/reject",
    operation_id = "reject_change_request",
    tag = "change-requests",
    params(("id" = Uuid, Path, description = "The request's id")),
    request_body = RejectRequest,
    responses(
        (status = 200, body = ChangeRequestDetail),
        (status = 403, description = "`self_approval`, or `forbidden` below the approver role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`not_pending` or `expired`", body = ErrorEnvelope),
        (status = 422, description = "The comment is missing or breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn reject(
    State(state): State<AppState>,
    auth: Authenticated,
    IdPath(id): IdPath,
    AppJson(body): AppJson<RejectRequest>,
) -> Result<AppJson<ChangeRequestDetail>, ApiError> {
    body.check().map_err(ApiError::rejected)?;
    let comment = body.comment.unwrap_or_default();
    let ctx = state.change_context()?;
    let detail = reject_request(&ctx, &actor(&auth.session), id, &comment).await?;
    Ok(AppJson(detail))
}
