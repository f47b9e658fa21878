//! `/api/v1/freeze-windows` and `/api/v1/endpoints/{endpoint}/freeze`: the times during which
//! no change request is applied. Anyone signed in reads them; only admins set or remove them.

use super::error::ApiError;
use super::json::AppJson;
use super::paths::{EndpointPath, IdPath};
use super::AppState;
use crate::auth::{Admin, Authenticated};
use crate::store::freeze as store;
use axum::extract::State;
use axum::http::{header, StatusCode};
use chrono::Utc;
use shared::api::freeze::{EndpointFreeze, FreezeWindow, FreezeWindowList};
use shared::freeze::{zone::check_time_zone, NewFreezeWindow, Schedule};
use shared::ErrorEnvelope;

/// Every freeze window, newest first, each with the stretch in force now and the next one.
#[utoipa::path(
    get,
    path = "/api/v1/freeze-windows",
    operation_id = "list_freeze_windows",
    tag = "freeze-windows",
    responses(
        (status = 200, body = FreezeWindowList),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authenticated,
) -> Result<AppJson<FreezeWindowList>, ApiError> {
    let now = Utc::now();
    let items = store::list(&state.pool)
        .await?
        .into_iter()
        .map(|w| w.view(now))
        .collect();
    Ok(AppJson(FreezeWindowList { items }))
}

/// Sets a freeze window: one-off (`starts_at`, `ends_at`) or weekly (`days`, `start`, `end`,
/// `time_zone`), for a workspace or one of its endpoints; audited.
#[utoipa::path(
    post,
    path = "/api/v1/freeze-windows",
    operation_id = "create_freeze_window",
    tag = "freeze-windows",
    request_body = NewFreezeWindow,
    responses(
        (status = 201, body = FreezeWindow),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated<Admin>,
    AppJson(request): AppJson<NewFreezeWindow>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        AppJson<FreezeWindow>,
    ),
    ApiError,
> {
    let now = Utc::now();
    let checked = request.check(now).map_err(ApiError::rejected)?;
    if let Schedule::Weekly { time_zone, .. } = &checked.schedule {
        check_time_zone(time_zone).map_err(|e| ApiError::rejected(vec![e]))?;
    }
    let stored = store::create(&state.pool, &auth.session.user.username, &checked).await?;
    let location = format!("/api/v1/freeze-windows/{}", stored.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        AppJson(stored.view(now)),
    ))
}

/// Removes a freeze window at once (changes it held can be applied again); audited.
#[utoipa::path(
    delete,
    path = "/api/v1/freeze-windows/{id}",
    operation_id = "delete_freeze_window",
    tag = "freeze-windows",
    params(("id" = Uuid, Path, description = "The window's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated<Admin>,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    store::delete(&state.pool, &auth.session.user.username, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether a freeze window stops the endpoint's changes now, and the next one to start.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}/freeze",
    operation_id = "get_endpoint_freeze",
    tag = "freeze-windows",
    params(EndpointPath),
    responses(
        (status = 200, body = EndpointFreeze),
    )
)]
pub async fn endpoint(
    State(state): State<AppState>,
    _auth: Authenticated,
    EndpointPath { endpoint }: EndpointPath,
) -> Result<AppJson<EndpointFreeze>, ApiError> {
    let workspace = state.workspace()?.workspace_id();
    let status = crate::freeze::status(&state.pool, &workspace, &endpoint, Utc::now()).await?;
    Ok(AppJson(status))
}
