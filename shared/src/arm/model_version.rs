//! Model versions (`.../workspaces/{w}/models/{name}/versions/{version}`): the model files a
//! deployment serves. The local workspace stores them with `file://` URIs.

use super::resource::{ProvisioningState, TrackedResource};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A model version. A proxy resource: no `location`, `tags` or `sku` in the envelope.
pub type ModelVersion = TrackedResource<ModelVersionProperties>;

/// `properties` of a model version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelVersionProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Asset tags live inside `properties` (unlike tracked resources' envelope tags).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_anonymous: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_archived: Option<bool>,
    /// Serving flavours by name (MLflow and the like).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flavors: Option<BTreeMap<String, FlavorData>>,
    /// e.g. `CustomModel`, `MLFlowModel`, `TritonModel`; free text in the ARM spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// Where the model files are (`azureml://...`, `https://...`, or `file://` locally).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The settings of one model flavour.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlavorData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}
