//! The webhook routes (admins): list, create, enable / disable, delete, a test delivery, and a
//! webhook's delivery log. A submodule of [`crate::api`] so it shares the client's error
//! handling and CSRF header.

use super::{get, seg, send, with_csrf, write, ApiError, NO_BODY};
use gloo_net::http::Request;
use shared::api::webhooks::{
    CreateWebhookRequest, DeliveryPage, DeliveryView, UpdateWebhookRequest, WebhookList,
    WebhookView,
};
use uuid::Uuid;

fn webhook_path(id: Uuid) -> String {
    format!("/api/v1/webhooks/{}", seg(&id.to_string()))
}

pub async fn webhooks() -> Result<WebhookList, ApiError> {
    get("/api/v1/webhooks").await
}

/// Sets up a webhook (422 naming `url`, `events[i]`, `format` or `secret`).
pub async fn create_webhook(request: &CreateWebhookRequest) -> Result<WebhookView, ApiError> {
    write(Request::post("/api/v1/webhooks"), Some(request)).await
}

pub async fn update_webhook(
    id: Uuid,
    request: &UpdateWebhookRequest,
) -> Result<WebhookView, ApiError> {
    write(Request::patch(&webhook_path(id)), Some(request)).await
}

pub async fn delete_webhook(id: Uuid) -> Result<(), ApiError> {
    send(with_csrf(Request::delete(&webhook_path(id))), None)
        .await
        .map(drop)
}

/// Queues a test delivery (`ping`).
pub async fn test_webhook(id: Uuid) -> Result<DeliveryView, ApiError> {
    write(
        Request::post(&format!("{}/test", webhook_path(id))),
        NO_BODY,
    )
    .await
}

/// The newest deliveries of webhook `id`.
pub async fn deliveries(id: Uuid) -> Result<DeliveryPage, ApiError> {
    get(&format!("{}/deliveries?limit=50", webhook_path(id))).await
}
