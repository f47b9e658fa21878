//! Where the SDK puts local files: the workspace's default datastore (`workspaceblobstore`,
//! with its account key from `listSecrets`) for models, and `startPendingUpload`'s temporary
//! blob reference (a container and a SAS for it) for code. Both point at the local workspace's
//! own blob service (`emulator::blobs`).

use super::error::ArmFailure;
use super::{ControlState, WorkspacePath};
use crate::emulator::blobs::{DATASTORE_CONTAINER, DEFAULT_DATASTORE};
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
pub struct DatastorePath {
    #[serde(flatten)]
    workspace: WorkspacePath,
    name: String,
}

#[derive(Debug, Deserialize)]
pub struct UploadPath {
    #[serde(flatten)]
    workspace: WorkspacePath,
    name: String,
    version: String,
}

/// The default datastore as ARM answers it; its account name holds the workspace's address
/// (see `emulator::blobs`).
fn datastore(state: &ControlState, workspace_id: &str) -> Value {
    json!({
        "id": format!("{workspace_id}/datastores/{DEFAULT_DATASTORE}"),
        "name": DEFAULT_DATASTORE,
        "type": "Microsoft.MachineLearningServices/workspaces/datastores",
        "properties": {
            "datastoreType": "AzureBlob",
            "accountName": state.workspace.blobs().datastore_account_name(),
            "containerName": DATASTORE_CONTAINER,
            "endpoint": "core.windows.net",
            "protocol": "https",
            "credentials": { "credentialsType": "AccountKey" },
            "isDefault": true,
            "serviceDataAccessAuthIdentity": "None",
            "description": "The local workspace's blob storage",
            "tags": {},
            "properties": {},
        },
    })
}

fn known(name: &str) -> Result<(), ArmFailure> {
    if name.eq_ignore_ascii_case(DEFAULT_DATASTORE) {
        Ok(())
    } else {
        Err(ArmFailure::resource_not_found("datastore", name))
    }
}

/// `GET .../datastores` (also with `isDefault=true`): the one datastore.
pub async fn list(
    State(state): State<ControlState>,
    Path(path): Path<WorkspacePath>,
) -> Json<Value> {
    Json(json!({ "value": [datastore(&state, &path.id())] }))
}

/// `GET .../datastores/{name}`.
pub async fn get(
    State(state): State<ControlState>,
    Path(path): Path<DatastorePath>,
) -> Result<Json<Value>, ArmFailure> {
    known(&path.name)?;
    Ok(Json(datastore(&state, &path.workspace.id())))
}

/// `POST .../datastores/{name}/listSecrets`: the account key.
pub async fn list_secrets(
    State(state): State<ControlState>,
    Path(path): Path<DatastorePath>,
) -> Result<Json<Value>, ArmFailure> {
    known(&path.name)?;
    Ok(Json(json!({
        "secretsType": "AccountKey",
        "key": state.workspace.blobs().account_key().expose(),
    })))
}

/// `POST .../codes/{name}/versions/{version}/startPendingUpload`: a container of its own and a
/// SAS to write to it, valid for a day.
pub async fn start_pending_upload(
    State(state): State<ControlState>,
    Path(path): Path<UploadPath>,
) -> Result<Json<Value>, ArmFailure> {
    let (blob_uri, sas_uri) = state
        .workspace
        .blobs()
        .pending_upload()
        .map_err(|e| ArmFailure::internal(&anyhow::anyhow!("{e:?}")))?;
    tracing::debug!(
        code = %path.name,
        version = %path.version,
        workspace = %path.workspace.id(),
        "pending upload started"
    );
    Ok(Json(json!({
        "blobReferenceForConsumption": {
            "blobUri": blob_uri,
            "storageAccountArmId": null,
            "credential": { "credentialType": "SAS", "sasUri": sas_uri },
        },
        "pendingUploadId": uuid::Uuid::new_v4().to_string(),
        "pendingUploadType": "TemporaryBlobReference",
    })))
}
