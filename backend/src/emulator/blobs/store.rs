//! Blob content and properties on disk, under the workspace's state folder:
//! `data/{container}/{blob}` holds the bytes (so a folder of uploaded blobs *is* a folder a
//! deployment can run), `meta/{container}/{blob}.json` the properties and metadata, and
//! `blocks/{container}/{hex blob}/{hex block id}` the blocks staged by Put Block until Put Block
//! List commits them. Names are checked before they become paths: no `..`, no empty segment.

use super::error::StorageError;
use base64::Engine;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// What Get Blob Properties answers besides the content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlobProperties {
    pub length: u64,
    /// Base64 of the content's MD5, as `Content-MD5` carries it.
    pub content_md5: String,
    pub content_type: Option<String>,
    pub etag: String,
    /// RFC 1123, as `Last-Modified` carries it.
    pub last_modified: String,
    /// `x-ms-meta-*`, names lowercased as HTTP hands them over.
    pub metadata: BTreeMap<String, String>,
}

/// The blobs of the local storage account.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
}

/// A checked container and blob name.
#[derive(Debug, Clone)]
pub struct BlobName {
    pub container: String,
    pub blob: String,
}

impl BlobName {
    /// Refuses names that could leave the store's folders once joined to a path.
    pub fn parse(container: &str, blob: &str) -> Result<Self, StorageError> {
        let container_ok = !container.is_empty()
            && container.len() <= 63
            && container
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !container_ok {
            return Err(StorageError::invalid_resource_name(
                "a container name is 1-63 lowercase letters, digits and '-'",
            ));
        }
        let path = Path::new(blob);
        let blob_ok = !blob.is_empty()
            && blob.len() <= 1024
            && !blob.starts_with('/')
            && !blob.ends_with('/')
            && !blob.contains("//")
            && !blob.contains('\0')
            && path.components().all(|c| matches!(c, Component::Normal(_)));
        if !blob_ok {
            return Err(StorageError::invalid_resource_name(
                "a blob name is a relative path of non-empty segments, without '.' or '..'",
            ));
        }
        Ok(Self {
            container: container.to_owned(),
            blob: blob.to_owned(),
        })
    }
}

impl Store {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// Where the blobs of `container` lie: a deployment's code or model folder is inside.
    pub fn container_dir(&self, container: &str) -> PathBuf {
        self.root.join("data").join(container)
    }

    /// The folder all blob content lies in.
    pub fn data_root(&self) -> PathBuf {
        self.root.join("data")
    }

    fn data_path(&self, name: &BlobName) -> PathBuf {
        self.container_dir(&name.container).join(&name.blob)
    }

    fn meta_path(&self, name: &BlobName) -> PathBuf {
        self.root
            .join("meta")
            .join(&name.container)
            .join(format!("{}.json", name.blob))
    }

    fn block_dir(&self, name: &BlobName) -> PathBuf {
        self.root
            .join("blocks")
            .join(&name.container)
            .join(hex::encode(name.blob.as_bytes()))
    }

    pub async fn properties(&self, name: &BlobName) -> Result<BlobProperties, StorageError> {
        let bytes = match tokio::fs::read(self.meta_path(name)).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StorageError::blob_not_found())
            }
            Err(e) => return Err(StorageError::internal(&e.into())),
        };
        serde_json::from_slice(&bytes).map_err(|e| StorageError::internal(&e.into()))
    }

    pub async fn read(&self, name: &BlobName) -> Result<(BlobProperties, Vec<u8>), StorageError> {
        let properties = self.properties(name).await?;
        let content = tokio::fs::read(self.data_path(name))
            .await
            .map_err(|e| StorageError::internal(&e.into()))?;
        Ok((properties, content))
    }

    /// Put Blob: stores `content` whole, after checking its `Content-MD5` when sent.
    pub async fn put(
        &self,
        name: &BlobName,
        content: &[u8],
        sent_md5: Option<&str>,
        content_type: Option<String>,
        metadata: BTreeMap<String, String>,
    ) -> Result<BlobProperties, StorageError> {
        let md5 = md5_base64(content);
        if let Some(sent) = sent_md5 {
            if sent != md5 {
                return Err(StorageError::md5_mismatch());
            }
        }
        self.write(name, content, md5, content_type, metadata).await
    }

    async fn write(
        &self,
        name: &BlobName,
        content: &[u8],
        md5: String,
        content_type: Option<String>,
        metadata: BTreeMap<String, String>,
    ) -> Result<BlobProperties, StorageError> {
        let properties = BlobProperties {
            length: content.len() as u64,
            content_md5: md5,
            content_type,
            etag: format!("\"0x{:X}\"", rand::random::<u64>()),
            last_modified: http_date(),
            metadata,
        };
        write_atomically(&self.data_path(name), content).await?;
        self.save_properties(name, &properties).await?;
        Ok(properties)
    }

    async fn save_properties(
        &self,
        name: &BlobName,
        properties: &BlobProperties,
    ) -> Result<(), StorageError> {
        let json = serde_json::to_vec(properties).map_err(|e| StorageError::internal(&e.into()))?;
        write_atomically(&self.meta_path(name), &json).await
    }

    /// Set Blob Metadata: replaces the metadata of an existing blob.
    pub async fn set_metadata(
        &self,
        name: &BlobName,
        metadata: BTreeMap<String, String>,
    ) -> Result<BlobProperties, StorageError> {
        let mut properties = self.properties(name).await?;
        properties.metadata = metadata;
        properties.etag = format!("\"0x{:X}\"", rand::random::<u64>());
        properties.last_modified = http_date();
        self.save_properties(name, &properties).await?;
        Ok(properties)
    }

    /// Put Block: stages one block (ids are base64, at most 64 bytes decoded).
    pub async fn put_block(
        &self,
        name: &BlobName,
        block_id: &str,
        content: &[u8],
        sent_md5: Option<&str>,
    ) -> Result<(), StorageError> {
        let id = decode_block_id(block_id)?;
        if let Some(sent) = sent_md5 {
            if sent != md5_base64(content) {
                return Err(StorageError::md5_mismatch());
            }
        }
        write_atomically(&self.block_dir(name).join(hex::encode(id)), content).await
    }

    /// Put Block List: the blob becomes its staged blocks in the order listed.
    pub async fn commit_blocks(
        &self,
        name: &BlobName,
        block_ids: &[String],
        content_type: Option<String>,
        metadata: BTreeMap<String, String>,
    ) -> Result<BlobProperties, StorageError> {
        let dir = self.block_dir(name);
        let mut content = Vec::new();
        for id in block_ids {
            let id = decode_block_id(id)?;
            let block = tokio::fs::read(dir.join(hex::encode(id)))
                .await
                .map_err(|_| StorageError::invalid_block_list())?;
            content.extend_from_slice(&block);
        }
        let md5 = md5_base64(&content);
        let properties = self
            .write(name, &content, md5, content_type, metadata)
            .await?;
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(properties)
    }

    /// Whether the blob exists (Put Blob with `If-None-Match: *` must not replace it).
    pub async fn exists(&self, name: &BlobName) -> bool {
        tokio::fs::metadata(self.meta_path(name)).await.is_ok()
    }
}

