//! The ARM error body, `{"error": {"code", "message", "target", "details", "additionalInfo"}}`,
//! which Azure returns with every 4xx/5xx and inside failed operation statuses, and which the
//! local workspace must return the same way so the ARM client has one error path.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The whole error response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmErrorResponse {
    pub error: ArmError,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl ArmErrorResponse {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ArmError::new(code, message),
            extra: BTreeMap::new(),
        }
    }
}

impl From<ArmError> for ArmErrorResponse {
    fn from(error: ArmError) -> Self {
        Self {
            error,
            extra: BTreeMap::new(),
        }
    }
}

/// One error: a machine-readable `code` (e.g. `BadRequest`, `ResourceNotFound`), a sentence for
/// people, optionally the field at fault (`target`) and nested causes (`details`).
///
/// `code` and `message` are required: ARM always sends both, and an error without them is
/// useless to the person reading it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<ArmError>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_info: Option<Vec<ArmErrorAdditionalInfo>>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl ArmError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            ..Self::default()
        }
    }

    /// Names the field at fault, as an ARM JSON path like `properties.traffic`.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Adds nested causes, e.g. one per broken rule.
    pub fn with_details(mut self, details: Vec<ArmError>) -> Self {
        self.details = Some(details);
        self
    }
}

impl fmt::Display for ArmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ArmError {}

/// Extra machine-readable context of an error (`type` plus a free-form `info` object).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmErrorAdditionalInfo {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub info_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_minimal_error_is_just_code_and_message() {
        let body = ArmErrorResponse::new("ResourceNotFound", "endpoint 'x' was not found");
        assert_eq!(
            serde_json::to_value(&body).expect("serialize"),
            json!({"error": {"code": "ResourceNotFound", "message": "endpoint 'x' was not found"}})
        );
    }

    #[test]
    fn a_full_error_round_trips() {
        let v = json!({"error": {
            "code": "BadRequest",
            "message": "The request is invalid.",
            "target": "properties.traffic",
            "details": [{"code": "InvalidTraffic", "message": "traffic must add up to 100 (got 90)",
                         "target": "properties.traffic"}],
            "additionalInfo": [{"type": "PolicyViolation", "info": {"policy": "p"}}]
        }});
        let body: ArmErrorResponse = serde_json::from_value(v.clone()).expect("parse");
        assert_eq!(body.error.details.as_ref().map(Vec::len), Some(1));
        assert_eq!(serde_json::to_value(&body).expect("serialize"), v);
    }

    #[test]
    fn builders_set_target_and_details() {
        let e = ArmError::new("BadRequest", "bad")
            .with_target("properties.traffic")
            .with_details(vec![ArmError::new("X", "y")]);
        assert_eq!(e.target.as_deref(), Some("properties.traffic"));
        assert_eq!(e.to_string(), "BadRequest: bad");
    }

    #[test]
    fn an_error_without_a_message_is_refused() {
        assert!(
            serde_json::from_value::<ArmErrorResponse>(json!({"error": {"code": "X"}})).is_err()
        );
    }
}
