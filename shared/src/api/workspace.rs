//! Bodies of the workspace routes: endpoints, traffic, invoke, keys, logs, assets (deployments
//! are in `deployments`).
//!
//! These are Greenlight's own shapes (snake_case, only what a console needs), not ARM's; the
//! server translates. Each request type carries its `check`, so the console validates a form
//! with exactly the rule and message the server applies before anything reaches the workspace.

use crate::error::FieldError;
use crate::text;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub use crate::asset::{AssetKind, AssetRef};

/// Shares in percent, keyed by deployment name.
pub type Split = BTreeMap<String, i64>;

use super::checks::{check_name, check_text, done};

// ------------------------------------------------------------------------------- endpoints

/// An online endpoint as the console shows it (`GET /api/v1/endpoints[/{endpoint}]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointSummary {
    pub name: String,
    /// `Key` or `AMLToken`.
    pub auth_mode: Option<String>,
    /// Azure's provisioning state, e.g. `Creating`, `Succeeded`, `Failed`.
    pub provisioning_state: Option<String>,
    /// Live shares in percent, by deployment.
    pub traffic: Split,
    /// Mirrored shares in percent, by deployment.
    pub mirror_traffic: Split,
    /// The version of `traffic` + `mirror_traffic` to send back with a change.
    pub traffic_version: String,
    pub scoring_uri: Option<String>,
    pub description: Option<String>,
}

impl EndpointSummary {
    /// An endpoint as the console shows it.
    pub fn of(endpoint: &crate::arm::OnlineEndpoint) -> Self {
        let split = TrafficState::of(endpoint);
        let properties = &endpoint.properties;
        Self {
            name: endpoint.name.clone().unwrap_or_default(),
            auth_mode: properties.auth_mode.as_ref().map(|m| m.to_string()),
            provisioning_state: properties
                .provisioning_state
                .as_ref()
                .map(|s| s.to_string()),
            traffic_version: split.version,
            traffic: split.traffic,
            mirror_traffic: split.mirror_traffic,
            scoring_uri: properties.scoring_uri.clone(),
            description: properties.description.clone(),
        }
    }
}

/// `GET /api/v1/endpoints`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointList {
    pub items: Vec<EndpointSummary>,
}

/// How clients authenticate to an endpoint's scoring URI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EndpointAuthMode {
    /// A primary and a secondary key that do not expire.
    #[default]
    Key,
    /// Azure ML tokens that expire.
    AmlToken,
}

/// `POST /api/v1/endpoints`: a new endpoint, without deployments or traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointRequest {
    pub name: String,
    #[serde(default)]
    pub auth_mode: EndpointAuthMode,
    #[serde(default)]
    pub description: Option<String>,
}

/// The longest description Greenlight forwards.
pub const MAX_DESCRIPTION_LEN: usize = text::DESCRIPTION.max_chars;

impl CreateEndpointRequest {
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut problems = Vec::new();
        check_name("name", &self.name, &mut problems);
        if let Some(description) = &self.description {
            check_text("description", description, text::DESCRIPTION, &mut problems);
        }
        done(problems)
    }
}

// --------------------------------------------------------------------------------- traffic

/// `GET /api/v1/endpoints/{endpoint}/traffic`. `version` is also the `ETag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrafficState {
    pub traffic: Split,
    pub mirror_traffic: Split,
    pub version: String,
}

impl TrafficState {
    /// The split an endpoint carries, and its version.
    pub fn of(endpoint: &crate::arm::OnlineEndpoint) -> Self {
        let (traffic, mirror_traffic) = endpoint.properties.splits();
        Self {
            version: crate::traffic::traffic_version(&traffic, &mirror_traffic),
            traffic,
            mirror_traffic,
        }
    }
}

/// `PUT /api/v1/endpoints/{endpoint}/traffic`: the whole new split, and the version it was
/// based on (here or as `If-Match`). A stale version is refused with 409 and the current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrafficChange {
    pub traffic: Split,
    #[serde(default)]
    pub mirror_traffic: Split,
    #[serde(default)]
    pub version: Option<String>,
}

// ---------------------------------------------------------------------------------- invoke

/// `POST /api/v1/endpoints/{endpoint}/invoke`: a scoring request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InvokeRequest {
    /// The JSON body sent to the scoring URI.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub body: Value,
    /// Send to this deployment directly instead of by traffic.
    #[serde(default)]
    pub deployment: Option<String>,
}

/// What the scoring URI answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvokeResult {
    /// The scoring URI's HTTP status (the model's errors are answers too, e.g. 424).
    pub status: u16,
    /// The answer: JSON when it parses, else the text.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub body: Value,
    pub latency_ms: f64,
    /// The deployment that answered.
    pub deployment: Option<String>,
}

// ------------------------------------------------------------------------------------ keys

/// `GET /api/v1/endpoints/{endpoint}/keys` (masked) or `POST …/keys/reveal` (in clear).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointKeys {
    pub primary_key: String,
    pub secondary_key: String,
    /// True when the keys are shown as `••••` plus their last four characters.
    pub masked: bool,
}

