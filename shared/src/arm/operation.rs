//! The status of a long-running ARM operation, polled at the `Azure-AsyncOperation` URL until
//! it reaches a terminal state.

use super::error::ArmError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `{"id", "name", "status", "startTime", "endTime", "error"}` as the async-operation URL
/// returns it. `error` is set when `status` is `Failed` (or `Canceled`, sometimes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: OperationState,
    /// RFC 3339 text, kept as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ArmError>,
    /// `percentComplete` and other fields land here.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

arm_enum! {
    /// Where a long-running operation is.
    pub enum OperationState {
        InProgress => "InProgress",
        Succeeded => "Succeeded",
        Failed => "Failed",
        Canceled => "Canceled",
    }
}

impl OperationState {
    /// ARM's rule: any status other than `Succeeded`, `Failed` or `Canceled` means "keep
    /// polling", including values this version does not know.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_running_operation_round_trips() {
        let v = json!({"id": "/subscriptions/s/providers/op/1", "name": "1",
                       "status": "InProgress", "startTime": "2024-05-01T10:00:00.1234567Z",
                       "percentComplete": 50.0});
        let s: OperationStatus = serde_json::from_value(v.clone()).expect("parse");
        assert_eq!(s.status, OperationState::InProgress);
        assert!(!s.status.is_terminal());
        assert_eq!(serde_json::to_value(&s).expect("serialize"), v);
    }

    #[test]
    fn a_failed_operation_carries_the_error() {
        let v = json!({"status": "Failed", "endTime": "2024-05-01T10:05:00Z",
                       "error": {"code": "DeploymentFailed", "message": "the model did not load"}});
        let s: OperationStatus = serde_json::from_value(v.clone()).expect("parse");
        assert!(s.status.is_terminal());
        assert_eq!(s.error.map(|e| e.code).as_deref(), Some("DeploymentFailed"));
    }

    #[test]
    fn unknown_statuses_mean_keep_polling() {
        assert!(!OperationState::from("Running").is_terminal());
        assert!(OperationState::Canceled.is_terminal());
    }
}
