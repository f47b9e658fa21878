//! Registered model, environment and code versions: stored under their ARM id, found from any
//! workspace path (the local workspaces share one set, so the demo models are registered once),
//! listed as ARM's containers and versions, and resolved to the local folder a deployment runs.

use super::LocalWorkspace;
use crate::emulator::arm::error::ArmFailure;
use crate::emulator::blobs::BlobService;
use crate::emulator::state::Snapshot;
use serde_json::Value;
use shared::{AssetKind, AssetRef};
use std::collections::BTreeMap;
use std::path::PathBuf;

impl LocalWorkspace {
    /// Registers (or replaces) an asset version under its ARM id in `workspace_id`.
    pub async fn put_asset(
        &self,
        workspace_id: &str,
        asset: &AssetRef,
        mut body: Value,
    ) -> Result<Value, ArmFailure> {
        let id = asset.id_in(workspace_id);
        body["id"] = id.clone().into();
        // An asset version's resource name is its version.
        body["name"] = asset.version.clone().into();
        body["type"] = format!(
            "Microsoft.MachineLearningServices/workspaces/{}/versions",
            asset.kind
        )
        .into();
        if !body["properties"].is_object() {
            return Err(ArmFailure::invalid_field(
                "properties",
                format!("asset {} needs properties", asset.name),
            ));
        }
        let mut state = self.state.lock().await;
        state.assets.insert(id.to_ascii_lowercase(), body.clone());
        self.save(&state).await?;
        Ok(body)
    }

    /// An asset version, asked for under `workspace_id`; one registered under any workspace
    /// path is found from all.
    pub async fn get_asset(
        &self,
        workspace_id: &str,
        asset: &AssetRef,
    ) -> Result<Value, ArmFailure> {
        let state = self.state.lock().await;
        find_asset(&state, asset)
            .cloned()
            .ok_or_else(|| ArmFailure::resource_not_found("asset", &asset.id_in(workspace_id)))
    }

    /// The asset containers of `kind` (ARM's `GET .../{kind}`), each with its latest version.
    pub async fn asset_containers(&self, workspace_id: &str, kind: AssetKind) -> Vec<Value> {
        let state = self.state.lock().await;
        let mut latest: BTreeMap<String, String> = BTreeMap::new();
        for (name, version) in versions_of(&state, kind).into_keys() {
            latest.insert(name, version);
        }
        latest
            .into_iter()
            .map(|(name, version)| {
                serde_json::json!({
                    "id": format!("{workspace_id}/{kind}/{name}"),
                    "name": name,
                    "type": format!("Microsoft.MachineLearningServices/workspaces/{kind}"),
                    "properties": { "latestVersion": version, "isArchived": false },
                })
            })
            .collect()
    }

    /// The versions of asset `name` of `kind` (ARM's `GET .../{kind}/{name}/versions`).
    pub async fn asset_versions(
        &self,
        kind: AssetKind,
        name: &str,
    ) -> Result<Vec<Value>, ArmFailure> {
        let state = self.state.lock().await;
        let versions: Vec<Value> = versions_of(&state, kind)
            .into_iter()
            .filter(|((asset, _), _)| asset.eq_ignore_ascii_case(name))
            .map(|(_, body)| body)
            .collect();
        if versions.is_empty() {
            return Err(ArmFailure::resource_not_found(kind.as_str(), name));
        }
        Ok(versions)
    }
}

impl LocalWorkspace {
    /// The versions of `kind`, under any name, whose `properties.properties.hash_sha256` is
    /// `hash` (and `hash_version`, when given).
    pub async fn versions_with_hash(
        &self,
        kind: AssetKind,
        hash: &str,
        hash_version: Option<&str>,
    ) -> Vec<Value> {
        let state = self.state.lock().await;
        versions_of(&state, kind)
            .into_values()
            .filter(|v| {
                let tags = &v["properties"]["properties"];
                // The SDK sends the hash version as a number in the body, as text in the query.
                let text = |value: &Value| match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                tags["hash_sha256"].as_str() == Some(hash)
                    && hash_version.is_none_or(|h| text(&tags["hash_version"]) == h)
            })
            .collect()
    }
}

