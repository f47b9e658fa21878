//! Azure ML's rules for an online deployment's settings, written once so the local workspace
//! refuses the deployments Azure refuses, and the console API applies the same limits to its own
//! request shape before anything reaches a workspace.
//!
//! [`check_deployment`] reads the ARM body (`sku.capacity`, ISO-8601 durations) and reports every
//! broken rule with the ARM JSON path of its field, in a stable order, as
//! [`check_traffic`](crate::check_traffic) does for splits. The single limits it applies
//! ([`instance_count_allowed`], [`request_timeout_allowed`]) are the ones the console API calls.

use crate::arm::{OnlineDeployment, ProbeSettings};
use crate::environment::{check_scoring_script, check_variable_name};
use crate::limits::{parse_iso8601_duration, MAX_INSTANCES_PER_DEPLOYMENT, MAX_REQUEST_TIMEOUT};
use crate::traffic::RuleViolation;
use std::time::Duration;

const COMPUTE_TYPE_FIELD: &str = "properties.endpointComputeType";
const CAPACITY_FIELD: &str = "sku.capacity";
const MAX_CONCURRENT_FIELD: &str = "properties.requestSettings.maxConcurrentRequestsPerInstance";
const REQUEST_TIMEOUT_FIELD: &str = "properties.requestSettings.requestTimeout";
const SCORING_SCRIPT_FIELD: &str = "properties.codeConfiguration.scoringScript";
const ENVIRONMENT_FIELD: &str = "properties.environmentVariables";

/// Azure's bounds on a deployment's instance count (`sku.capacity`): 1 to
/// [`MAX_INSTANCES_PER_DEPLOYMENT`].
pub fn instance_count_allowed(count: i64) -> bool {
    (1..=MAX_INSTANCES_PER_DEPLOYMENT).contains(&count)
}

/// Azure's bounds on how long one scoring request may take: more than zero, at most
/// [`MAX_REQUEST_TIMEOUT`].
pub fn request_timeout_allowed(timeout: Duration) -> bool {
    !timeout.is_zero() && timeout <= MAX_REQUEST_TIMEOUT
}

