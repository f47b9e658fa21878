//! Long-running work: what `202 Accepted` points at (`/api/v1/operations/{id}`).

use crate::error::WorkspaceErrorDetails;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OperationKind {
    #[serde(rename = "endpoint.create")]
    EndpointCreate,
    #[serde(rename = "endpoint.delete")]
    EndpointDelete,
    #[serde(rename = "deployment.create")]
    DeploymentCreate,
    #[serde(rename = "deployment.scale")]
    DeploymentScale,
    #[serde(rename = "deployment.delete")]
    DeploymentDelete,
    #[serde(rename = "traffic.change")]
    TrafficChange,
    #[serde(rename = "keys.regenerate")]
    KeysRegenerate,
}

impl OperationKind {
    pub const ALL: [OperationKind; 7] = [
        Self::EndpointCreate,
        Self::EndpointDelete,
        Self::DeploymentCreate,
        Self::DeploymentScale,
        Self::DeploymentDelete,
        Self::TrafficChange,
        Self::KeysRegenerate,
    ];

    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndpointCreate => "endpoint.create",
            Self::EndpointDelete => "endpoint.delete",
            Self::DeploymentCreate => "deployment.create",
            Self::DeploymentScale => "deployment.scale",
            Self::DeploymentDelete => "deployment.delete",
            Self::TrafficChange => "traffic.change",
            Self::KeysRegenerate => "keys.regenerate",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Where an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OperationStatus {
    Running,
    Succeeded,
    Failed,
}

impl OperationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(Self::Running),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One step an operation reported, e.g. "Azure accepted the request".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgressEntry {
    pub at: DateTime<Utc>,
    pub message: String,
}

/// `GET /api/v1/operations/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Operation {
    pub id: Uuid,
    pub kind: OperationKind,
    pub endpoint: String,
    pub deployment: Option<String>,
    pub status: OperationStatus,
    pub requested_by: String,
    pub progress: Vec<ProgressEntry>,
    /// Why it failed: the workspace's code and message, unchanged.
    pub error: Option<WorkspaceErrorDetails>,
    /// The workspace's id for the operation, to quote to Azure support.
    pub arm_operation_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/operations`: the most recent first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperationList {
    pub items: Vec<Operation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_as_their_stored_names() {
        for kind in OperationKind::ALL {
            let json = serde_json::to_string(&kind).expect("serialize");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(OperationKind::parse(kind.as_str()), Some(kind));
        }
    }
}
