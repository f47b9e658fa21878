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

impl AssetPath {
    fn id(&self) -> Result<String, ArmFailure> {
        if !KINDS.contains(&self.kind.as_str()) {
            return Err(ArmFailure::not_found(&format!(
                "resource type {}",
                self.kind
            )));
        }
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
