//! The local workspace's storage account: the Azure Blob operations the `azure-ai-ml` SDK uses
//! to upload code and models (Get Blob Properties, Get Blob, Put Blob, Put Block, Put Block
//! List, Set Blob Metadata), served path-style on the control plane's listener as Azurite
//! serves them: `https://127.0.0.1:{port}/{account}/{container}/{blob}`.
//!
//! Why path-style on the control plane: the SDK builds a datastore's URL as
//! `https://{accountName}.blob.{storage suffix}` and no `*.blob.*` name resolves to this
//! machine. The default datastore therefore reports an account name that already holds the
//! workspace's address (`127.0.0.1:{port}/greenlight`), so whatever suffix the client's cloud
//! has, the URL becomes `https://127.0.0.1:{port}/greenlight.blob.{suffix}/...`, which the
//! storage client treats as a local, path-style account (as for Azurite). The upload URLs
//! `startPendingUpload` hands out point here too.

mod auth;
pub mod error;
mod header_order;
mod routes;
mod store;

pub use auth::Keys;
pub use store::{md5_base64, BlobName};

use crate::secret::Secret;
use anyhow::Context;
use base64::Engine;
use error::StorageError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The account name in the path of the URLs the workspace hands out.
pub const ACCOUNT: &str = "greenlight";
/// The default datastore and the container it maps to.
pub const DEFAULT_DATASTORE: &str = "workspaceblobstore";
pub const DATASTORE_CONTAINER: &str = "azureml-blobstore";
/// How long a pending upload's SAS is valid.
const UPLOAD_SAS_HOURS: i64 = 24;

/// The account segment of the URLs the workspace hands out: `greenlight` (pending uploads) or
/// `greenlight.blob.{suffix}` (the datastore's URL as the SDK builds it).
pub fn is_ours(account: &str) -> bool {
    account == ACCOUNT
        || account
            .strip_prefix(ACCOUNT)
            .is_some_and(|rest| rest.starts_with(".blob."))
}

/// The path (without its leading `/`) of an http(s) URL on this machine's loopback, any port.
fn loopback_path(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))?;
    let (authority, path) = rest.split_once('/')?;
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]").then_some(path)
}

/// The blob service of the local workspace.
#[derive(Debug)]
pub struct BlobService {
    store: store::Store,
    keys: Keys,
    /// `https://127.0.0.1:{port}` of the control plane.
    base_url: String,
}

impl BlobService {
    /// Opens the account kept in `state_dir/blobs`, making its key on first use (kept in
    /// `state_dir/storage-account.key`, readable by Greenlight only).
    pub fn open(state_dir: &Path, base_url: &str, token: Secret) -> anyhow::Result<Arc<Self>> {
        let key_path = state_dir.join("storage-account.key");
        let key = match std::fs::read_to_string(&key_path) {
            Ok(key) => key.trim().to_owned(),
            Err(_) => {
                let mut bytes = [0u8; 64];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
                let key = base64::engine::general_purpose::STANDARD.encode(bytes);
                super::state::write_private(&key_path, key.as_bytes())
                    .context("writing the storage account key")?;
                key
            }
        };
        let root = state_dir.join("blobs");
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        Ok(Arc::new(Self {
            store: store::Store::new(root),
            keys: Keys {
                account_key: Secret::new(key),
                token,
            },
            base_url: base_url.trim_end_matches('/').to_owned(),
        }))
    }

    /// The account key `listSecrets` hands out.
    pub fn account_key(&self) -> &Secret {
        &self.keys.account_key
    }

