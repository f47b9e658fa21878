//! `onlineEndpoints/{e}/deployments`: list, get, put, patch, delete, getLogs, skus.

use super::error::{ArmFailure, ArmJson};
use super::{accepted, ControlState, WorkspacePath};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use shared::arm::{DeploymentLogs, DeploymentLogsRequest, OnlineDeployment, Page};

#[derive(Debug, Deserialize)]
pub struct EndpointPath {
    #[serde(flatten)]
    workspace: WorkspacePath,
    endpoint: String,
}

#[derive(Debug, Deserialize)]
pub struct DeploymentPath {
    #[serde(flatten)]
    workspace: WorkspacePath,
    endpoint: String,
    deployment: String,
}

pub async fn list(
    State(state): State<ControlState>,
    Path(path): Path<EndpointPath>,
) -> Result<Json<Page<OnlineDeployment>>, ArmFailure> {
    Ok(Json(Page {
        value: state
            .workspace
            .list_deployments(&path.workspace.id(), &path.endpoint)
            .await?,
        next_link: None,
        extra: Default::default(),
    }))
}

pub async fn get(
    State(state): State<ControlState>,
    Path(path): Path<DeploymentPath>,
) -> Result<Json<OnlineDeployment>, ArmFailure> {
    Ok(Json(
        state
            .workspace
            .get_deployment(&path.workspace.id(), &path.endpoint, &path.deployment)
            .await?,
    ))
}

pub async fn put(
    State(state): State<ControlState>,
    Path(path): Path<DeploymentPath>,
    ArmJson(body): ArmJson<OnlineDeployment>,
) -> Result<Response, ArmFailure> {
    let done = state
        .workspace
        .put_deployment(&path.workspace.id(), &path.endpoint, &path.deployment, body)
        .await?;
    Ok(accepted(&state, &path.workspace.subscription, done))
}

pub async fn patch(
    State(state): State<ControlState>,
    Path(path): Path<DeploymentPath>,
    ArmJson(body): ArmJson<serde_json::Value>,
) -> Result<Response, ArmFailure> {
    let done = state
        .workspace
        .patch_deployment(&path.workspace.id(), &path.endpoint, &path.deployment, body)
        .await?;
    Ok(accepted(&state, &path.workspace.subscription, done))
}

pub async fn delete(
    State(state): State<ControlState>,
    Path(path): Path<DeploymentPath>,
) -> Result<Response, ArmFailure> {
    let done = state
        .workspace
        .delete_deployment(&path.workspace.id(), &path.endpoint, &path.deployment)
        .await?;
    Ok(accepted(&state, &path.workspace.subscription, done))
}

/// The instances' output, newest last; `tail` limits the number of lines.
pub async fn logs(
    State(state): State<ControlState>,
    Path(path): Path<DeploymentPath>,
    ArmJson(body): ArmJson<DeploymentLogsRequest>,
) -> Result<Json<DeploymentLogs>, ArmFailure> {
    // 404 for a deployment that does not exist, as Azure answers.
    state
        .workspace
        .get_deployment(&path.workspace.id(), &path.endpoint, &path.deployment)
        .await?;
    let tail = match body.tail {
        Some(t) if t < 0 => {
            return Err(ArmFailure::invalid_field(
                "tail",
                format!("tail must not be negative (got {t})"),
            ))
        }
        Some(t) => Some(usize::try_from(t).unwrap_or(usize::MAX)),
        None => None,
    };
    let lines = state
        .workspace
        .pool(&path.endpoint, &path.deployment)
        .map(|pool| pool.logs().tail(tail))
        .unwrap_or_default();
    Ok(Json(DeploymentLogs {
        content: Some(lines.join("\n")),
        extra: Default::default(),
    }))
}

/// The one SKU the local workspace offers, with the instance-count bounds Azure enforces.
pub async fn skus(
    State(state): State<ControlState>,
    Path(path): Path<DeploymentPath>,
) -> Result<Json<serde_json::Value>, ArmFailure> {
    state
        .workspace
        .get_deployment(&path.workspace.id(), &path.endpoint, &path.deployment)
        .await?;
    Ok(Json(serde_json::json!({
        "value": [{
            "resourceType": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
            "sku": { "name": "Default", "tier": "Standard" },
            "capacity": {
                "minimum": 1,
                "maximum": shared::limits::MAX_INSTANCES_PER_DEPLOYMENT,
                "default": 1,
                "scaleType": "Manual"
            }
        }]
    })))
}
