//! `/api/v1/endpoints`: the workspace's online endpoints.

use super::change_requests::actor;
use super::error::ApiError;
use super::json::AppJson;
use super::paths::{checked_name, EndpointPath};
use super::query::AppQuery;
use super::workspace_access::{requested, start, DeleteQuery};
use super::AppState;
use crate::auth::{Authenticated, Operator};
use crate::change_requests::{live_split, request};
use crate::operations::Job;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use shared::api::change_requests::ChangeRequestDetail;
use shared::api::{
    CreateEndpointRequest, EndpointAuthMode, EndpointList, EndpointSummary, Operation,
    OperationKind,
};
use shared::arm::{AuthMode, OnlineEndpoint, OnlineEndpointProperties};
use shared::rollout::Change;
use shared::{EndpointName, ErrorEnvelope};

/// Every online endpoint of the workspace, by name.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints",
    operation_id = "list_endpoints",
    tag = "endpoints",
    responses(
        (status = 200, body = EndpointList),
        (status = 502, description = "The workspace failed", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authenticated,
) -> Result<AppJson<EndpointList>, ApiError> {
    let mut items: Vec<EndpointSummary> = state
        .workspace()?
        .list_endpoints()
        .await?
        .into_iter()
        .map(|endpoint| EndpointSummary::of(&endpoint))
        .collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(AppJson(EndpointList { items }))
}

/// One endpoint: auth mode, state, traffic and mirror split, scoring URI.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}",
    operation_id = "get_endpoint",
    tag = "endpoints",
    params(EndpointPath),
    responses(
        (status = 200, body = EndpointSummary),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authenticated,
    EndpointPath { endpoint }: EndpointPath,
) -> Result<AppJson<EndpointSummary>, ApiError> {
    let found = state.workspace()?.get_endpoint(&endpoint).await?;
    Ok(AppJson(EndpointSummary::of(&found)))
}

/// Creates an endpoint with no deployments and no traffic. Long-running: answers `202` with
/// the operation to follow.
#[utoipa::path(
    post,
    path = "/api/v1/endpoints",
    operation_id = "create_endpoint",
    tag = "endpoints",
    request_body = CreateEndpointRequest,
    responses(
        (status = 202, description = "Creating; follow the operation", body = Operation),
        (status = 403, description = "Needs the operator role", body = ErrorEnvelope),
        (status = 409, description = "The name is taken", body = ErrorEnvelope),
        (status = 422, description = "A field breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated<Operator>,
    AppJson(request): AppJson<CreateEndpointRequest>,
) -> Result<Response, ApiError> {
    request.check().map_err(ApiError::rejected)?;
    let name: EndpointName = checked_name("name", &request.name)?;
    let client = state.workspace()?;
    match client.get_endpoint(&name).await {
        Ok(_) => {
            return Err(ApiError::taken(
                "name",
                format!("an endpoint named {name} already exists"),
            ))
        }
        Err(err) if err.is_not_found() => {}
        Err(other) => return Err(other.into()),
    }
    let location = client.workspace_location().await?;
    let endpoint = OnlineEndpoint {
        location: Some(location),
        properties: OnlineEndpointProperties {
            auth_mode: Some(match request.auth_mode {
                EndpointAuthMode::Key => AuthMode::Key,
                EndpointAuthMode::AmlToken => AuthMode::AmlToken,
            }),
            description: request.description.clone(),
            ..OnlineEndpointProperties::default()
        },
        ..OnlineEndpoint::default()
    };
    start(
        &state,
        Job::new(
            OperationKind::EndpointCreate,
            auth.session.user.username.as_str(),
            &name,
            None,
        )
        .request(json!(request)),
        move || async move {
            let created = client.create_endpoint(&name, endpoint).await?;
            Ok(json!(EndpointSummary::of(&created)))
        },
    )
    .await
}

/// Asks to delete an endpoint and every deployment on it: answers `202` with the change
/// request, applied once approved (or at once for an admin's `break_glass`).
#[utoipa::path(
    delete,
    path = "/api/v1/endpoints/{endpoint}",
    operation_id = "delete_endpoint",
    tag = "endpoints",
    params(EndpointPath, DeleteQuery),
    responses(
        (status = 202, description = "Requested; waits for approval", body = ChangeRequestDetail),
        (status = 403, description = "Needs the operator role (break-glass: admin)", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 422, description = "The reason is missing or breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated<Operator>,
    EndpointPath { endpoint: name }: EndpointPath,
    AppQuery(query): AppQuery<DeleteQuery>,
) -> Result<Response, ApiError> {
    let reason = query.checked_reason()?;
    let ctx = state.change_context()?;
    let before = live_split(&ctx.workspace, &name).await?;
    let detail = request(
        &ctx,
        &actor(&auth.session),
        &name,
        Change::DeleteEndpoint,
        before,
        &reason,
        query.break_glass.unwrap_or(false),
    )
    .await?;
    Ok(requested(detail))
}
