//! Model, environment and code versions, whose content lives in local folders (`file://`).

use super::error::{ArmFailure, ArmJson};
use super::{ControlState, WorkspacePath};
use crate::emulator::environments::parse_conda;
use axum::extract::{Path, Query, State};
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

/// `?hash=&hashVersion=` of a version listing: the SDK asks whether content with this hash
/// was uploaded before, under any name (it asks under a fresh random one).
#[derive(Debug, Deserialize)]
pub struct HashQuery {
    hash: Option<String>,
    #[serde(rename = "hashVersion")]
    hash_version: Option<String>,
}

/// `GET .../{kind}/{name}/versions`, or with `hash` the versions of any name with that
/// content hash (how the SDK reuses an upload).
pub async fn list_versions(
    State(state): State<ControlState>,
    Path(path): Path<ContainerPath>,
    Query(query): Query<HashQuery>,
) -> Result<Json<serde_json::Value>, ArmFailure> {
    let kind = known_kind(&path.kind)?;
    if let Some(hash) = &query.hash {
        return Ok(page(
            state
                .workspace
                .versions_with_hash(kind, hash, query.hash_version.as_deref())
                .await,
        ));
    }
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
    ArmJson(mut body): ArmJson<serde_json::Value>,
) -> Result<(StatusCode, Json<serde_json::Value>), ArmFailure> {
    let asset = path.asset()?;
    match asset.kind {
        // The conda file must be one the local workspace can build: refused here, naming the
        // field, rather than when a deployment first uses it.
        AssetKind::Environments => {
            if let Some(conda) = body["properties"].get("condaFile") {
                let text = conda.as_str().ok_or_else(|| {
                    ArmFailure::invalid_field("properties.condaFile", "condaFile must be a string")
                })?;
                parse_conda(text)
                    .map_err(|e| ArmFailure::invalid_field("properties.condaFile", e))?;
            }
        }
        // Azure answers every model version with its flavors; the SDK reads them.
        AssetKind::Models => {
            if body["properties"].is_object() && body["properties"]["flavors"].is_null() {
                body["properties"]["flavors"] = serde_json::json!({});
            }
        }
        AssetKind::Codes => {}
    }
    let stored = state
        .workspace
        .put_asset(&path.workspace.id(), &asset, body)
        .await?;
    Ok((StatusCode::OK, Json(stored)))
}
