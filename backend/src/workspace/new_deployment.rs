//! The ARM body of a new managed deployment from the API's request, and the request as an
//! operation and its audit event record it. Used by the deployments API and by a rollout's
//! deploy step, so both create the same deployment from the same request.

use super::{ArmClient, WorkspaceError};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shared::api::{CreateDeploymentRequest, ProbeRequest, SAMPLE_REQUEST_PROPERTY};
use shared::arm::{
    CodeConfiguration, EndpointComputeType, OnlineDeployment, OnlineDeploymentProperties,
    ProbeSettings, RequestSettings, ScaleSettings, ScaleType, Sku,
};
use shared::{format_iso8601_duration, DeploymentName, EndpointName};
use std::time::Duration;

fn seconds(value: u64) -> String {
    format_iso8601_duration(Duration::from_secs(value))
}

fn probe(request: &ProbeRequest) -> ProbeSettings {
    ProbeSettings {
        initial_delay: request.initial_delay_s.map(seconds),
        period: request.period_s.map(seconds),
        timeout: request.timeout_s.map(seconds),
        failure_threshold: request.failure_threshold,
        success_threshold: request.success_threshold,
        ..ProbeSettings::default()
    }
}

/// The code asset a deployment runs: the one asked for, else the model's namesake (the demo
/// models register their code under the same name and version).
fn code_of(request: &CreateDeploymentRequest) -> String {
    request
        .code
        .clone()
        .unwrap_or_else(|| match request.model.strip_prefix("azureml:") {
            Some(short) => format!("azureml:{short}"),
            None => request.model.replacen("/models/", "/codes/", 1),
        })
}

/// The ARM body of a new managed deployment.
pub fn arm_body(request: &CreateDeploymentRequest, location: String) -> OnlineDeployment {
    let request_settings = request
        .request_settings
        .as_ref()
        .map(|settings| RequestSettings {
            request_timeout: settings
                .request_timeout_ms
                .map(|ms| format_iso8601_duration(Duration::from_millis(ms))),
            max_concurrent_requests_per_instance: settings.max_concurrent_requests_per_instance,
            ..RequestSettings::default()
        });
    OnlineDeployment {
        location: Some(location),
        sku: Some(Sku {
            name: "Default".into(),
            capacity: Some(request.instance_count),
            ..Sku::default()
        }),
        properties: OnlineDeploymentProperties {
            endpoint_compute_type: Some(EndpointComputeType::Managed),
            model: Some(request.model.clone()),
            code_configuration: Some(CodeConfiguration {
                code_id: Some(code_of(request)),
                scoring_script: Some(
                    request
                        .scoring_script
                        .clone()
                        .unwrap_or_else(|| "score.py".into()),
                ),
                ..CodeConfiguration::default()
            }),
            environment_id: request.environment.clone(),
            environment_variables: (!request.environment_variables.is_empty())
                .then(|| request.environment_variables.clone()),
            instance_type: Some(request.instance_type.clone()),
            scale_settings: Some(ScaleSettings {
                scale_type: ScaleType::Default,
                min_instances: None,
                max_instances: None,
                polling_interval: None,
                target_utilization_percentage: None,
                extra: Default::default(),
            }),
            request_settings,
            liveness_probe: request.liveness_probe.as_ref().map(probe),
            readiness_probe: request.readiness_probe.as_ref().map(probe),
            ..OnlineDeploymentProperties::default()
        },
        ..OnlineDeployment::default()
    }
}

/// The request as its operation and audit event record it, and as a rollout shows it:
/// everything asked for, except that each environment variable's value is replaced by its
/// [`fingerprint`]. Values are often secrets (API keys, passwords) and the audit log and
/// rollouts are readable by every viewer (and the log is never pruned).
pub fn masked(request: &CreateDeploymentRequest) -> CreateDeploymentRequest {
    let mut masked = request.clone();
    for (name, value) in &mut masked.environment_variables {
        *value = fingerprint(name, value);
    }
    masked
}

/// [`masked`] as JSON, for operation requests and audit details.
pub fn recorded(request: &CreateDeploymentRequest) -> Value {
    json!(masked(request))
}

/// `sha256:` and the first 16 hex digits of SHA-256 over a variable's name and value. Hashed
/// rather than left out so that an auditor can tell whether a value changed between two
/// deployments without seeing it. Not encryption: a value short enough to guess can still be
/// confirmed by hashing the guess, so this shows no more than "changed / same".
fn fingerprint(name: &str, value: &str) -> String {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([0])
        .chain_update(value.as_bytes())
        .finalize();
    format!("sha256:{}", &hex::encode(digest)[..16])
}

impl ArmClient {
    /// The sample scoring request of the deployment's model (its `sampleRequest` property),
    /// or `None` when the model has none.
    pub async fn sample_request(
        &self,
        endpoint: &EndpointName,
        deployment: &DeploymentName,
    ) -> Result<Option<Value>, WorkspaceError> {
        let found = self.get_deployment(endpoint, deployment).await?;
        let Some(model) = found.properties.model else {
            return Ok(None);
        };
        let version = self.get_asset_version("models", &model).await?;
        Ok(version.properties["properties"][SAMPLE_REQUEST_PROPERTY]
            .as_str()
            .and_then(|sample| serde_json::from_str(sample).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_requests_name_variables_and_hash_their_values() {
        let request: CreateDeploymentRequest = serde_json::from_value(json!({
            "name": "green",
            "model": "azureml:regression-v2:1",
            "instance_type": "Standard_DS3_v2",
            "instance_count": 1,
            "environment_variables": { "API_SECRET": "hunter2", "OTHER": "hunter2" },
        }))
        .expect("a request");
        let recorded = recorded(&request);
        let text = recorded.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        let variables = &recorded["environment_variables"];
        let secret = variables["API_SECRET"].as_str().expect("a fingerprint");
        assert!(
            secret.starts_with("sha256:") && secret.len() == 7 + 16,
            "{secret}"
        );
        assert_ne!(
            variables["API_SECRET"], variables["OTHER"],
            "the name is hashed too"
        );
        assert_eq!(
            recorded["model"], "azureml:regression-v2:1",
            "the rest is kept"
        );
        assert_eq!(fingerprint("A", "b"), fingerprint("A", "b"));
        assert_ne!(fingerprint("A", "b"), fingerprint("A", "c"));
    }
}
