//! `ArmClient`: typed operations on one workspace's online endpoints and deployments.
//!
//! This module is the transport every resource shares: the configuration, building the client,
//! resource URLs, authorized sending with retries, following long-running operations, paging
//! and decoding. The operations themselves live beside it, one resource a module; the data
//! plane (scoring, local metrics) is `super::data_plane`.

mod assets;
mod deployments;
mod endpoints;
mod keys;
mod monitor;

use super::credential::TokenSource;
use super::error::WorkspaceError;
use super::lro;
use super::observer::{self, OperationUrl};
use super::retry::RetryPolicy;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared::arm::Page;
use shared::EndpointName;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which workspace, where, and how patiently.
#[derive(Debug, Clone)]
pub struct ArmClientConfig {
    /// `https://management.azure.com`, a sovereign cloud's, or the local workspace's URL.
    pub base_url: String,
    pub subscription: String,
    pub resource_group: String,
    pub workspace: String,
    pub api_version: String,
    pub retry: RetryPolicy,
    /// How long a long-running operation may take before the client gives up on it.
    pub operation_timeout: Duration,
    /// The workspace keeps every request beside each scoring URI (`/samples`: the local
    /// workspace); Azure does not, and a window's traffic comes from Azure Monitor.
    pub raw_samples: bool,
}

impl ArmClientConfig {
    /// The API version Greenlight is written against.
    pub const API_VERSION: &'static str = "2024-04-01";

    /// The embedded local workspace at `base_url`, in its demo workspace.
    pub fn local(base_url: &str) -> Self {
        Self {
            base_url: base_url.to_owned(),
            subscription: "00000000-0000-0000-0000-000000000000".into(),
            resource_group: "local".into(),
            workspace: "local".into(),
            api_version: Self::API_VERSION.into(),
            retry: RetryPolicy::default(),
            operation_timeout: Duration::from_secs(600),
            raw_samples: true,
        }
    }
}

/// A JSON request body, serialized once from its typed wire struct (`shared::arm`), so that
/// every retry sends the same bytes.
struct Body(bytes::Bytes);

impl Body {
    fn json(value: &impl Serialize) -> Result<Self, WorkspaceError> {
        serde_json::to_vec(value)
            .map(|bytes| Self(bytes.into()))
            .map_err(|e| WorkspaceError::Unexpected(e.to_string()))
    }
}

#[derive(Debug)]
pub struct ArmClient {
    /// Also the data plane's, which sends without the ARM token.
    pub(super) http: reqwest::Client,
    pub(super) config: ArmClientConfig,
    credential: Arc<dyn TokenSource>,
    /// One lock per endpoint: this process sends one change to an endpoint at a time.
    endpoint_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Every ARM call's status and latency, for `/metrics`.
    calls: ArmCalls,
}

/// ARM calls counted by final status (after retries; `error` when no answer came) and timed.
#[derive(Debug, Default)]
pub struct ArmCalls {
    pub statuses: crate::prometheus::StatusCounters,
    pub latency: crate::prometheus::Histogram,
}

