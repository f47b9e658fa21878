//! Model, environment and code versions, whose content lives in local folders (`file://`).

use super::error::{ArmFailure, ArmJson};
use super::{ControlState, WorkspacePath};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct AssetPath {
    #[serde(flatten)]
    workspace: WorkspacePath,
    kind: String,
    name: String,
    version: String,
}

const KINDS: [&str; 3] = ["models", "environments", "codes"];

fn known_kind(kind: &str) -> Result<(), ArmFailure> {
    if KINDS.contains(&kind) {
        Ok(())
    } else {
        Err(ArmFailure::not_found(&format!("resource type {kind}")))
    }
}

#[derive(Debug, Deserialize)]
pub struct KindPath {
    #[serde(flatten)]
    workspace: WorkspacePath,
    kind: String,
}

/// The workspace segments are matched by the route but not needed: assets are shared.
#[derive(Debug, Deserialize)]
pub struct ContainerPath {
    kind: String,
    name: String,
}

fn page(value: Vec<serde_json::Value>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "value": value }))
}

/// `GET .../{kind}`: the registered assets of a kind.
pub async fn list_containers(
    State(state): State<ControlState>,
    Path(path): Path<KindPath>,
) -> Result<Json<serde_json::Value>, ArmFailure> {
    known_kind(&path.kind)?;
    let containers = state
        .workspace
        .asset_containers(&path.workspace.id(), &path.kind)
        .await;
    Ok(page(containers))
}

/// `GET .../{kind}/{name}/versions`.
pub async fn list_versions(
    State(state): State<ControlState>,
    Path(path): Path<ContainerPath>,
) -> Result<Json<serde_json::Value>, ArmFailure> {
    known_kind(&path.kind)?;
    Ok(page(
        state
            .workspace
            .asset_versions(&path.kind, &path.name)
            .await?,
    ))
}

impl AssetPath {
    fn id(&self) -> Result<String, ArmFailure> {
        known_kind(&self.kind)?;
        Ok(format!(
            "{}/{}/{}/versions/{}",
            self.workspace.id(),
            self.kind,
            self.name,
            self.version
        ))
    }
}

pub async fn get(
    State(state): State<ControlState>,
    Path(path): Path<AssetPath>,
) -> Result<Json<serde_json::Value>, ArmFailure> {
    Ok(Json(state.workspace.get_asset(&path.id()?).await?))
}

pub async fn put(
    State(state): State<ControlState>,
    Path(path): Path<AssetPath>,
    ArmJson(body): ArmJson<serde_json::Value>,
) -> Result<(StatusCode, Json<serde_json::Value>), ArmFailure> {
    let stored = state.workspace.put_asset(&path.id()?, body).await?;
    Ok((StatusCode::OK, Json(stored)))
}
