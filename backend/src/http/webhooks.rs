//! `/api/v1/webhooks`: outgoing webhooks and their delivery log (admins only). The signing
//! secret is write-only: no answer, log line or audit event carries it.

use super::audit_log::{page_cursor, page_limit};
use super::error::ApiError;
use super::json::AppJson;
use super::paths::IdPath;
use super::query::AppQuery;
use super::AppState;
use crate::auth::{Admin, Authenticated};
use crate::store::webhooks::{self as store, WebhookFields};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use shared::api::webhooks::{
    CreateWebhookRequest, DeliveryPage, DeliveryView, UpdateWebhookRequest, WebhookList,
    WebhookView,
};
use shared::webhooks::{check_secret, check_url, parse_events, parse_format, WebhookFormat};
use shared::{ErrorEnvelope, FieldError};

fn problem(field: &str, message: String) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message,
    }
}

/// Every webhook.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    operation_id = "list_webhooks",
    tag = "webhooks",
    responses(
        (status = 200, body = WebhookList),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authenticated<Admin>,
) -> Result<AppJson<WebhookList>, ApiError> {
    Ok(AppJson(WebhookList {
        items: store::list(&state.pool).await?,
    }))
}

/// Sets up a webhook: events are POSTed to `url`, signed with `secret`.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    operation_id = "create_webhook",
    tag = "webhooks",
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, body = WebhookView),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated<Admin>,
    AppJson(request): AppJson<CreateWebhookRequest>,
) -> Result<(StatusCode, AppJson<WebhookView>), ApiError> {
    let mut problems = Vec::new();
    if let Err(message) = check_url(&request.url) {
        problems.push(problem("url", message));
    }
    let events = parse_events(&request.events).unwrap_or_else(|found| {
        problems.extend(found);
        Vec::new()
    });
    let format = match request.format.as_deref().map(parse_format) {
        None => WebhookFormat::default(),
        Some(Ok(format)) => format,
        Some(Err(found)) => {
            problems.push(found);
            WebhookFormat::default()
        }
    };
    if let Err(message) = check_secret(&request.secret) {
        problems.push(problem("secret", message));
    }
    if !problems.is_empty() {
        return Err(ApiError::rejected(problems));
    }
    let fields = WebhookFields {
        url: request.url,
        events,
        format,
        enabled: request.enabled.unwrap_or(true),
    };
    let actor = auth.session.user.username.to_string();
    let created = store::create(&state.pool, &actor, &fields, &request.secret).await?;
    Ok((StatusCode::CREATED, AppJson(created)))
}

/// Changes a webhook's URL, events, format, secret or whether it is enabled.
#[utoipa::path(
    patch,
    path = "/api/v1/webhooks/{id}",
    operation_id = "update_webhook",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The webhook's id")),
    request_body = UpdateWebhookRequest,
    responses(
        (status = 200, body = WebhookView),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated<Admin>,
    IdPath(id): IdPath,
    AppJson(request): AppJson<UpdateWebhookRequest>,
) -> Result<AppJson<WebhookView>, ApiError> {
    let mut problems = Vec::new();
    if let Some(Err(message)) = request.url.as_deref().map(check_url) {
        problems.push(problem("url", message));
    }
    let events = match request.events.as_deref().map(parse_events) {
        Some(Err(found)) => {
            problems.extend(found);
            None
        }
        Some(Ok(events)) => Some(events),
        None => None,
    };
    let format = match request.format.as_deref().map(parse_format) {
        Some(Err(found)) => {
            problems.push(found);
            None
        }
        Some(Ok(format)) => Some(format),
        None => None,
    };
    if let Some(Err(message)) = request.secret.as_deref().map(check_secret) {
        problems.push(problem("secret", message));
    }
    let nothing = request.url.is_none()
        && request.events.is_none()
        && request.format.is_none()
        && request.secret.is_none()
        && request.enabled.is_none();
    if nothing {
        problems.push(problem(
            "body",
            "give at least one of url, events, format, secret, enabled".into(),
        ));
    }
    if !problems.is_empty() {
        return Err(ApiError::rejected(problems));
    }
    let actor = auth.session.user.username.to_string();
    let UpdateWebhookRequest {
        url,
        secret,
        enabled,
        ..
    } = request;
    let updated = store::update(
        &state.pool,
        &actor,
        id,
        |current| WebhookFields {
            url: url.unwrap_or(current.url),
            events: events.unwrap_or(current.events),
            format: format.unwrap_or(current.format),
            enabled: enabled.unwrap_or(current.enabled),
        },
        secret.as_deref(),
    )
    .await?;
    Ok(AppJson(updated))
}

/// Deletes a webhook and its delivery log.
#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    operation_id = "delete_webhook",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The webhook's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated<Admin>,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    let actor = auth.session.user.username.to_string();
    store::delete(&state.pool, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryPageQuery {
    /// Rows per page (1–500, default 50).
    limit: Option<u32>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
}

/// A webhook's deliveries, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/deliveries",
    operation_id = "list_webhook_deliveries",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The webhook's id"), DeliveryPageQuery),
    responses(
        (status = 200, body = DeliveryPage),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, description = "A bad `limit` or `after`", body = ErrorEnvelope),
    )
)]
pub async fn deliveries(
    State(state): State<AppState>,
    _auth: Authenticated<Admin>,
    IdPath(id): IdPath,
    AppQuery(query): AppQuery<DeliveryPageQuery>,
) -> Result<AppJson<DeliveryPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    let after = page_cursor(query.after.as_deref())?;
    if !store::exists(&state.pool, id).await? {
        return Err(ApiError::NotFound);
    }
    Ok(AppJson(
        store::deliveries(&state.pool, id, after, limit).await?,
    ))
}

/// Sends a test delivery (`ping`) now; it shows in the delivery log like any other.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/test",
    operation_id = "test_webhook",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The webhook's id")),
    responses(
        (status = 202, description = "Queued; see the delivery log", body = DeliveryView),
        (status = 403, description = "Needs the admin role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn test(
    State(state): State<AppState>,
    auth: Authenticated<Admin>,
    IdPath(id): IdPath,
) -> Result<(StatusCode, AppJson<DeliveryView>), ApiError> {
    if !store::exists(&state.pool, id).await? {
        return Err(ApiError::NotFound);
    }
    let actor = auth.session.user.username.to_string();
    let payload = crate::webhooks::body::ping(id, &actor);
    let queued = store::enqueue_ping(&state.pool, id, &payload).await?;
    Ok((StatusCode::ACCEPTED, AppJson(queued)))
}
