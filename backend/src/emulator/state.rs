//! What the local workspace remembers across restarts: endpoints (with their keys),
//! deployments and registered assets, in one JSON file written atomically after each change.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use shared::arm::{OnlineDeployment, OnlineEndpoint};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Everything the control plane stores.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// By endpoint name, lowercased: like Azure's scoring host names, endpoint names are unique
    /// across the workspaces of the local region.
    pub endpoints: BTreeMap<String, StoredEndpoint>,
    /// Registered model, environment and code versions by lowercased ARM id.
    pub assets: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEndpoint {
    /// `/subscriptions/{s}/resourceGroups/{g}/providers/.../workspaces/{w}` the endpoint lives in.
    pub workspace_id: String,
    pub resource: OnlineEndpoint,
    /// Primary and secondary key. Kept here, never in the resource's `properties`.
    pub keys: [String; 2],
    /// By deployment name, lowercased.
    pub deployments: BTreeMap<String, OnlineDeployment>,
}

/// The state file: readable and writable by its owner only, since it holds endpoint keys.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join("workspace.json"),
        }
    }

    /// The stored state, or an empty one on first start.
    pub fn load(&self) -> anyhow::Result<Snapshot> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", self.path.display())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Snapshot::default()),
            Err(err) => Err(err).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    /// Writes `snapshot` to a temporary file and renames it over the old one, so a crash
    /// leaves either the old or the new state, never half of one.
    pub fn save(&self, snapshot: &Snapshot) -> anyhow::Result<()> {
        let staging = self.path.with_extension("json.tmp");
        write_private(&staging, &serde_json::to_vec_pretty(snapshot)?)?;
        std::fs::rename(&staging, &self.path)
            .with_context(|| format!("replacing {}", self.path.display()))?;
        Ok(())
    }
}

/// Writes `contents` to `path`, readable and writable by its owner only, and flushes it to
/// disk. For files that hold secrets: endpoint keys, the TLS private key.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_snapshot_loads_back_and_the_file_is_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = StateFile::new(dir.path());
        assert!(file.load().expect("empty").endpoints.is_empty());
        let mut snapshot = Snapshot::default();
        snapshot
            .assets
            .insert("id".into(), serde_json::json!({"name": "m"}));
        file.save(&snapshot).expect("save");
        assert_eq!(file.load().expect("load").assets.len(), 1);
        let mode = std::fs::metadata(dir.path().join("workspace.json"))
            .expect("meta")
            .permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o600);
    }
}
