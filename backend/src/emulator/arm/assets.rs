//! Model, environment and code versions, whose content lives in local folders (`file://`).

use super::error::{ArmFailure, ArmJson};
use super::{ControlState, WorkspacePath};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use shared::{AssetKind, AssetRef};

#[derive(Debug, Deserialize)]
pub struct AssetPath {
    #[serde(flatten)]
    workspace: WorkspacePath,
    kind: String,
    name: String,
    version: String,
}

fn known_kind(kind: &str) -> Result<AssetKind, ArmFailure> {
    AssetKind::parse(kind).ok_or_else(|| ArmFailure::resource_not_found("resource type", kind))
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
    let kind = known_kind(&path.kind)?;
    let containers = state
        .workspace
        .asset_containers(&path.workspace.id(), kind)
        .await;
    Ok(page(containers))
}

/// `GET .../{kind}/{name}/versions`.
pub async fn list_versions(
    State(state): State<ControlState>,
    Path(path): Path<ContainerPath>,
) -> Result<Json<serde_json::Value>, ArmFailure> {
    let kind = known_kind(&path.kind)?;
    Ok(page(
        state.workspace.asset_versions(kind, &path.name).await?,
    ))
}

impl AssetPath {
    fn asset(&self) -> Result<AssetRef, ArmFailure> {
        Ok(AssetRef::new(
            known_kind(&self.kind)?,
            &self.name,
            &self.version,
        ))
    }
}

pub async fn get(
    State(state): State<ControlState>,
    Path(path): Path<AssetPath>,
) -> Result<Json<serde_json::Value>, ArmFailure> {
    let asset = path.asset()?;
    Ok(Json(
        state
            .workspace
            .get_asset(&path.workspace.id(), &asset)
            .await?,
    ))
}

pub async fn put(
    State(state): State<ControlState>,
    Path(path): Path<AssetPath>,
    ArmJson(body): ArmJson<serde_json::Value>,
) -> Result<(StatusCode, Json<serde_json::Value>), ArmFailure> {
    let asset = path.asset()?;
    let stored = state
        .workspace
        .put_asset(&path.workspace.id(), &asset, body)
        .await?;
    Ok((StatusCode::OK, Json(stored)))
}
