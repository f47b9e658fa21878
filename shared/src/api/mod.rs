//! Request and response bodies of the REST API under `/api/v1`.

use serde::{Deserialize, Serialize};

pub mod accounts;
pub mod audit;
pub mod change_requests;
mod checks;
pub mod deployments;
pub mod freeze;
pub mod metrics;
pub mod operations;
pub mod rollouts;
pub mod sso;
pub mod tokens;
pub mod webhooks;
pub mod workspace;

pub use accounts::*;
pub use audit::{
    AuditChainState, AuditEventView, AuditPage, AuditQuery, BrokenEvent, ExportFormat,
};
pub use deployments::*;
pub use metrics::EndpointMetricsSummary;
pub use operations::{Operation, OperationKind, OperationList, OperationStatus, ProgressEntry};
pub use sso::{
    SignInMethods, SsoError, SsoProvider, SSO_CALLBACK_PATH, SSO_ERROR_PARAM, SSO_START_PATH,
};
pub use workspace::*;

/// "2026-12-27 08:00 UTC", by hand: chrono's formatter is sizeable in the wasm bundle. The
/// console writes every time this way, and so do messages that name a time.
pub fn clock(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// The header that carries the CSRF token on every state-changing request.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` when every check passed, else `degraded`.
    pub status: String,
    /// `ok`, or `unavailable` when the database did not answer.
    pub database: String,
    pub version: String,
}

/// `GET /api/v1/about`: what this Greenlight instance is connected to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct About {
    pub version: String,
    /// The embedded local workspace, when this instance runs one.
    pub local_workspace: Option<LocalWorkspaceInfo>,
}

/// Where the embedded local workspace (the Azure ML emulator) listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalWorkspaceInfo {
    /// Base URL of its ARM API.
    pub arm_url: String,
    /// Base URL of its scoring URIs.
    pub scoring_url: String,
}
