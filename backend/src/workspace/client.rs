//! `ArmClient`: typed operations on one workspace's online endpoints and deployments.

use super::credential::TokenSource;
use super::error::WorkspaceError;
use super::lro;
use super::observer;
use super::retry::RetryPolicy;
use reqwest::{Method, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared::api::EndpointMetricsSummary;
use shared::arm::{
    DeploymentLogs, EndpointAuthKeys, KeyType, OnlineDeployment, OnlineEndpoint, Page,
    TrackedResource,
};
use shared::traffic::effective_split;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
        }
    }
}

/// What a scoring request got back.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub status: u16,
    pub body: bytes::Bytes,
    pub latency: Duration,
    /// The deployment that answered (`azureml-model-deployment` on the answer).
    pub deployment: Option<String>,
}

/// A live and mirrored split, keyed by deployment name.
pub type Split = BTreeMap<String, i64>;

#[derive(Debug)]
pub struct ArmClient {
    http: reqwest::Client,
    config: ArmClientConfig,
    credential: Arc<dyn TokenSource>,
    /// One lock per endpoint: this process sends one change to an endpoint at a time.
    endpoint_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
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
        }
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

    /// Sends one request with a fresh token and the API version, retrying transient failures.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
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
                    request = request.json(body);
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
        body: Option<&serde_json::Value>,
    ) -> Result<Response, WorkspaceError> {
        let response = self.send(method, &self.url(tail), body).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(WorkspaceError::from_response(response).await)
        }
    }

    async fn read<T: DeserializeOwned>(&self, tail: &str) -> Result<T, WorkspaceError> {
        decode(self.call(Method::GET, tail, None).await?).await
    }

    /// Sends a write and follows its long-running operation, if any, to the end.
    async fn write(
        &self,
        method: Method,
        tail: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(), WorkspaceError> {
        let response = self.call(method.clone(), tail, body).await?;
        let target = lro::poll_target(response.headers());
        observer::accepted(lro::operation_id(response.headers()).as_deref());
        observer::progress(&format!(
            "the workspace accepted {method} {}",
            tail.trim_start_matches('/')
        ));
        if let Some(target) = target {
            lro::follow(target, self.config.operation_timeout, |url| async move {
                self.send(Method::GET, &url, None).await
            })
            .await?;
        }
        Ok(())
    }

    /// Every page of a list.
    async fn list<T: DeserializeOwned>(&self, tail: &str) -> Result<Vec<T>, WorkspaceError> {
        let mut page: Page<T> = self.read(tail).await?;
        let mut items = std::mem::take(&mut page.value);
        while let Some(next) = page.next_link.take() {
            let response = self.send(Method::GET, &next, None).await?;
            if !response.status().is_success() {
                return Err(WorkspaceError::from_response(response).await);
            }
            page = decode(response).await?;
            items.append(&mut page.value);
        }
        Ok(items)
    }

    fn endpoint_lock(&self, endpoint: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .endpoint_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Arc::clone(locks.entry(endpoint.to_ascii_lowercase()).or_default())
    }

    // ---------------------------------------------------------------- workspace

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
    pub async fn list_assets(
        &self,
        kind: &str,
    ) -> Result<Vec<TrackedResource<serde_json::Value>>, WorkspaceError> {
        let containers: Vec<TrackedResource<serde_json::Value>> =
            self.list(&format!("/{kind}")).await?;
        let mut versions = Vec::new();
        for container in containers {
            let Some(name) = container.name else { continue };
            versions.extend(
                self.list::<TrackedResource<serde_json::Value>>(&format!(
                    "/{kind}/{name}/versions"
                ))
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
    ) -> Result<TrackedResource<serde_json::Value>, WorkspaceError> {
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
        let response = self.send(Method::GET, &url, None).await?;
        if !response.status().is_success() {
            return Err(WorkspaceError::from_response(response).await);
        }
        decode(response).await
    }

    /// Per-deployment traffic metrics of an endpoint, from the local workspace's data plane
    /// (beside the scoring URI). Azure keeps these in Azure Monitor instead.
    pub async fn local_metrics(
        &self,
        endpoint: &str,
    ) -> Result<EndpointMetricsSummary, WorkspaceError> {
        let found = self.get_endpoint(endpoint).await?;
        let scoring_uri = found.properties.scoring_uri.ok_or_else(|| {
            WorkspaceError::Unexpected(format!("endpoint {endpoint} has no scoring URI"))
        })?;
        let metrics_uri = scoring_uri
            .strip_suffix("/score")
            .map(|base| format!("{base}/metrics"))
            .ok_or_else(|| {
                WorkspaceError::Unexpected(format!("{scoring_uri} is not a scoring URI"))
            })?;
        let response = self
            .http
            .get(&metrics_uri)
            .timeout(self.config.retry.request_timeout)
            .send()
            .await
            .map_err(|_| WorkspaceError::Transport("the metrics request failed".into()))?;
        if !response.status().is_success() {
            return Err(WorkspaceError::from_response(response).await);
        }
        decode(response).await
    }

    // ---------------------------------------------------------------- endpoints

    pub async fn list_endpoints(&self) -> Result<Vec<OnlineEndpoint>, WorkspaceError> {
        self.list("/onlineEndpoints").await
    }

    pub async fn get_endpoint(&self, name: &str) -> Result<OnlineEndpoint, WorkspaceError> {
        self.read(&format!("/onlineEndpoints/{name}")).await
    }

    /// Creates an endpoint (no traffic yet) and waits until it is provisioned.
    pub async fn create_endpoint(
        &self,
        name: &str,
        mut endpoint: OnlineEndpoint,
    ) -> Result<OnlineEndpoint, WorkspaceError> {
        let _serial = self.endpoint_lock(name);
        let _held = _serial.lock().await;
        // Always both: a PUT without traffic zeroes it (Azure's rule, not ours).
        let properties = &mut endpoint.properties;
        properties.traffic.get_or_insert_with(Split::new);
        properties.mirror_traffic.get_or_insert_with(Split::new);
        let body = to_json(&endpoint)?;
        self.write(
            Method::PUT,
            &format!("/onlineEndpoints/{name}"),
            Some(&body),
        )
        .await?;
        self.get_endpoint(name).await
    }

    pub async fn delete_endpoint(&self, name: &str) -> Result<(), WorkspaceError> {
        let _serial = self.endpoint_lock(name);
        let _held = _serial.lock().await;
        self.write(Method::DELETE, &format!("/onlineEndpoints/{name}"), None)
            .await
    }

    /// Changes an endpoint's live and mirror traffic: GET, check that it is still what the
    /// caller saw (`expected`), merge, PUT with both maps, follow the operation, and re-read
    /// until the new split shows. Changes to one endpoint are serialized in this process; a
    /// stale `expected` gets `StaleTraffic` with the current endpoint, never an overwrite.
    pub async fn update_traffic(
        &self,
        name: &str,
        expected: Option<(&Split, &Split)>,
        traffic: Split,
        mirror: Split,
    ) -> Result<OnlineEndpoint, WorkspaceError> {
        let serial = self.endpoint_lock(name);
        let _held = serial.lock().await;
        let mut current = self.get_endpoint(name).await?;
        if let Some((seen_traffic, seen_mirror)) = expected {
            let (now_traffic, now_mirror) = current.properties.splits();
            if effective_split(&now_traffic) != effective_split(seen_traffic)
                || effective_split(&now_mirror) != effective_split(seen_mirror)
            {
                return Err(WorkspaceError::StaleTraffic {
                    current: Box::new(current),
                });
            }
        }
        current.properties.traffic = Some(traffic.clone());
        current.properties.mirror_traffic = Some(mirror.clone());
        let body = to_json(&current)?;
        self.write(
            Method::PUT,
            &format!("/onlineEndpoints/{name}"),
            Some(&body),
        )
        .await?;
        // Re-read until the workspace shows the new split (ARM reads can lag the write).
        observer::progress("waiting until the endpoint shows the new split");
        let deadline = Instant::now() + self.config.operation_timeout;
        loop {
            let now = self.get_endpoint(name).await?;
            let (now_traffic, now_mirror) = now.properties.splits();
            if effective_split(&now_traffic) == effective_split(&traffic)
                && effective_split(&now_mirror) == effective_split(&mirror)
            {
                return Ok(now);
            }
            if Instant::now() > deadline {
                return Err(WorkspaceError::Timeout(self.config.operation_timeout));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub async fn list_keys(&self, endpoint: &str) -> Result<EndpointAuthKeys, WorkspaceError> {
        decode(
            self.call(
                Method::POST,
                &format!("/onlineEndpoints/{endpoint}/listKeys"),
                None,
            )
            .await?,
        )
        .await
    }

    pub async fn regenerate_key(&self, endpoint: &str, key: KeyType) -> Result<(), WorkspaceError> {
        let body = serde_json::json!({ "keyType": key });
        self.write(
            Method::POST,
            &format!("/onlineEndpoints/{endpoint}/regenerateKeys"),
            Some(&body),
        )
        .await
    }

    /// Scores `body` on the endpoint with its primary key (or an AML token for AMLToken
    /// endpoints), by traffic or at `deployment`. Any answer, error statuses included, is
    /// returned as it came: the model's 424 is information, not a client failure.
    pub async fn invoke(
        &self,
        endpoint: &str,
        deployment: Option<&str>,
        body: bytes::Bytes,
    ) -> Result<Invocation, WorkspaceError> {
        let found = self.get_endpoint(endpoint).await?;
        let scoring_uri = found.properties.scoring_uri.clone().ok_or_else(|| {
            WorkspaceError::Unexpected(format!("endpoint {endpoint} has no scoring URI"))
        })?;
        let credential = match found.properties.auth_mode {
            Some(shared::arm::AuthMode::AmlToken) => {
                let token: shared::arm::EndpointAuthToken = decode(
                    self.call(
                        Method::POST,
                        &format!("/onlineEndpoints/{endpoint}/token"),
                        None,
                    )
                    .await?,
                )
                .await?;
                token.access_token
            }
            _ => self.list_keys(endpoint).await?.primary_key,
        }
        .ok_or_else(|| WorkspaceError::Unexpected("the workspace gave no credential".into()))?;
        let started = Instant::now();
        let mut request = self
            .http
            .post(&scoring_uri)
            .bearer_auth(credential)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(self.config.retry.request_timeout)
            .body(body);
        if let Some(deployment) = deployment {
            request = request.header("azureml-model-deployment", deployment);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                WorkspaceError::Timeout(self.config.retry.request_timeout)
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

    // -------------------------------------------------------------- deployments

    pub async fn list_deployments(
        &self,
        endpoint: &str,
    ) -> Result<Vec<OnlineDeployment>, WorkspaceError> {
        self.list(&format!("/onlineEndpoints/{endpoint}/deployments"))
            .await
    }

    pub async fn get_deployment(
        &self,
        endpoint: &str,
        name: &str,
    ) -> Result<OnlineDeployment, WorkspaceError> {
        self.read(&format!("/onlineEndpoints/{endpoint}/deployments/{name}"))
            .await
    }

    /// Creates (or replaces) a deployment and waits until its instances are ready — or the
    /// operation fails, with Azure's reason.
    pub async fn create_deployment(
        &self,
        endpoint: &str,
        name: &str,
        deployment: &OnlineDeployment,
    ) -> Result<OnlineDeployment, WorkspaceError> {
        let serial = self.endpoint_lock(endpoint);
        let _held = serial.lock().await;
        let body = to_json(deployment)?;
        self.write(
            Method::PUT,
            &format!("/onlineEndpoints/{endpoint}/deployments/{name}"),
            Some(&body),
        )
        .await?;
        self.get_deployment(endpoint, name).await
    }

    /// Sets the instance count and waits until the deployment has scaled.
    pub async fn scale_deployment(
        &self,
        endpoint: &str,
        name: &str,
        instances: u32,
    ) -> Result<OnlineDeployment, WorkspaceError> {
        let serial = self.endpoint_lock(endpoint);
        let _held = serial.lock().await;
        let body = serde_json::json!({ "sku": { "capacity": instances } });
        self.write(
            Method::PATCH,
            &format!("/onlineEndpoints/{endpoint}/deployments/{name}"),
            Some(&body),
        )
        .await?;
        self.get_deployment(endpoint, name).await
    }

    pub async fn delete_deployment(
        &self,
        endpoint: &str,
        name: &str,
    ) -> Result<(), WorkspaceError> {
        let serial = self.endpoint_lock(endpoint);
        let _held = serial.lock().await;
        self.write(
            Method::DELETE,
            &format!("/onlineEndpoints/{endpoint}/deployments/{name}"),
            None,
        )
        .await
    }

    /// The last `tail` lines the deployment's instances printed.
    pub async fn logs(
        &self,
        endpoint: &str,
        name: &str,
        tail: u32,
    ) -> Result<String, WorkspaceError> {
        let body = serde_json::json!({ "containerType": "InferenceServer", "tail": tail });
        let logs: DeploymentLogs = decode(
            self.call(
                Method::POST,
                &format!("/onlineEndpoints/{endpoint}/deployments/{name}/getLogs"),
                Some(&body),
            )
            .await?,
        )
        .await?;
        Ok(logs.content.unwrap_or_default())
    }
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, WorkspaceError> {
    let text = response
        .text()
        .await
        .map_err(|e| WorkspaceError::Transport(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| WorkspaceError::Unexpected(e.to_string()))
}

fn to_json(value: &impl Serialize) -> Result<serde_json::Value, WorkspaceError> {
    serde_json::to_value(value).map_err(|e| WorkspaceError::Unexpected(e.to_string()))
}
