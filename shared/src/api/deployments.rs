//! Bodies of the deployment routes: a deployment as the console shows it, a new one (with its
//! `check()`, which the console runs as the user types), and a scale request.

use super::checks::{check_name, check_text, done, field};
use crate::asset::{AssetKind, AssetRef};
use crate::deployment::{instance_count_allowed, request_timeout_allowed};
use crate::environment::{check_scoring_script, check_variable_name};
use crate::error::FieldError;
use crate::limits::{MAX_INSTANCES_PER_DEPLOYMENT, MAX_REQUEST_TIMEOUT};
use crate::text;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// A deployment as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeploymentSummary {
    pub name: String,
    /// The model asset, e.g. `azureml:regression-v1:1` or an ARM id.
    pub model: Option<String>,
    pub environment: Option<String>,
    pub code: Option<String>,
    pub scoring_script: Option<String>,
    pub instance_type: Option<String>,
    /// The instance count asked for (`sku.capacity`).
    pub instance_count: Option<i64>,
    /// Azure's provisioning state, e.g. `Creating`, `Updating`, `Succeeded`, `Failed`.
    pub provisioning_state: Option<String>,
    /// ISO 8601, e.g. `PT5S`.
    pub request_timeout: Option<String>,
    pub max_concurrent_requests_per_instance: Option<i64>,
}

impl DeploymentSummary {
    /// A deployment as the console shows it.
    pub fn of(deployment: crate::arm::OnlineDeployment) -> Self {
        let properties = deployment.properties;
        let code = properties.code_configuration.unwrap_or_default();
        let requests = properties.request_settings.unwrap_or_default();
        Self {
            name: deployment.name.unwrap_or_default(),
            model: properties.model,
            environment: properties.environment_id,
            code: code.code_id,
            scoring_script: code.scoring_script,
            instance_type: properties.instance_type,
            instance_count: deployment.sku.and_then(|s| s.capacity),
            provisioning_state: properties.provisioning_state.map(|s| s.to_string()),
            request_timeout: requests.request_timeout,
            max_concurrent_requests_per_instance: requests.max_concurrent_requests_per_instance,
        }
    }
}

/// `GET /api/v1/endpoints/{endpoint}/deployments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeploymentList {
    pub items: Vec<DeploymentSummary>,
}

/// How a deployment answers requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeploymentRequestSettings {
    /// How long one scoring request may take, in milliseconds (at most 180 000).
    #[serde(default)]
    pub request_timeout_ms: Option<u64>,
    #[serde(default)]
    pub max_concurrent_requests_per_instance: Option<i64>,
}

/// A liveness or readiness probe; every field optional (Azure's defaults apply).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProbeRequest {
    #[serde(default)]
    pub initial_delay_s: Option<u64>,
    #[serde(default)]
    pub period_s: Option<u64>,
    #[serde(default)]
    pub timeout_s: Option<u64>,
    #[serde(default)]
    pub failure_threshold: Option<i64>,
    #[serde(default)]
    pub success_threshold: Option<i64>,
}

/// The longest probe delay, period or timeout Greenlight forwards (an hour).
pub const MAX_PROBE_SECONDS: u64 = 3600;

impl ProbeRequest {
    fn check(&self, name: &str, problems: &mut Vec<FieldError>) {
        for (what, value) in [
            ("initial_delay_s", self.initial_delay_s),
            ("period_s", self.period_s),
            ("timeout_s", self.timeout_s),
        ] {
            if value.is_some_and(|v| v > MAX_PROBE_SECONDS) {
                problems.push(field(
                    &format!("{name}.{what}"),
                    format!("{what} must be at most {MAX_PROBE_SECONDS} seconds"),
                ));
            }
        }
        for (what, value) in [("period_s", self.period_s), ("timeout_s", self.timeout_s)] {
            if value == Some(0) {
                problems.push(field(
                    &format!("{name}.{what}"),
                    format!("{what} must be at least 1 second"),
                ));
            }
        }
        for (what, value) in [
            ("failure_threshold", self.failure_threshold),
            ("success_threshold", self.success_threshold),
        ] {
            if value.is_some_and(|v| !(1..=100).contains(&v)) {
                problems.push(field(
                    &format!("{name}.{what}"),
                    format!("{what} must be between 1 and 100"),
                ));
            }
        }
    }
}

