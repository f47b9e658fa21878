//! `/api/v1/endpoints/{endpoint}/deployments`: the model versions behind an endpoint.

use super::change_requests::actor;
use super::error::ApiError;
use super::json::AppJson;
use super::paths::{checked_name, DeploymentPath, EndpointPath};
use super::query::AppQuery;
use super::workspace_access::{requested, start, DeleteQuery};
use super::AppState;
use crate::auth::{Authenticated, Operator};
use crate::change_requests::{live_split, request};
use crate::operations::Job;
use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shared::api::change_requests::ChangeRequestDetail;
use shared::api::{
    check_instance_count, CreateDeploymentRequest, DeploymentList, DeploymentSummary, Operation,
    OperationKind, ProbeRequest, ScaleRequest, SAMPLE_REQUEST_PROPERTY,
};
use shared::arm::{
    CodeConfiguration, EndpointComputeType, OnlineDeployment, OnlineDeploymentProperties,
    ProbeSettings, RequestSettings, ScaleSettings, ScaleType, Sku,
};
use shared::limits::MAX_DEPLOYMENTS_PER_ENDPOINT;
use shared::rollout::Change;
use shared::{format_iso8601_duration, DeploymentName, ErrorEnvelope};
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
fn arm_body(request: &CreateDeploymentRequest, location: String) -> OnlineDeployment {
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

/// The request as its operation and audit event record it: everything asked for, except that
/// each environment variable's value is replaced by its [`fingerprint`]. Values are often
/// secrets (API keys, passwords) and the audit log is readable by every viewer and never pruned.
fn recorded(request: &CreateDeploymentRequest) -> Value {
    let mut recorded = json!(request);
    recorded["environment_variables"] = request
        .environment_variables
        .iter()
        .map(|(name, value)| (name.clone(), json!(fingerprint(name, value))))
        .collect::<serde_json::Map<_, _>>()
        .into();
    recorded
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

/// The deployments of an endpoint, by name.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}/deployments",
    operation_id = "list_deployments",
    tag = "deployments",
    params(EndpointPath),
    responses(
        (status = 200, body = DeploymentList),
        (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authenticated,
    EndpointPath { endpoint }: EndpointPath,
) -> Result<AppJson<DeploymentList>, ApiError> {
    let mut items: Vec<DeploymentSummary> = state
        .workspace()?
        .list_deployments(&endpoint)
        .await?
        .into_iter()
        .map(DeploymentSummary::of)
        .collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(AppJson(DeploymentList { items }))
}

/// One deployment.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}/deployments/{deployment}",
    operation_id = "get_deployment",
    tag = "deployments",
    params(DeploymentPath),
    responses(
        (status = 200, body = DeploymentSummary),
        (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authenticated,
    DeploymentPath {
        endpoint,
        deployment,
    }: DeploymentPath,
) -> Result<AppJson<DeploymentSummary>, ApiError> {
    let found = state
        .workspace()?
        .get_deployment(&endpoint, &deployment)
        .await?;
    Ok(AppJson(DeploymentSummary::of(found)))
}

/// Creates a deployment on an endpoint. It starts with 0 % of the traffic. Long-running:
/// answers `202`; the operation ends when its instances are ready, or with Azure's reason.
#[utoipa::path(
    post,
    path = "/api/v1/endpoints/{endpoint}/deployments",
    operation_id = "create_deployment",
    tag = "deployments",
    params(EndpointPath),
    request_body = CreateDeploymentRequest,
    responses(
        (status = 202, description = "Creating; follow the operation", body = Operation),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Needs the operator role", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint", body = ErrorEnvelope),
        (status = 409, description = "The name is taken", body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated<Operator>,
    EndpointPath { endpoint }: EndpointPath,
    AppJson(request): AppJson<CreateDeploymentRequest>,
) -> Result<Response, ApiError> {
    request.check().map_err(ApiError::rejected)?;
    let name: DeploymentName = checked_name("name", &request.name)?;
    let client = state.workspace()?;
    let existing = client.list_deployments(&endpoint).await?;
    let taken = existing.iter().any(|d| {
        d.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(&request.name))
    });
    if taken {
        return Err(ApiError::taken(
            "name",
            format!("endpoint {endpoint} already has a deployment named {name}"),
        ));
    }
    if existing.len() >= MAX_DEPLOYMENTS_PER_ENDPOINT {
        return Err(ApiError::invalid(
            "name",
            format!(
                "an endpoint may have at most {MAX_DEPLOYMENTS_PER_ENDPOINT} deployments; delete one first"
            ),
        ));
    }
    let body = arm_body(&request, client.workspace_location().await?);
    start(
        &state,
        Job::new(
            OperationKind::DeploymentCreate,
            auth.session.user.username.as_str(),
            &endpoint,
            Some(&name),
        )
        .request(recorded(&request)),
        move || async move {
            let created = client.create_deployment(&endpoint, &name, &body).await?;
            Ok(json!(DeploymentSummary::of(created)))
        },
    )
    .await
}

/// Sets a deployment's instance count. Long-running: answers `202`.
#[utoipa::path(
    patch,
    path = "/api/v1/endpoints/{endpoint}/deployments/{deployment}",
    operation_id = "scale_deployment",
    tag = "deployments",
    params(DeploymentPath),
    request_body = ScaleRequest,
    responses(
        (status = 202, description = "Scaling; follow the operation", body = Operation),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Needs the operator role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn scale(
    State(state): State<AppState>,
    auth: Authenticated<Operator>,
    DeploymentPath {
        endpoint,
        deployment: name,
    }: DeploymentPath,
    AppJson(request): AppJson<ScaleRequest>,
) -> Result<Response, ApiError> {
    check_instance_count(request.instance_count).map_err(|e| ApiError::rejected(vec![e]))?;
    let instances = u32::try_from(request.instance_count)
        .map_err(|_| ApiError::invalid("instance_count", "instance_count is out of range"))?;
    let client = state.workspace()?;
    let before = DeploymentSummary::of(client.get_deployment(&endpoint, &name).await?);
    start(
        &state,
        Job::new(
            OperationKind::DeploymentScale,
            auth.session.user.username.as_str(),
            &endpoint,
            Some(&name),
        )
        .before(json!(before))
        .request(json!(request)),
        move || async move {
            let scaled = client.scale_deployment(&endpoint, &name, instances).await?;
            Ok(json!(DeploymentSummary::of(scaled)))
        },
    )
    .await
}

/// Asks to delete a deployment that no longer takes live or mirrored traffic: answers `202`
/// with the change request, applied once approved (or at once for an admin's `break_glass`).
#[utoipa::path(
    delete,
    path = "/api/v1/endpoints/{endpoint}/deployments/{deployment}",
    operation_id = "delete_deployment",
    tag = "deployments",
    params(DeploymentPath, DeleteQuery),
    responses(
        (status = 202, description = "Requested; waits for approval", body = ChangeRequestDetail),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Needs the operator role (break-glass: admin)", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, description = "It still takes traffic, or the reason is missing", body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated<Operator>,
    DeploymentPath {
        endpoint,
        deployment: name,
    }: DeploymentPath,
    AppQuery(query): AppQuery<DeleteQuery>,
) -> Result<Response, ApiError> {
    let reason = query.checked_reason()?;
    let ctx = state.change_context()?;
    let before = live_split(&ctx.workspace, &endpoint).await?;
    ctx.workspace.get_deployment(&endpoint, &name).await?;
    shared::check_deployment_delete(name.as_str(), &before.traffic, &before.mirror_traffic)
        .map_err(|v| ApiError::broken_rules([v]))?;
    let detail = request(
        &ctx,
        &actor(&auth.session),
        &endpoint,
        Change::DeleteDeployment { deployment: name },
        before,
        &reason,
        query.break_glass.unwrap_or(false),
    )
    .await?;
    Ok(requested(detail))
}

/// The sample scoring request of the deployment's model, for the console's test panel: the
/// JSON in the model version's `sampleRequest` property. 404 when the model has none.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}/deployments/{deployment}/sample-request",
    operation_id = "get_sample_request",
    tag = "deployments",
    params(DeploymentPath),
    responses(
        (status = 200, description = "The sample request body", body = Object),
        (status = 401, body = ErrorEnvelope),
        (status = 404, description = "No such deployment, or its model has no sample", body = ErrorEnvelope),
    )
)]
pub async fn sample_request(
    State(state): State<AppState>,
    _auth: Authenticated,
    DeploymentPath {
        endpoint,
        deployment,
    }: DeploymentPath,
) -> Result<AppJson<Value>, ApiError> {
    let client = state.workspace()?;
    let found = client.get_deployment(&endpoint, &deployment).await?;
    let model = found.properties.model.ok_or(ApiError::NotFound)?;
    let version = client.get_asset_version("models", &model).await?;
    let sample = version.properties["properties"][SAMPLE_REQUEST_PROPERTY]
        .as_str()
        .ok_or(ApiError::NotFound)?;
    serde_json::from_str(sample)
        .map(AppJson)
        .map_err(|_| ApiError::NotFound)
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