impl ArmClient {
    pub fn new(
        config: ArmClientConfig,
        credential: Arc<dyn TokenSource>,
    ) -> Result<Self, WorkspaceError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| WorkspaceError::Transport(e.to_string()))?;
        Ok(Self::with_http(config, credential, http))
    }

    /// With a caller's HTTP client (a test's, trusting the local workspace's certificate).
    pub fn with_http(
        config: ArmClientConfig,
        credential: Arc<dyn TokenSource>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            http,
            config,
            credential,
            endpoint_locks: Mutex::new(HashMap::new()),
            calls: ArmCalls::default(),
        }
    }

    /// The ARM calls this client made so far.
    pub fn calls(&self) -> &ArmCalls {
        &self.calls
    }

    /// Greenlight's name for this client's workspace, stored beside endpoint names.
    pub fn workspace_id(&self) -> shared::rollout::WorkspaceId {
        shared::rollout::WorkspaceId::from_azure_name(&self.config.workspace)
            .unwrap_or_else(|_| shared::rollout::WorkspaceId::local())
    }

    fn url(&self, tail: &str) -> String {
        let c = &self.config;
        format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}{tail}",
            c.base_url.trim_end_matches('/'),
            c.subscription,
            c.resource_group,
            c.workspace
        )
    }

    /// Sends one request with a fresh token and the API version, retrying transient failures;
    /// counts and times the call (retries included) in [`ArmClient::calls`].
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Body>,
    ) -> Result<Response, WorkspaceError> {
        let started = std::time::Instant::now();
        let sent = self.send_untimed(method, url, body).await;
        self.calls.latency.observe(started.elapsed());
        let status = sent.as_ref().ok().map(|r| r.status().as_u16());
        self.calls.statuses.count(status);
        sent
    }

    async fn send_untimed(
        &self,
        method: Method,
        url: &str,
        body: Option<&Body>,
    ) -> Result<Response, WorkspaceError> {
        let token = self.credential.token().await?;
        let with_version = if url.contains("api-version=") {
            url.to_owned()
        } else {
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}api-version={}", self.config.api_version)
        };
        self.config
            .retry
            .send(|| {
                let mut request = self
                    .http
                    .request(method.clone(), &with_version)
                    .bearer_auth(token.expose());
                if let Some(body) = body {
                    request = request
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.0.clone());
                }
                request
            })
            .await
    }

    /// Sends and checks the status; returns the answer for the caller to read.
    async fn call(
        &self,
        method: Method,
        tail: &str,
        body: Option<&Body>,
    ) -> Result<Response, WorkspaceError> {
        checked(self.send(method, &self.url(tail), body).await?).await
    }

    /// GETs the workspace resource at `tail` and decodes it.
    async fn read<T: DeserializeOwned>(&self, tail: &str) -> Result<T, WorkspaceError> {
        decode(self.call(Method::GET, tail, None).await?).await
    }

    /// GETs a full URL (a `nextLink`, an ARM id) with the workspace's token, and decodes it.
    async fn read_url<T: DeserializeOwned>(&self, url: &str) -> Result<T, WorkspaceError> {
        decode(checked(self.send(Method::GET, url, None).await?).await?).await
    }

    /// Sends a write and follows its long-running operation, if any, to the end.
    async fn write(
        &self,
        method: Method,
        tail: &str,
        body: Option<&Body>,
    ) -> Result<(), WorkspaceError> {
        let response = self.call(method.clone(), tail, body).await?;
        let target = lro::poll_target(response.headers());
        observer::accepted(lro::operation_id(response.headers()).as_deref());
        observer::progress(&format!(
            "the workspace accepted {method} {}",
            tail.trim_start_matches('/')
        ));
        if let Some(target) = target {
            observer::following(&target.operation_url());
            self.follow(target).await?;
        }
        Ok(())
    }

    /// Follows a long-running operation that an earlier write (perhaps by another process)
    /// started, from its stored polling URL, to its end: `Ok` when it succeeded, `OperationFailed`
    /// with Azure's reason when it failed; an `Arm` 404 when the workspace no longer knows it.
    pub async fn follow_operation(&self, operation: &OperationUrl) -> Result<(), WorkspaceError> {
        self.follow(lro::stored_target(operation)).await
    }

    async fn follow(&self, target: lro::PollTarget) -> Result<(), WorkspaceError> {
        lro::follow(target, self.config.operation_timeout, |url| async move {
            self.send(Method::GET, &url, None).await
        })
        .await
    }

    /// Every page of a list.
    async fn list<T: DeserializeOwned>(&self, tail: &str) -> Result<Vec<T>, WorkspaceError> {
        let mut page: Page<T> = self.read(tail).await?;
        let mut items = std::mem::take(&mut page.value);
        while let Some(next) = page.next_link.take() {
            page = self.read_url(&next).await?;
            items.append(&mut page.value);
        }
        Ok(items)
    }

    /// The lock that serializes this process's changes to `endpoint` (names are
    /// case-insensitive, as ARM's are).
    fn endpoint_lock(&self, endpoint: &EndpointName) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .endpoint_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Arc::clone(
            locks
                .entry(endpoint.as_str().to_ascii_lowercase())
                .or_default(),
        )
    }
}

/// The answer if its status is a success, else the error it carries.
pub(super) async fn checked(response: Response) -> Result<Response, WorkspaceError> {
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(WorkspaceError::from_response(response).await)
    }
}

/// Reads an answer's body as `T`.
pub(super) async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, WorkspaceError> {
    let text = response
        .text()
        .await
        .map_err(|e| WorkspaceError::Transport(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| WorkspaceError::Unexpected(e.to_string()))
}
