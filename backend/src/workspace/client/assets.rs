//! The workspace itself and its registered assets: the workspace's region, and the versions of
//! its models, environments and code.

use super::ArmClient;
use crate::workspace::error::WorkspaceError;
use shared::arm::TrackedResource;

/// An asset version of any kind, its `properties` left as Azure sent them.
type AssetVersion = TrackedResource<serde_json::Value>;

impl ArmClient {
    /// The workspace's Azure region: new endpoints and deployments must be created in it.
    pub async fn workspace_location(&self) -> Result<String, WorkspaceError> {
        let workspace: serde_json::Value = self.read("").await?;
        workspace["location"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| WorkspaceError::Unexpected("the workspace has no location".into()))
    }

    /// Every version of every registered asset of `kind` (`models`, `environments`, `codes`):
    /// the containers, then each one's versions.
    pub async fn list_assets(&self, kind: &str) -> Result<Vec<AssetVersion>, WorkspaceError> {
        let containers: Vec<AssetVersion> = self.list(&format!("/{kind}")).await?;
        let mut versions = Vec::new();
        for container in containers {
            let Some(name) = container.name else { continue };
            versions.extend(
                self.list::<AssetVersion>(&format!("/{kind}/{name}/versions"))
                    .await?,
            );
        }
        Ok(versions)
    }

    /// One version of an asset of `kind`, by `azureml:<name>:<version>` or by its ARM id.
    pub async fn get_asset_version(
        &self,
        kind: &str,
        reference: &str,
    ) -> Result<AssetVersion, WorkspaceError> {
        if let Some((name, version)) = reference
            .strip_prefix("azureml:")
            .and_then(|short| short.split_once(':'))
        {
            return self
                .read(&format!("/{kind}/{name}/versions/{version}"))
                .await;
        }
        if !reference.starts_with("/subscriptions/") {
            return Err(WorkspaceError::Unexpected(format!(
                "{reference} is not an asset reference"
            )));
        }
        let url = format!("{}{reference}", self.config.base_url.trim_end_matches('/'));
        self.read_url(&url).await
    }
}
