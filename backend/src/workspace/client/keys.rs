//! An endpoint's credentials for its scoring URI: the two keys of a key-authenticated endpoint
//! (read and regenerate), and the short-lived token of an `AMLToken` endpoint.

use super::{decode, ArmClient, Body};
use crate::workspace::error::WorkspaceError;
use reqwest::Method;
use shared::arm::{EndpointAuthKeys, EndpointAuthToken, KeyType, RegenerateEndpointKeysRequest};
use shared::EndpointName;

impl ArmClient {
    pub async fn list_keys(
        &self,
        endpoint: &EndpointName,
    ) -> Result<EndpointAuthKeys, WorkspaceError> {
        self.post_for(&format!("/onlineEndpoints/{endpoint}/listKeys"))
            .await
    }

    /// Replaces one of the two keys with one the workspace generates.
    pub async fn regenerate_key(
        &self,
        endpoint: &EndpointName,
        key: KeyType,
    ) -> Result<(), WorkspaceError> {
        let body = Body::json(&RegenerateEndpointKeysRequest {
            key_type: key,
            key_value: None,
            extra: Default::default(),
        })?;
        self.write(
            Method::POST,
            &format!("/onlineEndpoints/{endpoint}/regenerateKeys"),
            Some(&body),
        )
        .await
    }

    /// A scoring token for an `AMLToken` endpoint (the `token` action).
    pub(in crate::workspace) async fn endpoint_token(
        &self,
        endpoint: &EndpointName,
    ) -> Result<EndpointAuthToken, WorkspaceError> {
        self.post_for(&format!("/onlineEndpoints/{endpoint}/token"))
            .await
    }

    /// POSTs an action without a body and decodes its answer.
    async fn post_for<T: serde::de::DeserializeOwned>(
        &self,
        tail: &str,
    ) -> Result<T, WorkspaceError> {
        decode(self.call(Method::POST, tail, None).await?).await
    }
}
