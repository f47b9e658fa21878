//! `/api/v1/webhooks`: outgoing webhooks an admin sets up, and their delivery log.

use crate::webhooks::{WebhookEvent, WebhookFormat};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A webhook as the API shows it. Its secret is write-only: never returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub format: WebhookFormat,
    pub enabled: bool,
    /// When the signing secret was last set (the secret itself is never shown).
    pub secret_set_at: DateTime<Utc>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

/// `POST /api/v1/webhooks`. Events and format are names, checked so that a bad one is named
/// (`events[2]`, `format`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Absolute `http` or `https` URL the events are POSTed to.
    pub url: String,
    /// Event names, e.g. `change_request.created`.
    pub events: Vec<String>,
    /// The HMAC-SHA256 signing key, 16–256 printable ASCII characters. Write-only.
    pub secret: String,
    /// `json` (default), `slack` or `teams`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `PATCH /api/v1/webhooks/{id}`: fields left out stay as they are; at least one is needed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// A new signing secret (write-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet; tried again at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; no more are made.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|state| state.as_str() == name)
    }
}

/// One row of a webhook's delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    /// Also sent as `X-Greenlight-Delivery`.
    pub id: i64,
    pub webhook_id: Uuid,
    /// A [`WebhookEvent`] name, or `ping` for a test delivery.
    pub event: String,
    /// The audit event it reports (none for a ping).
    pub audit_event_id: Option<i64>,
    pub workspace: Option<String>,
    pub endpoint: Option<String>,
    pub state: DeliveryState,
    pub attempts: i32,
    /// The receiver's last HTTP status, when it answered.
    pub last_status: Option<i32>,
    /// Why the last attempt failed, in a few words.
    pub last_error: Option<String>,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of deliveries, newest first; `next` is the cursor of the following page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryPage {
    pub items: Vec<DeliveryView>,
    pub next: Option<String>,
}
