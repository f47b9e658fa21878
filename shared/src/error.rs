//! The one error envelope every 4xx and 5xx answer of the API carries (see `docs/API.md`).

use serde::{Deserialize, Serialize};

/// `{"error": {...}}` — the body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// A stable snake_case word, e.g. `validation_failed`, `unauthenticated`, `rate_limited`.
    pub code: String,
    /// A sentence for people. For 5xx answers it never carries internal detail.
    pub message: String,
    /// Which input fields broke which rule, when the error is about input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// Quote this when reporting a problem; the server logs it with the real cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The workspace's own error (Azure's code and message, unchanged) when it caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<WorkspaceErrorDetails>,
    /// On a `conflict` about something people edit together (e.g. traffic), its current state,
    /// so the client can show it and let the user decide again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub current: Option<serde_json::Value>,
}

/// An error as Azure ML (or the local workspace) reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkspaceErrorDetails {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}
