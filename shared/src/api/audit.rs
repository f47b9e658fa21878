//! `GET /api/v1/audit`: the audit log, newest first, a page at a time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One row of the hash-chained audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEventView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// An [`crate::audit::AuditAction`] name, e.g. `traffic.change`.
    pub action: String,
    pub target: String,
    /// Before/after, outcome, the workspace's operation id; never a secret.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: Value,
}

/// A page of the audit log; `next` is the cursor of the following page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub items: Vec<AuditEventView>,
    pub next: Option<String>,
}

/// Rows a page holds when the caller does not say.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// The most rows one page may hold.
pub const MAX_PAGE_LIMIT: u32 = 500;

/// The filters of `GET /api/v1/audit` and `GET /api/v1/audit/export`, as the query string
/// carries them: raw text, so that [`crate::audit_filter::AuditFilter::parse`] can name the field
/// a bad value came in. An empty value is no filter (a form's empty field).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
pub struct AuditQuery {
    /// Who did it (exact user name, or `system`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// An action name, e.g. `traffic.change`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Events about this endpoint (or one of its deployments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Events of this rollout (its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<String>,
    /// Events of this change request (its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_request: Option<String>,
    /// Events at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Events before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Text anywhere in the action, actor, target or details (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
}

/// `GET /api/v1/audit/chain`: how far the hash chain is verified, or where it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditChainState {
    /// The newest event checked, `None` while the log is empty (or broken before any).
    pub verified_up_to: Option<i64>,
    /// How many events lead up to `verified_up_to`, all checked.
    pub verified_events: u64,
    /// The time of the event `verified_up_to`.
    pub verified_event_at: Option<DateTime<Utc>>,
    /// When the server last extended the verification.
    pub checked_at: DateTime<Utc>,
    /// The first event that breaks the chain, once one does.
    pub broken: Option<BrokenEvent>,
}

/// The first event of the chain that does not match its hash or its link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BrokenEvent {
    pub id: i64,
    pub reason: String,
}

/// The formats `GET /api/v1/audit/export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON object per line (`application/x-ndjson`).
    Jsonl,
    /// RFC 4180 CSV with a header row; `details` is a JSON column.
    Csv,
}