fn decode_block_id(id: &str) -> Result<Vec<u8>, StorageError> {
    base64::engine::general_purpose::STANDARD
        .decode(id)
        .ok()
        .filter(|b| !b.is_empty() && b.len() <= 64)
        .ok_or_else(|| {
            StorageError::invalid_query_parameter("blockid", "a block id is base64 of 1-64 bytes")
        })
}

pub fn md5_base64(content: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(content))
}

fn http_date() -> String {
    chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Writes next to the target and renames, so a reader never sees half a blob. Content is
/// readable by others (the folders above are not): an instance's copy of it is made from here.
async fn write_atomically(path: &Path, content: &[u8]) -> Result<(), StorageError> {
    let internal = |e: std::io::Error| StorageError::internal(&e.into());
    let parent = path
        .parent()
        .ok_or_else(|| StorageError::invalid_resource_name("a blob needs a name"))?;
    match tokio::fs::metadata(parent).await {
        Ok(meta) if !meta.is_dir() => return Err(StorageError::path_conflict()),
        _ => {}
    }
    tokio::fs::create_dir_all(parent).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotADirectory
            || e.kind() == std::io::ErrorKind::AlreadyExists
        {
            StorageError::path_conflict()
        } else {
            internal(e)
        }
    })?;
    if tokio::fs::metadata(path).await.is_ok_and(|m| m.is_dir()) {
        return Err(StorageError::path_conflict());
    }
    let staging = parent.join(format!(
        ".{}.{:x}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("blob"),
        rand::random::<u64>()
    ));
    tokio::fs::write(&staging, content)
        .await
        .map_err(internal)?;
    // Whatever Greenlight's umask: the instance folder gets a copy only of what others may read.
    tokio::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o644))
        .await
        .map_err(internal)?;
    tokio::fs::rename(&staging, path).await.map_err(internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_the_store_are_refused() {
        for (container, blob) in [
            ("c", "../x"),
            ("c", "a/../../x"),
            ("c", "/etc/passwd"),
            ("c", "a//b"),
            ("c", "./a"),
            ("C", "a"),
            ("..", "a"),
            ("c", ""),
        ] {
            assert!(
                BlobName::parse(container, blob).is_err(),
                "{container}/{blob}"
            );
        }
        assert!(BlobName::parse("azureml-blobstore", "LocalUpload/abc/model.pkl").is_ok());
    }

    #[tokio::test]
    async fn blocks_commit_in_the_listed_order_with_the_whole_md5() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::new(dir.path().to_path_buf());
        let name = BlobName::parse("c", "big/file.bin").expect("name");
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        store
            .put_block(&name, &b64("2"), b"world", None)
            .await
            .expect("block 2");
        store
            .put_block(&name, &b64("1"), b"hello ", None)
            .await
            .expect("block 1");
        let props = store
            .commit_blocks(&name, &[b64("1"), b64("2")], None, BTreeMap::new())
            .await
            .expect("commit");
        let (_, content) = store.read(&name).await.expect("read");
        assert_eq!(content, b"hello world");
        assert_eq!(props.content_md5, md5_base64(b"hello world"));
        let wrong = store
            .put(&name, b"x", Some(&md5_base64(b"y")), None, BTreeMap::new())
            .await;
        assert!(wrong.is_err(), "a wrong Content-MD5 is refused");
    }
}
