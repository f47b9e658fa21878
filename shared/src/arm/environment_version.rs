//! Environment versions (`.../workspaces/{w}/environments/{name}/versions/{version}`): the
//! container image or conda environment a deployment's scoring script runs in.

use super::resource::{ProvisioningState, TrackedResource};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// An environment version. A proxy resource: no `location`, `tags` or `sku` in the envelope.
pub type EnvironmentVersion = TrackedResource<EnvironmentVersionProperties>;

/// `properties` of an environment version: a base `image` (optionally with a `conda_file`), or
/// a Docker `build` context.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentVersionProperties {
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
    /// Read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_type: Option<EnvironmentType>,
    /// Container image, e.g. `mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The conda YAML, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conda_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildContext>,
    /// Routes of a custom inference server; absent for the Azure ML inference server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference_config: Option<InferenceContainerProperties>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_type: Option<OperatingSystemType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    /// `autoRebuild` and anything newer land here.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

arm_enum! {
    /// Who maintains an environment.
    pub enum EnvironmentType {
        Curated => "Curated",
        UserCreated => "UserCreated",
    }
}

arm_enum! {
    /// The OS of an environment's image.
    pub enum OperatingSystemType {
        Linux => "Linux",
        Windows => "Windows",
    }
}

/// A Docker build context and the Dockerfile inside it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile_path: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The liveness, readiness and scoring routes of a custom inference server.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceContainerProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_route: Option<Route>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_route: Option<Route>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scoring_route: Option<Route>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// An HTTP path and port inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}
