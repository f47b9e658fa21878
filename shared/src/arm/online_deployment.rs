//! Online deployments (`.../onlineEndpoints/{e}/deployments/{d}`) and their `getLogs` and
//! `skus` sub-resources.
//!
//! ARM models a deployment as a union on `endpointComputeType` (`Managed`, `Kubernetes`). Here
//! it is one flat struct holding the fields of both: Greenlight must read Kubernetes
//! deployments it finds in a workspace, the local workspace refuses them with a clear message,
//! and a flat struct round-trips either kind without a custom deserializer.

use super::resource::{ProvisioningState, PublicNetworkAccess, SkuTier, TrackedResource};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// An online deployment as ARM returns it and as a PUT sends it. `sku.capacity` is the
/// instance count.
pub type OnlineDeployment = TrackedResource<OnlineDeploymentProperties>;

/// `properties` of an online deployment: what runs (model, code, environment), on what
/// (`instance_type`), and how it is scaled, probed and throttled.
///
/// Durations (`requestTimeout`, probe periods...) are ISO-8601 text as sent; read them with
/// [`crate::limits::parse_iso8601_duration`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineDeploymentProperties {
    /// Required by Azure; decides which other fields apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_compute_type: Option<EndpointComputeType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free-form string properties set by the creator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, String>>,
    /// ARM id (or `azureml:` reference) of the model version to serve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Where the model is mounted inside the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_mount_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_configuration: Option<CodeConfiguration>,
    /// ARM id of the environment version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_variables: Option<BTreeMap<String, String>>,
    /// VM size, e.g. `Standard_DS3_v2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_settings: Option<ScaleSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_settings: Option<RequestSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<ProbeSettings>,
    /// Managed deployments only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<ProbeSettings>,
    /// Read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_insights_enabled: Option<bool>,
    /// Managed deployments only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress_public_network_access: Option<PublicNetworkAccess>,
    /// Kubernetes deployments only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_resource_requirements: Option<ContainerResourceRequirements>,
    /// `dataCollector` and anything newer land here.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

arm_enum! {
    /// Where a deployment runs.
    pub enum EndpointComputeType {
        /// Azure-managed VMs; the only kind the local workspace emulates.
        Managed => "Managed",
        /// An attached Kubernetes cluster.
        Kubernetes => "Kubernetes",
        AzureMlCompute => "AzureMLCompute",
    }
}

/// The scoring script and the code asset it lives in.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeConfiguration {
    /// ARM id of the code version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_id: Option<String>,
    /// Path of the script (with `init()` and `run()`) inside the code asset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scoring_script: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// How the instance count is decided. ARM's union on `scaleType`, flattened: with `Default` the
/// count is `sku.capacity` and the other fields are absent; with `TargetUtilization` Azure
/// autoscales between `min_instances` and `max_instances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleSettings {
    pub scale_type: ScaleType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_instances: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<i64>,
    /// ISO-8601 duration between autoscale decisions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polling_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_utilization_percentage: Option<i64>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

arm_enum! {
    /// The kind of [`ScaleSettings`].
    pub enum ScaleType {
        Default => "Default",
        TargetUtilization => "TargetUtilization",
    }
}

/// Per-request limits of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestSettings {
    /// ISO-8601; at most [`crate::limits::MAX_REQUEST_TIMEOUT`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_requests_per_instance: Option<i64>,
    /// ISO-8601; how long a request may wait for a free instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_queue_wait: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A liveness or readiness probe. Durations are ISO-8601 text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSettings {
    /// Consecutive failures before the instance counts as down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i64>,
    /// Consecutive successes before it counts as up again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Kubernetes resource requests and limits of the inference container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerResourceRequirements {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_resource_requests: Option<ContainerResourceSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_resource_limits: Option<ContainerResourceSettings>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Kubernetes quantities as text, e.g. `"1"`, `"2Gi"`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerResourceSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The body of `getLogs`: which container's log, and how many lines from its end.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentLogsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_type: Option<ContainerType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail: Option<i64>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

arm_enum! {
    /// The containers of a deployment instance that keep a log.
    pub enum ContainerType {
        /// Downloads the model and code before the server starts.
        StorageInitializer => "StorageInitializer",
        /// Runs the scoring script.
        InferenceServer => "InferenceServer",
    }
}

/// The answer of `getLogs`: the log text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentLogs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One entry of a deployment's `skus` list: which SKU it may scale to, and within what bounds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkuResource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<SkuSetting>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<SkuCapacity>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The SKU named in a [`SkuResource`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkuSetting {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<SkuTier>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The instance-count bounds of a [`SkuResource`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkuCapacity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_type: Option<SkuScaleType>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

arm_enum! {
    /// How a SKU's capacity may change.
    pub enum SkuScaleType {
        Automatic => "Automatic",
        Manual => "Manual",
        None => "None",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn target_utilization_scale_settings_round_trip() {
        let v = json!({"scaleType": "TargetUtilization", "minInstances": 1, "maxInstances": 5,
                       "pollingInterval": "PT1S", "targetUtilizationPercentage": 70});
        let s: ScaleSettings = serde_json::from_value(v.clone()).expect("parse");
        assert_eq!(s.scale_type, ScaleType::TargetUtilization);
        assert_eq!(s.max_instances, Some(5));
        assert_eq!(serde_json::to_value(&s).expect("serialize"), v);
    }

    #[test]
    fn unmodelled_deployment_fields_are_kept() {
        let v = json!({"endpointComputeType": "Managed",
                       "dataCollector": {"collections": {"model_inputs": {"enabled": "True"}}}});
        let p: OnlineDeploymentProperties = serde_json::from_value(v.clone()).expect("parse");
        assert!(p.extra.contains_key("dataCollector"));
        assert_eq!(serde_json::to_value(&p).expect("serialize"), v);
    }

    #[test]
    fn a_minimal_managed_deployment_serializes_only_what_is_set() {
        let p = OnlineDeploymentProperties {
            endpoint_compute_type: Some(EndpointComputeType::Managed),
            model: Some("azureml:model-1:1".into()),
            request_settings: Some(RequestSettings {
                request_timeout: Some("PT5S".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&p).expect("serialize"),
            json!({"endpointComputeType": "Managed", "model": "azureml:model-1:1",
                   "requestSettings": {"requestTimeout": "PT5S"}})
        );
    }

    #[test]
    fn the_compute_type_azureml_compute_keeps_its_wire_spelling() {
        assert_eq!(
            EndpointComputeType::AzureMlCompute.as_str(),
            "AzureMLCompute"
        );
        assert_eq!(
            EndpointComputeType::from("AzureMLCompute"),
            EndpointComputeType::AzureMlCompute
        );
    }
}
