//! The data plane: scoring requests to an endpoint's scoring URI, and the local workspace's
//! raw traffic samples beside it. These go to the endpoint's own host with the endpoint's
//! credential, not to ARM with the workspace's token.

use super::client::{checked, decode, ArmClient};
use super::error::WorkspaceError;
use chrono::{DateTime, Utc};
use shared::api::metrics::LocalWindow;
use shared::arm::AuthMode;
use shared::{DeploymentName, EndpointName};
use std::time::{Duration, Instant};

/// What a scoring request got back.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub status: u16,
    pub body: bytes::Bytes,
    pub latency: Duration,
    /// The deployment that answered (`azureml-model-deployment` on the answer).
    pub deployment: Option<String>,
}

impl ArmClient {
    /// Scores `body` on the endpoint with its primary key (or an AML token for AMLToken
    /// endpoints), by traffic or at `deployment`. Any answer, error statuses included, is
    /// returned as it came: the model's 424 is information, not a client failure.
    pub async fn invoke(
        &self,
        endpoint: &EndpointName,
        deployment: Option<&DeploymentName>,
        body: bytes::Bytes,
    ) -> Result<Invocation, WorkspaceError> {
        let (scoring_uri, credential) = self.scoring_access(endpoint).await?;
        let timeout = self.config.retry.request_timeout;
        let started = Instant::now();
        let mut request = self
            .http
            .post(&scoring_uri)
            .bearer_auth(credential)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(timeout)
            .body(body);
        if let Some(deployment) = deployment {
            request = request.header("azureml-model-deployment", deployment.as_str());
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                WorkspaceError::Timeout(timeout)
            } else {
                WorkspaceError::Transport("the scoring request failed".into())
            }
        })?;
        let status = response.status().as_u16();
        let answered_by = response
            .headers()
            .get("azureml-model-deployment")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map_err(|e| WorkspaceError::Transport(e.to_string()))?;
        Ok(Invocation {
            status,
            body,
            latency: started.elapsed(),
            deployment: answered_by,
        })
    }

    /// The endpoint's scoring URI and the credential that may call it: its primary key, or an
    /// AML token for AMLToken endpoints.
    async fn scoring_access(
        &self,
        endpoint: &EndpointName,
    ) -> Result<(String, String), WorkspaceError> {
        let found = self.get_endpoint(endpoint).await?;
        let scoring_uri = found.properties.scoring_uri.clone().ok_or_else(|| {
            WorkspaceError::Unexpected(format!("endpoint {endpoint} has no scoring URI"))
        })?;
        let credential = match found.properties.auth_mode {
            Some(AuthMode::AmlToken) => self.endpoint_token(endpoint).await?.access_token,
            _ => self.list_keys(endpoint).await?.primary_key,
        }
        .ok_or_else(|| WorkspaceError::Unexpected("the workspace gave no credential".into()))?;
        Ok((scoring_uri, credential))
    }

    /// The local workspace's raw traffic of `[start, end)` and each deployment's ready
    /// instances, from beside the scoring URI (asked with the same credential as scoring: the
    /// answers and request excerpts in it are callers' data). Azure has no such route; there
    /// a window's traffic comes from Azure Monitor (`window_samples`).
    pub async fn local_window(
        &self,
        endpoint: &EndpointName,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<LocalWindow, WorkspaceError> {
        let (scoring_uri, credential) = self.scoring_access(endpoint).await?;
        let samples_uri = scoring_uri
            .strip_suffix("/score")
            .map(|base| format!("{base}/samples"))
            .ok_or_else(|| {
                WorkspaceError::Unexpected(format!("{scoring_uri} is not a scoring URI"))
            })?;
        let response = self
            .http
            .get(&samples_uri)
            .query(&[
                ("start_ms", start.timestamp_millis()),
                ("end_ms", end.timestamp_millis()),
            ])
            .bearer_auth(credential)
            .timeout(self.config.retry.request_timeout)
            .send()
            .await
            .map_err(|_| WorkspaceError::Transport("the samples request failed".into()))?;
        decode(checked(response).await?).await
    }
}
