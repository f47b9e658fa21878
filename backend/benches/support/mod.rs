//! What the scoring benchmarks share: the local workspace started in-process, and its control
//! plane driven over HTTP as any ARM client would drive it.

use anyhow::{bail, ensure, Context, Result};
use backend::emulator::{Emulator, EmulatorConfig};
use backend::secret::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-token";
const WORKSPACE: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws";
const API: &str = "api-version=2024-04-01";

/// Starts the local workspace on two loopback ports, its state in `state_dir`.
pub async fn start_emulator(state_dir: &Path) -> Result<Emulator> {
    let bind = || async {
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port")
    };
    Emulator::start(
        EmulatorConfig {
            state_dir: state_dir.to_path_buf(),
            token: Secret::new(TOKEN),
            python: PathBuf::from("python3"),
            examples_dir: Some(examples_dir()),
            tls: false,
        },
        bind().await?,
        bind().await?,
    )
    .await
    .context("starting the local workspace")
}

/// A positive count from the environment, or `default` when unset.
pub fn count(name: &str, default: usize) -> Result<usize> {
    let Ok(text) = std::env::var(name) else {
        return Ok(default);
    };
    let n: usize = text
        .trim()
        .parse()
        .with_context(|| format!("{name} must be a positive integer (got {text:?})"))?;
    ensure!(n > 0, "{name} must be at least 1");
    Ok(n)
}

/// The demo models, found through the running cargo's `CARGO_MANIFEST_DIR` (a bench binary in a
/// shared target dir may have been built from another clone).
pub fn examples_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("../examples")
}

/// The control plane of a local workspace.
pub struct Control<'a> {
    pub http: &'a reqwest::Client,
    pub base: &'a str,
}

impl Control<'_> {
    async fn arm(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Value)> {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            let separator = if path.contains('?') { '&' } else { '?' };
            format!("{}{path}{separator}{API}", self.base)
        };
        let mut request = self.http.request(method, &url).bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| url.clone())?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.with_context(|| url.clone())?;
        Ok((
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        ))
    }

    /// A write that must be accepted and whose operation must succeed.
    async fn write(&self, method: Method, path: &str, body: Value) -> Result<()> {
        let (status, headers, answer) = self.arm(method, path, Some(body)).await?;
        ensure!(status.is_success(), "{path}: {status} {answer}");
        let Some(operation) = headers
            .get("azure-asyncoperation")
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(());
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (_, _, state) = self.arm(Method::GET, operation, None).await?;
            match state["status"].as_str() {
                Some("InProgress") => {}
                Some("Succeeded") => return Ok(()),
                _ => bail!("{path}: the operation ended with {state}"),
            }
            ensure!(
                Instant::now() < deadline,
                "{path}: the operation did not end"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn endpoint_path(endpoint: &str) -> String {
        format!("{WORKSPACE}/onlineEndpoints/{endpoint}")
    }

    /// Creates `endpoint` (key auth) and returns its primary key.
    pub async fn endpoint(&self, endpoint: &str) -> Result<String> {
        let path = Self::endpoint_path(endpoint);
        self.write(
            Method::PUT,
            &path,
            json!({ "location": "local", "properties": { "authMode": "Key" } }),
        )
        .await?;
        let (status, _, keys) = self
            .arm(Method::POST, &format!("{path}/listKeys"), None)
            .await?;
        ensure!(status == StatusCode::OK, "listKeys: {status} {keys}");
        Ok(keys["primaryKey"]
            .as_str()
            .context("listKeys gave no primaryKey")?
            .to_owned())
    }

    /// Deploys demo model `model` as `deployment` of `endpoint` with one instance, and waits until
    /// it serves. The router refuses (429) once 2 × `max_concurrent` requests are pending for an
    /// instance, as Azure does: pass a bound that admits every client of the benchmark.
    pub async fn deployment(
        &self,
        endpoint: &str,
        deployment: &str,
        model: &str,
        max_concurrent: usize,
    ) -> Result<()> {
        self.write(
            Method::PUT,
            &format!("{}/deployments/{deployment}", Self::endpoint_path(endpoint)),
            json!({
                "location": "local",
                "sku": { "name": "Default", "capacity": 1 },
                "properties": {
                    "endpointComputeType": "Managed",
                    "model": format!("azureml:{model}:1"),
                    "codeConfiguration": { "codeId": format!("azureml:{model}:1"), "scoringScript": "score.py" },
                    "environmentId": "azureml:python-stdlib:1",
                    "instanceType": "Standard_F2s_v2",
                    "readinessProbe": { "initialDelay": "PT0S", "period": "PT0.2S", "timeout": "PT2S", "failureThreshold": 50 },
                    "requestSettings": { "requestTimeout": "PT10S", "maxConcurrentRequestsPerInstance": max_concurrent.max(1) }
                }
            }),
        )
        .await
    }

    /// Sets `endpoint`'s live traffic (e.g. `{"blue": 90, "green": 10}`), no mirroring.
    pub async fn traffic(&self, endpoint: &str, traffic: Value) -> Result<()> {
        let path = Self::endpoint_path(endpoint);
        let (status, _, mut current) = self.arm(Method::GET, &path, None).await?;
        ensure!(status == StatusCode::OK, "GET the endpoint: {status}");
        current["properties"]["traffic"] = traffic;
        current["properties"]["mirrorTraffic"] = json!({});
        self.write(Method::PUT, &path, current).await
    }
}
