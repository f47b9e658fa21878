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
use crate::workspace::new_deployment;
use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};
use shared::api::change_requests::ChangeRequestDetail;
use shared::api::{
    check_instance_count, CreateDeploymentRequest, DeploymentList, DeploymentSummary, Operation,
    OperationKind, ScaleRequest,
};
use shared::limits::MAX_DEPLOYMENTS_PER_ENDPOINT;
use shared::rollout::Change;
use shared::{DeploymentName, ErrorEnvelope};

/// The deployments of an endpoint, by name.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}/deployments",
    operation_id = "list_deployments",
    tag = "deployments",
    params(EndpointPath),
    responses(
        (status = 200, body = DeploymentList),
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
    let body = new_deployment::arm_body(&request, client.workspace_location().await?);
    start(
        &state,
        Job::new(
            OperationKind::DeploymentCreate,
            auth.session.user.username.as_str(),
            &endpoint,
            Some(&name),
        )
        .request(new_deployment::recorded(&request)),
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
    state
        .workspace()?
        .sample_request(&endpoint, &deployment)
        .await?
        .map(AppJson)
        .ok_or(ApiError::NotFound)
}