/// `POST /api/v1/endpoints/{endpoint}/deployments`: a new deployment, which always starts with
/// 0 % of the endpoint's traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateDeploymentRequest {
    pub name: String,
    /// `azureml:<name>:<version>` or the model version's ARM id.
    pub model: String,
    /// The environment asset; optional for the local workspace's plain-Python instances.
    #[serde(default)]
    pub environment: Option<String>,
    /// The code asset holding the scoring script; defaults to the model's name and version.
    #[serde(default)]
    pub code: Option<String>,
    /// The scoring script inside the code asset; `score.py` when left out.
    #[serde(default)]
    pub scoring_script: Option<String>,
    pub instance_type: String,
    pub instance_count: i64,
    #[serde(default)]
    pub environment_variables: BTreeMap<String, String>,
    #[serde(default)]
    pub request_settings: Option<DeploymentRequestSettings>,
    #[serde(default)]
    pub liveness_probe: Option<ProbeRequest>,
    #[serde(default)]
    pub readiness_probe: Option<ProbeRequest>,
}

/// Checks an instance count against Azure's limits.
pub fn check_instance_count(count: i64) -> Result<(), FieldError> {
    if instance_count_allowed(count) {
        Ok(())
    } else {
        Err(field(
            "instance_count",
            format!(
                "instance_count must be between 1 and {MAX_INSTANCES_PER_DEPLOYMENT} (got {count})"
            ),
        ))
    }
}

impl CreateDeploymentRequest {
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut problems = Vec::new();
        check_name("name", &self.name, &mut problems);
        let assets = [
            (Some(&self.model), AssetKind::Models, "model", "a model"),
            (
                self.environment.as_ref(),
                AssetKind::Environments,
                "environment",
                "an environment",
            ),
            (self.code.as_ref(), AssetKind::Codes, "code", "a code"),
        ];
        for (reference, kind, name, what) in assets {
            if reference.is_some_and(|r| AssetRef::parse(r, kind).is_err()) {
                problems.push(field(
                    name,
                    format!("{name} must be azureml:<name>:<version> or {what} version's ARM id"),
                ));
            }
        }
        if let Some(Err(rule)) = self.scoring_script.as_deref().map(check_scoring_script) {
            problems.push(field("scoring_script", rule.to_string()));
        }
        if self.instance_type.trim().is_empty() {
            problems.push(field("instance_type", "instance_type is required"));
        }
        if let Err(e) = check_instance_count(self.instance_count) {
            problems.push(e);
        }
        for name in self.environment_variables.keys() {
            // The value is free text: the shared text rule checks it (once).
            if let Err(rule) = check_variable_name(name) {
                problems.push(field(
                    &format!("environment_variables.{name}"),
                    format!("{name}: {rule}"),
                ));
            }
        }
        if let Some(settings) = &self.request_settings {
            let max_ms = MAX_REQUEST_TIMEOUT.as_millis();
            if let Some(ms) = settings.request_timeout_ms {
                if !request_timeout_allowed(Duration::from_millis(ms)) {
                    problems.push(field(
                        "request_settings.request_timeout_ms",
                        format!("request_timeout_ms must be between 1 and {max_ms} (got {ms})"),
                    ));
                }
            }
            if settings
                .max_concurrent_requests_per_instance
                .is_some_and(|n| !(1..=1000).contains(&n))
            {
                problems.push(field(
                    "request_settings.max_concurrent_requests_per_instance",
                    "max_concurrent_requests_per_instance must be between 1 and 1000",
                ));
            }
        }
        for (name, value) in &self.environment_variables {
            check_text(
                &format!("environment_variables.{name}"),
                value,
                text::ENVIRONMENT_VALUE,
                &mut problems,
            );
        }
        if let Some(probe) = &self.liveness_probe {
            probe.check("liveness_probe", &mut problems);
        }
        if let Some(probe) = &self.readiness_probe {
            probe.check("readiness_probe", &mut problems);
        }
        done(problems)
    }
}

/// `PATCH /api/v1/endpoints/{endpoint}/deployments/{deployment}`: scale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    pub instance_count: i64,
}
