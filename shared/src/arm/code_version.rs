//! Code versions (`.../workspaces/{w}/codes/{name}/versions/{version}`): the folder holding a
//! deployment's scoring script. The local workspace stores them with `file://` URIs.

use super::resource::{ProvisioningState, TrackedResource};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A code version. A proxy resource: no `location`, `tags` or `sku` in the envelope.
pub type CodeVersion = TrackedResource<CodeVersionProperties>;

/// `properties` of a code version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeVersionProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_anonymous: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_archived: Option<bool>,
    /// Where the code folder is (`https://...` blob, or `file://` locally).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_uri: Option<String>,
    /// Read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}