/// Every registered version of `kind`, keyed by `(name, version)`; one registered under
/// several workspace paths counts once.
fn versions_of(state: &Snapshot, kind: AssetKind) -> BTreeMap<(String, String), Value> {
    let mut found = BTreeMap::new();
    for asset in state.assets.values() {
        let id = asset["id"].as_str().unwrap_or_default();
        if let Ok(AssetRef { name, version, .. }) = AssetRef::parse(id, kind) {
            found
                .entry((name, version))
                .or_insert_with(|| asset.clone());
        }
    }
    found
}

/// Resolves `reference` (in the request's `field`) to a registered version of `kind` and that
/// version's local folder, read from its `uri_field` (e.g. `modelUri`): a `file://` folder, or
/// content uploaded to the workspace's own storage (a single uploaded file stands for the folder
/// it was uploaded into, as Azure mounts it).
pub(super) fn asset_path(
    state: &Snapshot,
    blobs: &BlobService,
    kind: AssetKind,
    reference: &str,
    uri_field: &str,
    field: &str,
) -> Result<PathBuf, ArmFailure> {
    let wanted = AssetRef::parse(reference, kind)
        .map_err(|e| ArmFailure::invalid_field(field, e.to_string()))?;
    let asset = find_asset(state, &wanted).ok_or_else(|| {
        ArmFailure::invalid_field(field, format!("{reference} is not registered"))
    })?;
    let uri = asset["properties"][uri_field].as_str().unwrap_or_default();
    if let Some(path) = uri.strip_prefix("file://") {
        return Ok(PathBuf::from(path));
    }
    let uploaded = blobs.local_path(uri).ok_or_else(|| {
        ArmFailure::invalid_field(
            field,
            format!(
                "{reference} must point at a local folder (file://) or at content uploaded to \
                 this workspace, not {uri:?}"
            ),
        )
    })?;
    if uploaded.is_file() {
        return uploaded
            .parent()
            .map(PathBuf::from)
            .ok_or_else(|| ArmFailure::invalid_field(field, format!("{reference} has no folder")));
    }
    if !uploaded.is_dir() {
        return Err(ArmFailure::invalid_field(
            field,
            format!("{reference}: nothing was uploaded to {uri}"),
        ));
    }
    Ok(uploaded)
}

/// The conda file of the environment version `reference` names, when it is registered here
/// and has one. Others (a curated environment, a registry's) run with Greenlight's own
/// interpreter, as every environment did before conda files were built.
pub(super) fn environment_conda(state: &Snapshot, reference: &str) -> Option<String> {
    let wanted = AssetRef::parse(reference, AssetKind::Environments).ok()?;
    find_asset(state, &wanted)?["properties"]["condaFile"]
        .as_str()
        .map(str::to_owned)
}

/// The registered version `wanted` names, under whichever workspace path it was registered.
fn find_asset<'a>(state: &'a Snapshot, wanted: &AssetRef) -> Option<&'a Value> {
    state
        .assets
        .iter()
        .find(|(id, _)| AssetRef::parse(id, wanted.kind).is_ok_and(|r| r.same_version(wanted)))
        .map(|(_, asset)| asset)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn asset_ids_match_across_workspaces_by_their_tail() {
        let mut state = Snapshot::default();
        let id = "/subscriptions/s/resourceGroups/g/providers/P/workspaces/w/models/M/versions/1";
        state
            .assets
            .insert(id.to_ascii_lowercase(), serde_json::json!({ "id": id }));
        let asked = |reference: &str| {
            let asset = AssetRef::parse(reference, AssetKind::Models).expect("a reference");
            find_asset(&state, &asset).map(|a| a["id"].clone())
        };
        let other_workspace = "/subscriptions/t/resourceGroups/h/providers/P/workspaces/v";
        assert_eq!(
            asked(&format!("{other_workspace}/models/m/versions/1")),
            Some(id.into())
        );
        assert_eq!(asked("azureml:m:1"), Some(id.into()));
        assert_eq!(asked("azureml:m:2"), None);
    }
}
