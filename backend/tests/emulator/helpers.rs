//! `start()` and `Local`: a local workspace on port 0 and a plain HTTP client with one method per
//! step a test takes (create an endpoint, deploy, move traffic, score, settle an operation), so a
//! test reads as its steps and each step's own checks are written once.

use crate::common::{examples_dir, local_workspace_config, start_local_workspace};
use backend::emulator::instances::DeploymentPool;
use backend::emulator::{Emulator, EmulatorConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "emulator-test-token";
pub const WORKSPACE: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws";
pub const API: &str = "api-version=2024-04-01";

/// A running local workspace and a client of both its planes.
pub struct Local {
    pub emulator: Emulator,
    pub http: reqwest::Client,
    /// The state folder, when this client owns it.
    _state: Option<tempfile::TempDir>,
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// A local workspace with its own fresh state folder, and a client with a 60 s timeout.
pub async fn start() -> Local {
    let state = tempfile::tempdir().expect("state dir");
    let mut local = start_on(local_workspace_config(state.path(), TOKEN, false)).await;
    local._state = Some(state);
    local
}

/// A local workspace on a state folder the test keeps (e.g. to start it again).
pub async fn start_on(config: EmulatorConfig) -> Local {
    Local::new(start_local_workspace(config).await, client(), None)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// `{WORKSPACE}/onlineEndpoints/{endpoint}`.
pub fn endpoint_path(endpoint: &str) -> String {
    format!("{WORKSPACE}/onlineEndpoints/{endpoint}")
}

/// `{WORKSPACE}/onlineEndpoints/{endpoint}/deployments/{deployment}`.
pub fn deployment_path(endpoint: &str, deployment: &str) -> String {
    format!("{}/deployments/{deployment}", endpoint_path(endpoint))
}

/// A managed deployment of demo model `model` (its code too) with `instances` instances and a
/// fast readiness probe.
pub fn deployment_body(model: &str, instances: u32) -> Value {
    json!({
        "location": "local",
        "sku": { "name": "Default", "capacity": instances },
        "properties": {
            "endpointComputeType": "Managed",
            "model": format!("azureml:{model}:1"),
            "codeConfiguration": { "codeId": format!("azureml:{model}:1"), "scoringScript": "score.py" },
            "environmentId": "azureml:python-stdlib:1",
            "instanceType": "Standard_F2s_v2",
            "readinessProbe": { "initialDelay": "PT0S", "period": "PT0.2S", "timeout": "PT2S", "failureThreshold": 50 },
            "requestSettings": { "requestTimeout": "PT10S", "maxConcurrentRequestsPerInstance": 1 }
        }
    })
}

impl Local {
    pub fn new(
        emulator: Emulator,
        http: reqwest::Client,
        state: Option<tempfile::TempDir>,
    ) -> Self {
        Self {
            emulator,
            http,
            _state: state,
        }
    }

    /// An ARM request to the control plane, with `api-version` and the bearer token.
    pub async fn arm(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{separator}{API}", self.emulator.control_url);
        self.send(method, &url, body, Some(TOKEN)).await
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// Follows a write's `Azure-AsyncOperation` (or `Location`) to a terminal state.
    pub async fn settle(&self, reply: &Reply) -> Value {
        let header = |name: &str| {
            reply
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("retry-after").as_deref(), Some("1"));
        let deadline = Instant::now() + Duration::from_secs(120);
        if let Some(url) = header("azure-asyncoperation") {
            loop {
                let status = self.send(Method::GET, &url, None, Some(TOKEN)).await;
                let state = status.body["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if state != "InProgress" {
                    return status.body;
                }
                assert!(Instant::now() < deadline, "operation did not finish");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let url = header("location").expect("an operation header");
        loop {
            let result = self.send(Method::GET, &url, None, Some(TOKEN)).await;
            if result.status != StatusCode::ACCEPTED {
                return json!({ "status": if result.status.is_success() { "Succeeded" } else { "Failed" }, "error": result.body["error"] });
            }
            assert!(Instant::now() < deadline, "operation did not finish");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asserts that the write answered `status` and that its operation succeeds.
    pub async fn succeeds(&self, reply: &Reply, status: StatusCode) {
        assert_eq!(reply.status, status, "{}", reply.body);
        assert_eq!(self.settle(reply).await["status"], "Succeeded");
    }

    /// Registers code version `<name>:1` holding a `score.py` with `source`; the folder lives as
    /// long as the returned guard.
    pub async fn register_code(&self, name: &str, source: &str) -> tempfile::TempDir {
        let code = tempfile::tempdir().expect("code dir");
        std::fs::write(code.path().join("score.py"), source).expect("write score.py");
        let uri = format!("file://{}", code.path().display());
        let registered = self
            .arm(
                Method::PUT,
                &format!("{WORKSPACE}/codes/{name}/versions/1"),
                Some(json!({ "properties": { "codeUri": uri } })),
            )
            .await;
        assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
        code
    }

    /// Creates endpoint `name` with key auth and waits until it is up.
    pub async fn create_endpoint(&self, name: &str) {
        self.create_endpoint_with_auth(name, "Key").await;
    }

    /// Creates endpoint `name` with `auth_mode` (`Key` or `AMLToken`) and waits until it is up.
    pub async fn create_endpoint_with_auth(&self, name: &str, auth_mode: &str) {
        let reply = self
            .arm(
                Method::PUT,
                &endpoint_path(name),
                Some(json!({ "location": "local", "properties": { "authMode": auth_mode } })),
            )
            .await;
        self.succeeds(&reply, StatusCode::CREATED).await;
    }

    /// Creates deployment `name` from `body`; returns its operation's outcome.
    pub async fn create_deployment_from(&self, endpoint: &str, name: &str, body: Value) -> Value {
        let reply = self
            .arm(Method::PUT, &deployment_path(endpoint, name), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert!(reply.headers.contains_key("azure-asyncoperation"));
        assert!(reply.headers.contains_key("x-ms-async-operation-timeout"));
        self.settle(&reply).await
    }

    /// Creates deployment `name` of demo model `model` with one instance; returns its
    /// operation's outcome.
    pub async fn create_deployment(&self, endpoint: &str, name: &str, model: &str) -> Value {
        self.create_deployment_from(endpoint, name, deployment_body(model, 1))
            .await
    }

    /// Creates deployment `name` of demo model `model` and asserts that its instances came up.
    pub async fn deploy(&self, endpoint: &str, name: &str, model: &str) {
        let outcome = self.create_deployment(endpoint, name, model).await;
        assert_eq!(outcome["status"], "Succeeded", "{outcome}");
    }

    /// Deploys `blue` (regression-v1) and gives it all live traffic.
    pub async fn blue_takes_all_traffic(&self, endpoint: &str) {
        self.deploy(endpoint, "blue", "regression-v1").await;
        self.move_traffic(endpoint, json!({ "blue": 100 }), json!({}))
            .await;
    }

    /// GET the endpoint, set traffic and mirror, PUT it back (never PUT without both).
    pub async fn set_traffic(&self, endpoint: &str, traffic: Value, mirror: Value) -> Reply {
        let path = endpoint_path(endpoint);
        let mut current = self.arm(Method::GET, &path, None).await.body;
        current["properties"]["traffic"] = traffic;
        current["properties"]["mirrorTraffic"] = mirror;
        self.arm(Method::PUT, &path, Some(current)).await
    }

    /// Sets traffic and mirror and asserts that the workspace took them.
    pub async fn move_traffic(&self, endpoint: &str, traffic: Value, mirror: Value) {
        let reply = self.set_traffic(endpoint, traffic, mirror).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    /// PATCHes deployment `name` to `instances` instances.
    pub async fn scale(&self, endpoint: &str, name: &str, instances: u32) -> Reply {
        self.arm(
            Method::PATCH,
            &deployment_path(endpoint, name),
            Some(json!({ "sku": { "capacity": instances } })),
        )
        .await
    }

    /// The endpoint's primary key.
    pub async fn key(&self, endpoint: &str) -> String {
        let keys = self
            .arm(
                Method::POST,
                &format!("{}/listKeys", endpoint_path(endpoint)),
                None,
            )
            .await;
        keys.body["primaryKey"]
            .as_str()
            .expect("a primary key")
            .to_owned()
    }

    /// The endpoint's scoring URI.
    pub fn score_url(&self, endpoint: &str) -> String {
        format!("{}/endpoints/{endpoint}/score", self.emulator.scoring_url)
    }

    /// Scores the sample request: the status, the deployment that answered, and the answer.
    pub async fn score(
        &self,
        endpoint: &str,
        key: &str,
        deployment: Option<&str>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut request = self
            .http
            .post(self.score_url(endpoint))
            .bearer_auth(key)
            .json(&sample_request());
        if let Some(deployment) = deployment {
            request = request.header("azureml-model-deployment", deployment);
        }
        let response = request.send().await.expect("score");
        let status = response.status();
        let answered_by = response
            .headers()
            .get("azureml-model-deployment")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.json().await.unwrap_or(Value::Null);
        (status, answered_by, body)
    }

    /// Scores `n` times and asserts that every answer is 200; returns who answered each.
    pub async fn score_ok(
        &self,
        endpoint: &str,
        key: &str,
        n: u64,
    ) -> Vec<(Option<String>, Value)> {
        let mut answers = Vec::new();
        for _ in 0..n {
            let (status, by, body) = self.score(endpoint, key, None).await;
            assert_eq!(status, StatusCode::OK);
            answers.push((by, body));
        }
        answers
    }

    /// The instance pool of a deployment.
    pub fn pool(&self, endpoint: &str, deployment: &str) -> DeploymentPool {
        self.emulator
            .workspace
            .pool(endpoint, deployment)
            .expect("the deployment's pool")
    }
}

/// The process ids of a pool's ready instances.
pub fn pids(pool: &DeploymentPool) -> Vec<u32> {
    pool.ready_instances()
        .into_iter()
        .filter_map(|i| i.pid)
        .collect()
}

pub fn sample_request() -> Value {
    let text = std::fs::read_to_string(examples_dir().join("regression-v1/sample-request.json"))
        .expect("sample request");
    serde_json::from_str(&text).expect("json")
}

/// The predictions a model's coefficients give for the sample request.
pub fn expected(model: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(examples_dir().join(model).join("model/model.json"))
        .expect("model file");
    let model: Value = serde_json::from_str(&text).expect("json");
    let coefficients: Vec<f64> = model["coefficients"]
        .as_array()
        .expect("coefficients")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let intercept = model["intercept"].as_f64().unwrap_or(0.0);
    sample_request()["data"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            let row: Vec<f64> = row
                .as_array()
                .expect("row")
                .iter()
                .filter_map(Value::as_f64)
                .collect();
            row.iter()
                .zip(&coefficients)
                .map(|(x, c)| x * c)
                .sum::<f64>()
                + intercept
        })
        .collect()
}

pub fn predictions(body: &Value) -> Vec<f64> {
    body.as_array()
        .unwrap_or_else(|| panic!("predictions, got {body}"))
        .iter()
        .filter_map(Value::as_f64)
        .collect()
}

pub fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
}

/// Asserts that `body` holds the predictions of `model` for the sample request.
pub fn assert_predicted_by(body: &Value, model: &str) {
    assert!(close(&predictions(body), &expected(model)), "{body}");
}

/// Whether `count` of `n` draws at share `p` lies within five standard deviations of `p`·`n`
/// (normal approximation). Five, not the textbook 3.29: a suite that draws on every CI run must
/// not fail by chance (3.29 did once, 63 of 400 at 10 %); a false alarm here is about 1 in 1.7
/// million. Callers draw enough (`n` ≥ 1,600 at 10 %) that a wrong split still falls outside.
pub fn within_bound(count: u64, n: u64, p: f64) -> bool {
    let mean = p * n as f64;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (count as f64 - mean).abs() <= 5.0 * sd
}

pub fn process_alive(pid: u32) -> bool {
    // A zombie (state Z) has exited; it only waits to be reaped.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.split_whitespace()
            .nth(2)
            .is_some_and(|state| state != "Z")
    })
}

/// Asserts a 400 in ARM's error shape whose target or message names `field`.
pub fn assert_refused(reply: &Reply, field: &str) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let error = &reply.body["error"];
    assert!(error["code"].is_string(), "{}", reply.body);
    let target = error["target"].as_str().unwrap_or_default();
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        target.contains(field) || message.contains(field),
        "the error should name {field}: {}",
        reply.body
    );
}