    /// The account name the default datastore reports: the workspace's address, then
    /// [`ACCOUNT`] (see the module's documentation for why).
    pub fn datastore_account_name(&self) -> String {
        let host = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, host)| host);
        format!("{host}/{ACCOUNT}")
    }

    /// A fresh container for one pending upload, its URL and a SAS URL to write to it.
    pub fn pending_upload(&self) -> Result<(String, String), StorageError> {
        let container = format!("upload-{}", uuid::Uuid::new_v4().simple());
        let blob_uri = format!("{}/{ACCOUNT}/{container}", self.base_url);
        let expiry = chrono::Utc::now() + chrono::Duration::hours(UPLOAD_SAS_HOURS);
        let sas = auth::container_sas(&self.keys, ACCOUNT, &container, expiry)?;
        Ok((blob_uri.clone(), format!("{blob_uri}?{sas}")))
    }

    /// A SAS URL for `container` that expired a minute ago (tests of the refusal use it).
    pub fn expired_sas_url(&self, container: &str) -> Result<String, StorageError> {
        let expiry = chrono::Utc::now() - chrono::Duration::minutes(1);
        let sas = auth::container_sas(&self.keys, ACCOUNT, container, expiry)?;
        Ok(format!("{}/{ACCOUNT}/{container}?{sas}", self.base_url))
    }

    /// The folder a code or model URI the workspace handed out names, when it names one of
    /// its blobs: `https://127.0.0.1:{port}/{account}/{container}/{path}` (a pending upload;
    /// any port, since a version registered in an earlier run keeps that run's address) or
    /// `azureml://.../datastores/workspaceblobstore/paths/{path}`.
    pub fn local_path(&self, uri: &str) -> Option<PathBuf> {
        let (container, path) = if let Some(rest) = loopback_path(uri) {
            let mut parts = rest.splitn(3, '/');
            let (account, container) = (parts.next()?, parts.next()?);
            if !is_ours(account) {
                return None;
            }
            (container.to_owned(), parts.next().unwrap_or_default())
        } else if uri.starts_with("azureml://") {
            let (_, rest) = uri.split_once("/datastores/")?;
            let (datastore, path) = rest.split_once("/paths/")?;
            if !datastore.eq_ignore_ascii_case(DEFAULT_DATASTORE) {
                return None;
            }
            (DATASTORE_CONTAINER.to_owned(), path)
        } else {
            return None;
        };
        let path = percent_encoding::percent_decode_str(path.trim_end_matches('/'))
            .decode_utf8()
            .ok()?;
        if path.is_empty() {
            let checked = BlobName::parse(&container, "-").ok()?;
            return Some(self.store.container_dir(&checked.container));
        }
        let name = BlobName::parse(&container, &path).ok()?;
        Some(self.store.container_dir(&name.container).join(name.blob))
    }

    /// The folder every blob lies in: assets there hold only uploaded content.
    pub fn data_root(&self) -> PathBuf {
        self.store.data_root()
    }

    /// The blob routes, to merge into the control plane's router.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        routes::router(Arc::clone(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_content_is_found_whatever_port_the_workspace_listened_on_then() {
        let state = tempfile::tempdir().expect("state");
        let service = BlobService::open(state.path(), "https://127.0.0.1:4000", Secret::new("t"))
            .expect("open");
        let data = service.data_root();
        for (uri, expected) in [
            ("https://127.0.0.1:4000/greenlight/upload-1/code", Some(data.join("upload-1/code"))),
            ("https://127.0.0.1:5999/greenlight/upload-1/code", Some(data.join("upload-1/code"))),
            (
                "azureml://subscriptions/s/resourcegroups/g/workspaces/w/datastores/workspaceblobstore/paths/LocalUpload/h/m.pkl",
                Some(data.join("azureml-blobstore/LocalUpload/h/m.pkl")),
            ),
            ("https://example.com/greenlight/upload-1/code", None),
            ("https://127.0.0.1:4000/other/upload-1/code", None),
            ("https://127.0.0.1:4000/greenlight/upload-1/../../x", None),
            ("https://127.0.0.1:4000/greenlight/../x", None),
            ("azureml://datastores/other/paths/x", None),
        ] {
            assert_eq!(service.local_path(uri), expected, "{uri}");
        }
    }
}