/// Checks a deployment's ARM body against Azure's rules: `endpointComputeType` is given, the
/// instance count and `requestTimeout` are within Azure's bounds, at least one concurrent
/// request per instance, every probe duration is ISO-8601, the scoring script is a relative path
/// inside its code asset and no environment variable is one the interpreter, loader or shell
/// acts on (see [`crate::environment`]).
///
/// Returns every violation, in the order of the body (compute type, sku, request settings,
/// liveness probe, readiness probe, code configuration, environment variables by name).
pub fn check_deployment(deployment: &OnlineDeployment) -> Result<(), Vec<RuleViolation>> {
    let mut violations = Vec::new();
    let properties = &deployment.properties;
    if properties.endpoint_compute_type.is_none() {
        violations.push(RuleViolation::new(
            COMPUTE_TYPE_FIELD,
            "properties.endpointComputeType is required (Managed)",
        ));
    }
    if let Some(capacity) = deployment.sku.as_ref().and_then(|s| s.capacity) {
        if !instance_count_allowed(capacity) {
            violations.push(RuleViolation::new(
                CAPACITY_FIELD,
                format!(
                    "sku.capacity (the instance count) must be between 1 and \
                     {MAX_INSTANCES_PER_DEPLOYMENT} (got {capacity})"
                ),
            ));
        }
    }
    if let Some(settings) = &properties.request_settings {
        if let Some(n) = settings
            .max_concurrent_requests_per_instance
            .filter(|&n| n < 1)
        {
            violations.push(RuleViolation::new(
                MAX_CONCURRENT_FIELD,
                format!("maxConcurrentRequestsPerInstance must be at least 1 (got {n})"),
            ));
        }
        if let Some(text) = &settings.request_timeout {
            match parse_iso8601_duration(text) {
                Err(e) => violations.push(RuleViolation::new(REQUEST_TIMEOUT_FIELD, e.to_string())),
                Ok(timeout) if !request_timeout_allowed(timeout) => {
                    violations.push(RuleViolation::new(
                        REQUEST_TIMEOUT_FIELD,
                        format!(
                            "requestTimeout must be more than 0 and at most {} s (got {text})",
                            MAX_REQUEST_TIMEOUT.as_secs()
                        ),
                    ))
                }
                Ok(_) => {}
            }
        }
    }
    crate::text::check_deployment_text(deployment, &mut violations);
    for (field, probe) in [
        ("properties.livenessProbe", &properties.liveness_probe),
        ("properties.readinessProbe", &properties.readiness_probe),
    ] {
        if let Some(probe) = probe {
            check_probe_durations(field, probe, &mut violations);
        }
    }
    if let Some(script) = properties
        .code_configuration
        .as_ref()
        .and_then(|c| c.scoring_script.as_deref())
    {
        if let Err(rule) = check_scoring_script(script) {
            violations.push(RuleViolation::new(SCORING_SCRIPT_FIELD, rule.to_string()));
        }
    }
    for name in properties
        .environment_variables
        .iter()
        .flatten()
        .map(|(name, _)| name)
    {
        // The value is free text: the shared text rule checks it (once).
        if let Err(rule) = check_variable_name(name) {
            violations.push(RuleViolation::new(
                format!("{ENVIRONMENT_FIELD}.{name}"),
                format!("{name}: {rule}"),
            ));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

fn check_probe_durations(field: &str, probe: &ProbeSettings, violations: &mut Vec<RuleViolation>) {
    for (part, value) in [
        ("timeout", &probe.timeout),
        ("period", &probe.period),
        ("initialDelay", &probe.initial_delay),
    ] {
        if let Some(Err(e)) = value.as_deref().map(parse_iso8601_duration) {
            violations.push(RuleViolation::new(format!("{field}.{part}"), e.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A managed deployment as the seed flow sends it, with `properties` merged into its own.
    fn deployment(capacity: i64, properties: serde_json::Value) -> OnlineDeployment {
        let mut body = json!({
            "sku": { "name": "Default", "capacity": capacity },
            "properties": {
                "endpointComputeType": "Managed",
                "requestSettings": { "requestTimeout": "PT10S", "maxConcurrentRequestsPerInstance": 1 },
                "readinessProbe": { "initialDelay": "PT0S", "period": "PT0.2S", "timeout": "PT2S" }
            }
        });
        if let (Some(target), Some(change)) =
            (body["properties"].as_object_mut(), properties.as_object())
        {
            for (k, v) in change {
                target.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(body).expect("a deployment body")
    }

    fn fields(result: Result<(), Vec<RuleViolation>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    fn only_violation(d: &OnlineDeployment) -> RuleViolation {
        let mut all = check_deployment(d).expect_err("the deployment should be refused");
        assert_eq!(all.len(), 1, "expected exactly one violation: {all:?}");
        all.remove(0)
    }

    #[test]
    fn a_managed_deployment_within_azures_limits_is_accepted() {
        assert_eq!(check_deployment(&deployment(1, json!({}))), Ok(()));
        assert_eq!(check_deployment(&deployment(50, json!({}))), Ok(()));
    }

    #[test]
    fn the_compute_type_is_required() {
        let d = deployment(1, json!({ "endpointComputeType": null }));
        let v = only_violation(&d);
        assert_eq!(v.field, "properties.endpointComputeType");
        assert_eq!(
            v.message,
            "properties.endpointComputeType is required (Managed)"
        );
    }

    #[test]
    fn an_instance_count_outside_1_to_50_is_refused() {
        for capacity in [0, 51] {
            let v = only_violation(&deployment(capacity, json!({})));
            assert_eq!(v.field, "sku.capacity");
            assert_eq!(
                v.message,
                format!(
                    "sku.capacity (the instance count) must be between 1 and 50 (got {capacity})"
                )
            );
        }
    }

    #[test]
    fn a_request_timeout_must_be_more_than_0_and_at_most_180_s() {
        for (text, allowed) in [
            ("PT180S", true),
            ("PT3M", true),
            ("PT181S", false),
            ("PT0S", false),
        ] {
            let d = deployment(1, json!({ "requestSettings": { "requestTimeout": text } }));
            assert_eq!(check_deployment(&d).is_ok(), allowed, "{text}");
        }
        let d = deployment(
            1,
            json!({ "requestSettings": { "requestTimeout": "PT181S" } }),
        );
        assert_eq!(
            only_violation(&d).message,
            "requestTimeout must be more than 0 and at most 180 s (got PT181S)"
        );
        let d = deployment(1, json!({ "requestSettings": { "requestTimeout": "5s" } }));
        let v = only_violation(&d);
        assert_eq!(v.field, "properties.requestSettings.requestTimeout");
        assert!(v.message.contains("not an ISO-8601 duration"), "{v:?}");
    }

    #[test]
    fn at_least_one_concurrent_request_per_instance() {
        let d = deployment(
            1,
            json!({ "requestSettings": { "maxConcurrentRequestsPerInstance": 0 } }),
        );
        let v = only_violation(&d);
        assert_eq!(
            v.field,
            "properties.requestSettings.maxConcurrentRequestsPerInstance"
        );
        assert_eq!(
            v.message,
            "maxConcurrentRequestsPerInstance must be at least 1 (got 0)"
        );
    }

    #[test]
    fn probe_durations_must_be_iso_8601_and_name_their_part() {
        let d = deployment(
            1,
            json!({
                "livenessProbe": { "period": "10s" },
                "readinessProbe": { "initialDelay": "soon", "timeout": "PT2S" }
            }),
        );
        assert_eq!(
            fields(check_deployment(&d)),
            [
                "properties.livenessProbe.period",
                "properties.readinessProbe.initialDelay"
            ]
        );
    }

    #[test]
    fn every_broken_rule_is_reported_in_the_order_of_the_body() {
        let d = deployment(
            0,
            json!({
                "endpointComputeType": null,
                "requestSettings": { "requestTimeout": "PT0S", "maxConcurrentRequestsPerInstance": 0 },
                "readinessProbe": { "period": "often" }
            }),
        );
        assert_eq!(
            fields(check_deployment(&d)),
            [
                "properties.endpointComputeType",
                "sku.capacity",
                "properties.requestSettings.maxConcurrentRequestsPerInstance",
                "properties.requestSettings.requestTimeout",
                "properties.readinessProbe.period",
            ]
        );
    }

    #[test]
    fn interpreter_and_loader_variables_are_refused_naming_each_variable() {
        let d = deployment(
            1,
            json!({ "environmentVariables": {
                "BROWSER": "/bin/sh -c \"id > /tmp/x\" #%s",
                "MODEL_NAME": "blue",
                "PYTHONWARNINGS": "all:0:antigravity.x:0:0"
            } }),
        );
        assert_eq!(
            fields(check_deployment(&d)),
            [
                "properties.environmentVariables.BROWSER",
                "properties.environmentVariables.PYTHONWARNINGS"
            ]
        );
    }

    #[test]
    fn a_scoring_script_outside_the_code_asset_is_refused() {
        for script in ["/tmp/x/evil.py", "../evil.py"] {
            let d = deployment(
                1,
                json!({ "codeConfiguration": { "codeId": "azureml:c:1", "scoringScript": script } }),
            );
            assert_eq!(
                only_violation(&d).field,
                "properties.codeConfiguration.scoringScript"
            );
        }
    }

    #[test]
    fn the_single_limits_are_azures() {
        assert!(instance_count_allowed(1) && instance_count_allowed(50));
        assert!(!instance_count_allowed(0) && !instance_count_allowed(51));
        assert!(request_timeout_allowed(Duration::from_millis(1)));
        assert!(request_timeout_allowed(MAX_REQUEST_TIMEOUT));
        assert!(!request_timeout_allowed(Duration::ZERO));
        assert!(!request_timeout_allowed(
            MAX_REQUEST_TIMEOUT + Duration::from_millis(1)
        ));
    }
}
