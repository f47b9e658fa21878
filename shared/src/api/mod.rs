//! Request and response bodies of the REST API under `/api/v1`.

use serde::{Deserialize, Serialize};

pub mod accounts;
pub mod audit;
pub mod change_requests;
mod checks;
pub mod deployments;
pub mod metrics;
pub mod operations;
pub mod rollouts;
pub mod webhooks;
pub mod workspace;

pub use accounts::*;
pub use audit::{
    AuditChainState, AuditEventView, AuditPage, AuditQuery, BrokenEvent, ExportFormat,
};
pub use deployments::*;
pub use metrics::EndpointMetricsSummary;
pub use operations::{Operation, OperationKind, OperationList, OperationStatus, ProgressEntry};
pub use workspace::*;

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
