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