/// Which of an endpoint's two keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyName {
    Primary,
    Secondary,
}

/// `POST /api/v1/endpoints/{endpoint}/keys/regenerate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegenerateKeyRequest {
    pub key: KeyName,
}

/// A key as a console may show it without revealing it: `••••` and its last four characters.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    if chars.len() <= 8 {
        "••••".to_owned()
    } else {
        format!("••••{tail}")
    }
}

// ------------------------------------------------------------------------------------ logs

/// `GET /api/v1/endpoints/{endpoint}/deployments/{deployment}/logs?tail=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeploymentLogs {
    pub content: String,
}

/// The most lines a log tail may ask for (Azure's own limit).
pub const MAX_LOG_TAIL: u32 = 10_000;
/// Lines a log tail shows when the caller does not say.
pub const DEFAULT_LOG_TAIL: u32 = 200;

// ---------------------------------------------------------------------------------- assets

/// The key, in a model version's free-form `properties`, of a sample scoring request (JSON
/// text). The local workspace sets it from each demo model's `sample-request.json`; a team on
/// Azure can set it when registering a model. The console's test panel starts from it.
pub const SAMPLE_REQUEST_PROPERTY: &str = "sampleRequest";

/// One registered asset version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssetVersion {
    pub name: String,
    pub version: String,
    /// What a deployment form sends: `azureml:<name>:<version>`.
    pub reference: String,
    pub description: Option<String>,
}

/// `GET /api/v1/assets/{kind}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssetList {
    pub items: Vec<AssetVersion>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::deployments::*;

    fn deployment() -> CreateDeploymentRequest {
        CreateDeploymentRequest {
            name: "blue".into(),
            model: "azureml:regression-v1:1".into(),
            environment: None,
            code: None,
            scoring_script: None,
            instance_type: "Standard_DS3_v2".into(),
            instance_count: 1,
            environment_variables: BTreeMap::new(),
            request_settings: None,
            liveness_probe: None,
            readiness_probe: None,
        }
    }

    fn fields(result: Result<(), Vec<FieldError>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn a_complete_deployment_request_passes() {
        assert_eq!(deployment().check(), Ok(()));
    }

    #[test]
    fn every_broken_deployment_field_is_named() {
        let mut bad = deployment();
        bad.name = "1st".into();
        bad.model = "regression".into();
        bad.instance_type = " ".into();
        bad.instance_count = 51;
        bad.request_settings = Some(DeploymentRequestSettings {
            request_timeout_ms: Some(181_000),
            max_concurrent_requests_per_instance: Some(0),
        });
        bad.readiness_probe = Some(ProbeRequest {
            period_s: Some(0),
            failure_threshold: Some(0),
            ..ProbeRequest::default()
        });
        assert_eq!(
            fields(bad.check()),
            [
                "name",
                "model",
                "instance_type",
                "instance_count",
                "request_settings.request_timeout_ms",
                "request_settings.max_concurrent_requests_per_instance",
                "readiness_probe.period_s",
                "readiness_probe.failure_threshold",
            ]
        );
    }

    #[test]
    fn reserved_variables_and_a_script_outside_the_code_are_named() {
        let mut bad = deployment();
        bad.scoring_script = Some("/tmp/x/evil.py".into());
        bad.environment_variables = [("PYTHONWARNINGS", "x"), ("BROWSER", "y"), ("OK", "z")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        assert_eq!(
            fields(bad.check()),
            [
                "scoring_script",
                "environment_variables.BROWSER",
                "environment_variables.PYTHONWARNINGS"
            ]
        );
    }

    #[test]
    fn instance_counts_follow_azures_limit() {
        assert!(check_instance_count(1).is_ok());
        assert!(check_instance_count(50).is_ok());
        let refused = check_instance_count(0).expect_err("0 instances");
        assert_eq!(refused.field, "instance_count");
        assert!(refused.message.contains("between 1 and 50"), "{refused:?}");
    }

    #[test]
    fn endpoint_names_follow_azures_rule() {
        let request = CreateEndpointRequest {
            name: "ab".into(),
            auth_mode: EndpointAuthMode::Key,
            description: None,
        };
        assert_eq!(fields(request.check()), ["name"]);
    }

    #[test]
    fn text_with_control_characters_is_refused_naming_the_field() {
        let request = CreateEndpointRequest {
            name: "my-endpoint".into(),
            auth_mode: EndpointAuthMode::Key,
            description: Some("bad\u{0}text".into()),
        };
        assert_eq!(fields(request.check()), ["description"]);
        let mut bad = deployment();
        bad.environment_variables
            .insert("MODE".into(), "fast\u{0}".into());
        bad.environment_variables
            .insert("PEM".into(), "-----BEGIN-----\nabc\n".into());
        assert_eq!(fields(bad.check()), ["environment_variables.MODE"]);
    }

    #[test]
    fn masked_keys_show_only_their_last_four_characters() {
        assert_eq!(mask_key("abcdefghijklmnop"), "••••mnop");
        assert_eq!(mask_key("short"), "••••");
        assert_eq!(mask_key(""), "••••");
    }
}
