//! The local workspace driven over plain HTTP, as any ARM client would drive Azure: the seed's
//! whole rollout flow with real instance processes, and Azure's rules refused by field.
//! Deliberately not through Greenlight's own ARM client, so the two check each other.

#[path = "common/mod.rs"]
mod common;

use backend::emulator::Emulator;
use common::{examples_dir, local_workspace_config, start_local_workspace};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TOKEN: &str = "emulator-test-token";
const WORKSPACE: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws";
const API: &str = "api-version=2024-04-01";

struct Local {
    emulator: Emulator,
    http: reqwest::Client,
    _state: tempfile::TempDir,
}

async fn start() -> Local {
    let state = tempfile::tempdir().expect("state dir");
    let emulator = start_local_workspace(local_workspace_config(state.path(), TOKEN, false)).await;
    Local {
        emulator,
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client"),
        _state: state,
    }
}

/// A response, read whole.
struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Local {
    async fn arm(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{separator}{API}", self.emulator.control_url);
        self.send(method, &url, body, Some(TOKEN)).await
    }

    async fn send(
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
    async fn settle(&self, reply: &Reply) -> Value {
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

    /// Registers code version `<name>:1` holding a `score.py` with `source`; the folder lives as
    /// long as the returned guard.
    async fn register_code(&self, name: &str, source: &str) -> tempfile::TempDir {
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

    async fn create_endpoint(&self, name: &str) {
        let reply = self
            .arm(
                Method::PUT,
                &format!("{WORKSPACE}/onlineEndpoints/{name}"),
                Some(json!({ "location": "local", "properties": { "authMode": "Key" } })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(self.settle(&reply).await["status"], "Succeeded");
    }

    fn deployment_body(model: &str, instances: u32) -> Value {
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

    async fn create_deployment(&self, endpoint: &str, name: &str, model: &str) -> Value {
        let reply = self
            .arm(
                Method::PUT,
                &format!("{WORKSPACE}/onlineEndpoints/{endpoint}/deployments/{name}"),
                Some(Self::deployment_body(model, 1)),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert!(reply.headers.contains_key("azure-asyncoperation"));
        assert!(reply.headers.contains_key("x-ms-async-operation-timeout"));
        self.settle(&reply).await
    }

    /// Deploys `blue` (regression-v1) and gives it all live traffic.
    async fn blue_takes_all_traffic(&self, endpoint: &str) {
        let blue = self
            .create_deployment(endpoint, "blue", "regression-v1")
            .await;
        assert_eq!(blue["status"], "Succeeded", "{blue}");
        let reply = self
            .set_traffic(endpoint, json!({ "blue": 100 }), json!({}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    /// GET the endpoint, set traffic and mirror, PUT it back (never PUT without both).
    async fn set_traffic(&self, endpoint: &str, traffic: Value, mirror: Value) -> Reply {
        let path = format!("{WORKSPACE}/onlineEndpoints/{endpoint}");
        let mut current = self.arm(Method::GET, &path, None).await.body;
        current["properties"]["traffic"] = traffic;
        current["properties"]["mirrorTraffic"] = mirror;
        self.arm(Method::PUT, &path, Some(current)).await
    }

    async fn key(&self, endpoint: &str) -> String {
        let keys = self
            .arm(
                Method::POST,
                &format!("{WORKSPACE}/onlineEndpoints/{endpoint}/listKeys"),
                None,
            )
            .await;
        keys.body["primaryKey"]
            .as_str()
            .expect("a primary key")
            .to_owned()
    }

    async fn score(
        &self,
        endpoint: &str,
        key: &str,
        deployment: Option<&str>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut request = self
            .http
            .post(format!(
                "{}/endpoints/{endpoint}/score",
                self.emulator.scoring_url
            ))
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
}

fn sample_request() -> Value {
    let text = std::fs::read_to_string(examples_dir().join("regression-v1/sample-request.json"))
        .expect("sample request");
    serde_json::from_str(&text).expect("json")
}

/// The predictions a model's coefficients give for the sample request.
fn expected(model: &str) -> Vec<f64> {
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

fn predictions(body: &Value) -> Vec<f64> {
    body.as_array()
        .unwrap_or_else(|| panic!("predictions, got {body}"))
        .iter()
        .filter_map(Value::as_f64)
        .collect()
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
}

/// The 99.9 % two-sided binomial bound around `p`·`n` (normal approximation, z = 3.29).
fn within_bound(count: u64, n: u64, p: f64) -> bool {
    let mean = p * n as f64;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (count as f64 - mean).abs() <= 3.29 * sd
}

fn process_alive(pid: u32) -> bool {
    // A zombie (state Z) has exited; it only waits to be reaped.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.split_whitespace()
            .nth(2)
            .is_some_and(|state| state != "Z")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_flow_runs_end_to_end_with_real_instances() {
    let local = start().await;
    let endpoint = "seed-flow";
    local.create_endpoint(endpoint).await;
    let created = local
        .arm(
            Method::GET,
            &format!("{WORKSPACE}/onlineEndpoints/{endpoint}"),
            None,
        )
        .await;
    assert_eq!(created.body["properties"]["provisioningState"], "Succeeded");
    assert!(created.body["properties"]["scoringUri"]
        .as_str()
        .is_some_and(|u| u.starts_with("http://127.0.0.1:")));

    // Blue with v1; its process really runs.
    let blue = local
        .create_deployment(endpoint, "blue", "regression-v1")
        .await;
    assert_eq!(blue["status"], "Succeeded", "{blue}");
    let blue_pool = local
        .emulator
        .workspace
        .pool(endpoint, "blue")
        .expect("blue's pool");
    let blue_pids: Vec<u32> = blue_pool
        .ready_instances()
        .into_iter()
        .filter_map(|i| i.pid)
        .collect();
    assert_eq!(blue_pids.len(), 1);
    assert!(process_alive(blue_pids[0]));
    let got = local
        .arm(
            Method::GET,
            &format!("{WORKSPACE}/onlineEndpoints/{endpoint}/deployments/blue"),
            None,
        )
        .await
        .body;
    assert_eq!(got["properties"]["provisioningState"], "Succeeded");
    assert_eq!(got["properties"]["scaleSettings"]["scaleType"], "Default");
    assert_eq!(got["sku"]["capacity"], 1);

    let reply = local
        .set_traffic(endpoint, json!({ "blue": 100 }), json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let key = local.key(endpoint).await;
    let (status, by, body) = local.score(endpoint, &key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(by.as_deref(), Some("blue"));
    assert!(close(&predictions(&body), &expected("regression-v1")));

    // Scale blue to 2 while a client scores continuously: nothing fails.
    let scaling = local
        .arm(
            Method::PATCH,
            &format!("{WORKSPACE}/onlineEndpoints/{endpoint}/deployments/blue"),
            Some(json!({ "sku": { "capacity": 2 } })),
        )
        .await;
    assert_eq!(scaling.status, StatusCode::ACCEPTED, "{}", scaling.body);
    let mut failures = 0;
    let mut scored = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while blue_pool.ready_instances().len() < 2 {
        assert!(Instant::now() < deadline, "blue did not scale to 2");
        let (status, _, _) = local.score(endpoint, &key, None).await;
        scored += 1;
        if status != StatusCode::OK {
            failures += 1;
        }
    }
    for _ in 0..20 {
        let (status, _, _) = local.score(endpoint, &key, None).await;
        scored += 1;
        if status != StatusCode::OK {
            failures += 1;
        }
    }
    assert_eq!(local.settle(&scaling).await["status"], "Succeeded");
    assert_eq!(
        failures, 0,
        "{failures} of {scored} requests failed while scaling"
    );

    // Green with v2 at 0 %; reachable by name only.
    let green = local
        .create_deployment(endpoint, "green", "regression-v2")
        .await;
    assert_eq!(green["status"], "Succeeded", "{green}");
    let (status, by, body) = local.score(endpoint, &key, Some("green")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by.as_deref(), Some("green"));
    assert!(close(&predictions(&body), &expected("regression-v2")));
    assert!(!close(
        &expected("regression-v1"),
        &expected("regression-v2")
    ));

    // Mirror 10 %: every client answer still comes from blue.
    let n = 400u64;
    let reply = local
        .set_traffic(
            endpoint,
            json!({ "blue": 100, "green": 0 }),
            json!({ "green": 10 }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let route = local
        .emulator
        .workspace
        .routes
        .get(endpoint)
        .expect("route");
    let mirrored_before = route
        .metrics
        .snapshot()
        .get("green")
        .map_or(0, |m| m.mirrored.requests);
    for _ in 0..n {
        let (status, by, _) = local.score(endpoint, &key, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(by.as_deref(), Some("blue"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let metrics = route.metrics.snapshot();
    let mirrored = metrics["green"].mirrored.requests - mirrored_before;
    assert!(
        within_bound(mirrored, n, 0.10),
        "mirrored {mirrored} of {n}"
    );
    assert_eq!(
        metrics["green"].comparison.equal, 0,
        "v2 answers differ from v1"
    );
    assert_eq!(metrics["green"].comparison.differ, mirrored);

    // Mirror off, then 90/10.
    let reply = local
        .set_traffic(
            endpoint,
            json!({ "blue": 90, "green": 10 }),
            json!({ "green": 0 }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut green_answers = 0;
    for _ in 0..n {
        let (status, by, _) = local.score(endpoint, &key, None).await;
        assert_eq!(status, StatusCode::OK);
        if by.as_deref() == Some("green") {
            green_answers += 1;
        }
    }
    assert!(
        within_bound(green_answers, n, 0.10),
        "green answered {green_answers} of {n}"
    );
    assert_eq!(
        route.metrics.snapshot()["green"].mirrored.requests - mirrored_before,
        mirrored,
        "no mirroring once the mirror share is 0"
    );

    // 0/100: all v2.
    let reply = local
        .set_traffic(endpoint, json!({ "blue": 0, "green": 100 }), json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    for _ in 0..20 {
        let (status, by, body) = local.score(endpoint, &key, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(by.as_deref(), Some("green"));
        assert!(close(&predictions(&body), &expected("regression-v2")));
    }

    // Delete blue: its processes are gone.
    let all_blue_pids: Vec<u32> = blue_pool
        .ready_instances()
        .into_iter()
        .filter_map(|i| i.pid)
        .collect();
    assert_eq!(all_blue_pids.len(), 2);
    let deleting = local
        .arm(
            Method::DELETE,
            &format!("{WORKSPACE}/onlineEndpoints/{endpoint}/deployments/blue"),
            None,
        )
        .await;
    assert_eq!(deleting.status, StatusCode::ACCEPTED);
    assert_eq!(local.settle(&deleting).await["status"], "Succeeded");
    for pid in all_blue_pids {
        assert!(!process_alive(pid), "blue's instance {pid} still runs");
    }
    let gone = local
        .arm(
            Method::GET,
            &format!("{WORKSPACE}/onlineEndpoints/{endpoint}/deployments/blue"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["error"]["code"], "ResourceNotFound");

    // Delete the endpoint.
    let deleting = local
        .arm(
            Method::DELETE,
            &format!("{WORKSPACE}/onlineEndpoints/{endpoint}"),
            None,
        )
        .await;
    assert_eq!(deleting.status, StatusCode::ACCEPTED);
    assert_eq!(local.settle(&deleting).await["status"], "Succeeded");
    let (status, _, _) = local.score(endpoint, &key, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    local.emulator.shutdown().await;
}

/// Asserts a 400 in ARM's error shape whose target or message names `field`.
fn assert_refused(reply: &Reply, field: &str) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azures_rules_are_refused_with_an_arm_error_naming_the_field() {
    let local = start().await;
    let endpoint = "rules";
    let endpoint_path = format!("{WORKSPACE}/onlineEndpoints/{endpoint}");

    // Names: 3–32 characters, a letter first, letters, digits and '-', no '-' last.
    for bad in ["ab", "1abc", "bad_name", "ends-", &"x".repeat(33)] {
        let reply = local
            .arm(
                Method::PUT,
                &format!("{WORKSPACE}/onlineEndpoints/{bad}"),
                Some(json!({ "properties": { "authMode": "Key" } })),
            )
            .await;
        assert_refused(&reply, "name");
    }
    // authMode is required.
    let reply = local
        .arm(
            Method::PUT,
            &endpoint_path,
            Some(json!({ "properties": {} })),
        )
        .await;
    assert_refused(&reply, "properties.authMode");

    local.create_endpoint(endpoint).await;
    // Traffic may name only existing deployments.
    let reply = local
        .set_traffic(endpoint, json!({ "ghost": 100 }), json!({}))
        .await;
    assert_refused(&reply, "properties.traffic.ghost");
    let blue = local
        .create_deployment(endpoint, "blue", "regression-v1")
        .await;
    assert_eq!(blue["status"], "Succeeded", "{blue}");
    let green = local
        .create_deployment(endpoint, "green", "regression-v2")
        .await;
    assert_eq!(green["status"], "Succeeded", "{green}");

    let cases = [
        (json!({ "blue": 90 }), json!({}), "properties.traffic"),
        (
            json!({ "blue": 101, "green": -1 }),
            json!({}),
            "properties.traffic.blue",
        ),
        (
            json!({ "blue": 100 }),
            json!({ "green": 51 }),
            "properties.mirrorTraffic.green",
        ),
        (
            json!({ "blue": 50, "green": 50 }),
            json!({ "green": 10 }),
            "properties.mirrorTraffic.green",
        ),
        (
            json!({ "blue": 100 }),
            json!({ "green": 10, "blue": 10 }),
            "properties.mirrorTraffic",
        ),
    ];
    for (traffic, mirror, field) in cases {
        let reply = local
            .set_traffic(endpoint, traffic.clone(), mirror.clone())
            .await;
        assert_refused(&reply, field);
    }
    // Nothing of a refused change was applied.
    let current = local.arm(Method::GET, &endpoint_path, None).await.body;
    assert_eq!(current["properties"]["traffic"], json!({}));

    // Deployment limits.
    let deployment_path = format!("{endpoint_path}/deployments/big");
    let mut body = Local::deployment_body("regression-v1", 51);
    let reply = local
        .arm(Method::PUT, &deployment_path, Some(body.clone()))
        .await;
    assert_refused(&reply, "sku.capacity");
    body = Local::deployment_body("regression-v1", 1);
    body["properties"]["requestSettings"]["requestTimeout"] = json!("PT181S");
    let reply = local
        .arm(Method::PUT, &deployment_path, Some(body.clone()))
        .await;
    assert_refused(&reply, "properties.requestSettings.requestTimeout");
    body = Local::deployment_body("regression-v1", 1);
    body["properties"]["endpointComputeType"] = json!("Kubernetes");
    let reply = local.arm(Method::PUT, &deployment_path, Some(body)).await;
    assert_refused(&reply, "properties.endpointComputeType");
    let reply = local
        .arm(
            Method::PUT,
            &deployment_path,
            Some(Local::deployment_body("no-such-model", 1)),
        )
        .await;
    assert_refused(&reply, "properties.model");

    // A deployment with live or mirror traffic can't be deleted.
    let reply = local
        .set_traffic(endpoint, json!({ "blue": 100 }), json!({ "green": 20 }))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    for (name, field) in [
        ("blue", "properties.traffic.blue"),
        ("green", "properties.mirrorTraffic.green"),
    ] {
        let reply = local
            .arm(
                Method::DELETE,
                &format!("{endpoint_path}/deployments/{name}"),
                None,
            )
            .await;
        assert_refused(&reply, field);
    }

    // One operation at a time per endpoint.
    let creating = local
        .arm(
            Method::PUT,
            &format!("{endpoint_path}/deployments/third"),
            Some(Local::deployment_body("regression-v1", 1)),
        )
        .await;
    assert_eq!(creating.status, StatusCode::CREATED);
    let clash = local
        .set_traffic(endpoint, json!({ "blue": 100 }), json!({}))
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
    assert_eq!(clash.body["error"]["code"], "Conflict");
    assert_eq!(local.settle(&creating).await["status"], "Succeeded");

    // api-version and the bearer token.
    let url = format!("{}{endpoint_path}", local.emulator.control_url);
    let missing = local.send(Method::GET, &url, None, Some(TOKEN)).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["error"]["code"], "MissingApiVersionParameter");
    let malformed = local
        .send(
            Method::GET,
            &format!("{url}?api-version=2024-13-01"),
            None,
            Some(TOKEN),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        malformed.body["error"]["code"],
        "InvalidApiVersionParameter"
    );
    let old_preview = local
        .send(
            Method::GET,
            &format!("{url}?api-version=2022-02-01-preview"),
            None,
            Some(TOKEN),
        )
        .await;
    assert_eq!(old_preview.status, StatusCode::OK);
    let anonymous = local
        .send(Method::GET, &format!("{url}?{API}"), None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.body["error"]["code"], "AuthenticationFailed");
    let wrong = local
        .send(Method::GET, &format!("{url}?{API}"), None, Some("nope"))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["error"]["code"], "InvalidAuthenticationToken");

    // Scoring: a wrong key is 401, an unknown deployment 404; regenerating a key retires it.
    let key = local.key(endpoint).await;
    let (status, _, _) = local.score(endpoint, "wrong-key", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = local.score(endpoint, &key, Some("ghost")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let regenerate = local
        .arm(
            Method::POST,
            &format!("{endpoint_path}/regenerateKeys"),
            Some(json!({ "keyType": "Primary" })),
        )
        .await;
    assert_eq!(regenerate.status, StatusCode::ACCEPTED);
    assert_eq!(local.settle(&regenerate).await["status"], "Succeeded");
    let (status, _, _) = local.score(endpoint, &key, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old key stops working at once"
    );
    let (status, _, _) = local
        .score(endpoint, &local.key(endpoint).await, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoring_script_whose_init_raises_fails_the_deployment_with_its_reason() {
    let local = start().await;
    let _code = local
        .register_code(
            "broken",
            "def init():\n    raise ValueError('model file is corrupt')\n\ndef run(raw):\n    return raw\n",
        )
        .await;
    local.create_endpoint("broken-init").await;
    let mut body = Local::deployment_body("regression-v1", 1);
    body["properties"]["codeConfiguration"]["codeId"] = json!("azureml:broken:1");
    let path = format!("{WORKSPACE}/onlineEndpoints/broken-init/deployments/blue");
    let reply = local.arm(Method::PUT, &path, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let outcome = local.settle(&reply).await;
    assert_eq!(outcome["status"], "Failed");
    let message = outcome["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("ValueError: model file is corrupt"),
        "{outcome}"
    );
    let deployment = local.arm(Method::GET, &path, None).await.body;
    assert_eq!(deployment["properties"]["provisioningState"], "Failed");
    let logs = local
        .arm(
            Method::POST,
            &format!("{path}/getLogs"),
            Some(json!({ "containerType": "InferenceServer", "tail": 50 })),
        )
        .await;
    assert_eq!(logs.status, StatusCode::OK);
    assert!(
        logs.body["content"]
            .as_str()
            .is_some_and(|c| c.contains("model file is corrupt")),
        "{}",
        logs.body
    );
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_is_replaced_and_requests_succeed_again() {
    let local = start().await;
    let endpoint = "self-heal";
    local.create_endpoint(endpoint).await;
    assert_eq!(
        local
            .create_deployment(endpoint, "blue", "regression-v1")
            .await["status"],
        "Succeeded"
    );
    let reply = local
        .set_traffic(endpoint, json!({ "blue": 100 }), json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let key = local.key(endpoint).await;
    let pool = local
        .emulator
        .workspace
        .pool(endpoint, "blue")
        .expect("pool");
    let pid = pool
        .ready_instances()
        .pop()
        .and_then(|i| i.pid)
        .expect("an instance with a pid");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let replaced = pool
            .ready_instances()
            .into_iter()
            .any(|i| i.pid.is_some_and(|p| p != pid));
        if replaced {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the killed instance was not replaced"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..20 {
        let (status, _, _) = local.score(endpoint, &key, None).await;
        assert_eq!(status, StatusCode::OK);
    }
    local.emulator.shutdown().await;
}

/// A request body from Azure's public examples (`parameters.body`).
fn example_body(file: &str) -> Value {
    let path = common::manifest_dir()
        .join("../shared/tests/fixtures/azure-rest-examples")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let example: Value = serde_json::from_str(&text).expect("json");
    example["parameters"]["body"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azures_example_request_bodies_are_accepted_or_refused_with_a_reason() {
    let local = start().await;
    let endpoint = format!("{WORKSPACE}/onlineEndpoints/examples");
    local.create_endpoint("examples").await;
    assert_eq!(
        local
            .create_deployment("examples", "blue", "regression-v1")
            .await["status"],
        "Succeeded"
    );
    let deployment = format!("{endpoint}/deployments/blue");

    // (example file, method, path, Ok(status) or Err(what the refusal must name))
    let cases: [(&str, Method, String, Result<StatusCode, &str>); 9] = [
        // Sends traffic to a deployment called "string", which this endpoint does not have.
        (
            "Workspace/OnlineEndpoint/createOrUpdate.json",
            Method::PUT,
            format!("{WORKSPACE}/onlineEndpoints/examples-put"),
            Err("properties.traffic.string"),
        ),
        (
            "2024-10-01/Workspace/OnlineEndpoint/update.json",
            Method::PATCH,
            endpoint.clone(),
            Ok(StatusCode::ACCEPTED),
        ),
        // Asks for a 5-minute request timeout; Azure's limit is 180 s.
        (
            "OnlineDeployment/ManagedOnlineDeployment/createOrUpdate.json",
            Method::PUT,
            format!("{endpoint}/deployments/managed"),
            Err("properties.requestSettings.requestTimeout"),
        ),
        // Kubernetes compute is not something the local workspace runs.
        (
            "OnlineDeployment/KubernetesOnlineDeployment/createOrUpdate.json",
            Method::PUT,
            format!("{endpoint}/deployments/k8s"),
            Err("properties.endpointComputeType"),
        ),
        (
            "OnlineDeployment/ManagedOnlineDeployment/update.json",
            Method::PATCH,
            deployment.clone(),
            Ok(StatusCode::ACCEPTED),
        ),
        (
            "OnlineDeployment/KubernetesOnlineDeployment/update.json",
            Method::PATCH,
            deployment.clone(),
            Ok(StatusCode::ACCEPTED),
        ),
        (
            "Workspace/OnlineEndpoint/regenerateKeys.json",
            Method::POST,
            format!("{endpoint}/regenerateKeys"),
            Ok(StatusCode::ACCEPTED),
        ),
        (
            "2024-10-01/OnlineDeployment/getLogs.json",
            Method::POST,
            format!("{deployment}/getLogs"),
            Ok(StatusCode::OK),
        ),
        (
            "Workspace/ModelVersion/createOrUpdate.json",
            Method::PUT,
            format!("{WORKSPACE}/models/example-model/versions/1"),
            Ok(StatusCode::OK),
        ),
    ];
    for (file, method, path, expected) in cases {
        let reply = local.arm(method, &path, Some(example_body(file))).await;
        match expected {
            Ok(status) => {
                assert_eq!(reply.status, status, "{file}: {}", reply.body);
                if reply.headers.contains_key("location")
                    || reply.headers.contains_key("azure-asyncoperation")
                {
                    assert_eq!(local.settle(&reply).await["status"], "Succeeded", "{file}");
                }
            }
            Err(field) => assert_refused(&reply, field),
        }
    }
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_and_instances_start_again() {
    let state = tempfile::tempdir().expect("state dir");
    let config = local_workspace_config(state.path(), TOKEN, false);
    let first = Local {
        emulator: start_local_workspace(config.clone()).await,
        http: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
        _state: tempfile::tempdir().expect("unused"),
    };
    first.create_endpoint("durable").await;
    first.blue_takes_all_traffic("durable").await;
    let key = first.key("durable").await;
    first.emulator.shutdown().await;

    let second = Local {
        emulator: start_local_workspace(config).await,
        http: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
        _state: tempfile::tempdir().expect("unused"),
    };
    let endpoint = second
        .arm(
            Method::GET,
            &format!("{WORKSPACE}/onlineEndpoints/durable"),
            None,
        )
        .await;
    assert_eq!(endpoint.status, StatusCode::OK);
    assert_eq!(endpoint.body["properties"]["traffic"]["blue"], 100);
    assert_eq!(second.key("durable").await, key, "keys survive");
    let pool = second
        .emulator
        .workspace
        .pool("durable", "blue")
        .expect("pool again");
    assert!(matches!(
        pool.wait_settled(Duration::from_secs(30)).await,
        backend::emulator::instances::PoolStatus::Settled { instances: 1 }
    ));
    let (status, _, body) = second.score("durable", &key, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(close(&predictions(&body), &expected("regression-v1")));
    second.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoring_answers_with_azures_status_codes() {
    let local = start().await;
    local.create_endpoint("codes").await;
    let path = format!("{WORKSPACE}/onlineEndpoints/codes/deployments");
    // Always failing, and too slow for a 1 s timeout: the faulty model, tuned by environment.
    let mut failing = Local::deployment_body("regression-v3-faulty", 1);
    failing["properties"]["environmentVariables"] =
        json!({ "FAULTY_FAILURE_RATE": "1", "FAULTY_DELAY_MS": "0" });
    let mut slow = Local::deployment_body("regression-v3-faulty", 1);
    slow["properties"]["environmentVariables"] =
        json!({ "FAULTY_FAILURE_RATE": "0", "FAULTY_DELAY_MS": "1500" });
    slow["properties"]["requestSettings"]["requestTimeout"] = json!("PT1S");
    for (name, body) in [("failing", failing), ("slow", slow)] {
        let reply = local
            .arm(Method::PUT, &format!("{path}/{name}"), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(local.settle(&reply).await["status"], "Succeeded");
    }
    let key = local.key("codes").await;

    let (status, _, _) = local.score("codes", &key, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no deployment has live traffic"
    );

    let response = local
        .http
        .post(format!(
            "{}/endpoints/codes/score",
            local.emulator.scoring_url
        ))
        .bearer_auth(&key)
        .header("azureml-model-deployment", "failing")
        .header("x-ms-client-request-id", "client-id-1")
        .json(&sample_request())
        .send()
        .await
        .expect("score");
    assert_eq!(response.status(), StatusCode::FAILED_DEPENDENCY);
    assert_eq!(response.headers()["x-request-id"], "client-id-1");
    let reason = response.headers()["ms-azureml-model-error-reason"]
        .to_str()
        .expect("ascii");
    assert!(reason.contains("simulated model failure"), "{reason}");

    let (status, by, _) = local.score("codes", &key, Some("slow")).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(by.as_deref(), Some("slow"));

    let too_big = vec![b' '; backend::emulator::scoring::MAX_BODY_BYTES + 1];
    let response = local
        .http
        .post(format!(
            "{}/endpoints/codes/score",
            local.emulator.scoring_url
        ))
        .bearer_auth(&key)
        .header("azureml-model-deployment", "failing")
        .body(too_big)
        .send()
        .await
        .expect("score");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // More than 2 × maxConcurrentRequestsPerInstance × instances pending: 429.
    let requests = (0..6).map(|_| {
        let http = local.http.clone();
        let url = format!("{}/endpoints/codes/score", local.emulator.scoring_url);
        let key = key.clone();
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(key)
                .header("azureml-model-deployment", "slow")
                .json(&sample_request())
                .send()
                .await
                .map(|r| r.status())
        })
    });
    let mut statuses = Vec::new();
    for request in requests.collect::<Vec<_>>() {
        statuses.push(request.await.expect("task").expect("answer"));
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );

    // Metrics: JSON per endpoint and Prometheus text for all.
    let metrics: Value = local
        .http
        .get(format!(
            "{}/endpoints/codes/metrics",
            local.emulator.scoring_url
        ))
        .send()
        .await
        .expect("metrics")
        .json()
        .await
        .expect("json");
    assert_eq!(
        metrics["deployments"]["failing"]["live"]["statuses"]["424"],
        1
    );
    let text = local
        .http
        .get(format!("{}/metrics", local.emulator.scoring_url))
        .send()
        .await
        .expect("prometheus")
        .text()
        .await
        .expect("text");
    assert!(text.contains(r#"greenlight_scoring_requests_total{endpoint="codes",deployment="failing",traffic="live",status="424"} 1"#), "{text}");
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aml_token_endpoint_takes_issued_tokens_only() {
    let local = start().await;
    let path = format!("{WORKSPACE}/onlineEndpoints/tokens");
    let reply = local
        .arm(
            Method::PUT,
            &path,
            Some(json!({ "location": "local", "properties": { "authMode": "AMLToken" } })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    local.settle(&reply).await;
    local.blue_takes_all_traffic("tokens").await;
    let keys = local
        .arm(Method::POST, &format!("{path}/listKeys"), None)
        .await;
    assert_eq!(
        keys.status,
        StatusCode::BAD_REQUEST,
        "no keys for AMLToken endpoints"
    );
    let token = local
        .arm(Method::POST, &format!("{path}/token"), None)
        .await;
    assert_eq!(token.status, StatusCode::OK);
    let expiry = token.body["expiryTimeUtc"].as_i64().expect("expiry");
    assert!(expiry > chrono::Utc::now().timestamp());
    let access = token.body["accessToken"].as_str().expect("token");
    let (status, _, _) = local.score("tokens", access, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = local.score("tokens", "made-up-token", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_down_drains_in_flight_requests_and_logs_honour_tail() {
    let local = start().await;
    let endpoint = "drain";
    local.create_endpoint(endpoint).await;
    let path = format!("{WORKSPACE}/onlineEndpoints/{endpoint}/deployments/blue");
    let reply = local
        .arm(
            Method::PUT,
            &path,
            Some(Local::deployment_body("regression-v1", 2)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(local.settle(&reply).await["status"], "Succeeded");
    assert_eq!(
        local
            .set_traffic(endpoint, json!({ "blue": 100 }), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let key = local.key(endpoint).await;
    let pool = local
        .emulator
        .workspace
        .pool(endpoint, "blue")
        .expect("pool");
    assert_eq!(pool.ready_instances().len(), 2);

    // A client scores in a loop while the deployment scales from 2 instances to 1.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = {
        let (http, url, key, stop) = (
            local.http.clone(),
            format!("{}/endpoints/{endpoint}/score", local.emulator.scoring_url),
            key.clone(),
            std::sync::Arc::clone(&stop),
        );
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let status = http
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&sample_request())
                    .send()
                    .await
                    .map(|r| r.status());
                if status.is_ok_and(|s| s == StatusCode::OK) {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            (ok, failed)
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let scaling = local
        .arm(
            Method::PATCH,
            &path,
            Some(json!({ "sku": { "capacity": 1 } })),
        )
        .await;
    assert_eq!(scaling.status, StatusCode::ACCEPTED);
    assert_eq!(local.settle(&scaling).await["status"], "Succeeded");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = client.await.expect("client");
    assert!(ok > 0);
    assert_eq!(
        failed, 0,
        "{failed} requests failed while scaling down ({ok} succeeded)"
    );
    assert_eq!(pool.ready_instances().len(), 1);

    let logs = local
        .arm(
            Method::POST,
            &format!("{path}/getLogs"),
            Some(json!({ "tail": 3 })),
        )
        .await;
    assert_eq!(logs.status, StatusCode::OK);
    let content = logs.body["content"].as_str().expect("content");
    assert_eq!(content.lines().count(), 3, "{content}");
    assert!(content.contains("POST /score 200"), "{content}");
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_both_planes_serve_https_with_a_certificate_clients_can_trust() {
    let state = tempfile::tempdir().expect("state dir");
    let mut config = local_workspace_config(state.path(), TOKEN, true);
    config.examples_dir = None;
    let emulator = start_local_workspace(config).await;
    assert!(emulator.control_url.starts_with("https://127.0.0.1:"));
    assert!(emulator.scoring_url.starts_with("https://127.0.0.1:"));
    let pem =
        std::fs::read(emulator.certificate.as_ref().expect("a certificate path")).expect("pem");
    let trusting = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("certificate"))
        .build()
        .expect("client");
    let local = Local {
        emulator,
        http: trusting,
        _state: state,
    };
    let workspace = local.arm(Method::GET, WORKSPACE, None).await;
    assert_eq!(workspace.status, StatusCode::OK);
    local.create_endpoint("secure").await;
    let key = local.key("secure").await;
    let (status, _, body) = local.score("secure", &key, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "served over https: {body}");

    let untrusting = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let refused = untrusting
        .get(format!("{}{WORKSPACE}?{API}", local.emulator.control_url))
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a client that does not trust the certificate is refused"
    );
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_takes_at_most_twenty_deployments() {
    let local = start().await;
    // Deployments whose init() fails end quickly and hold no process, but still count.
    let _code = local
        .register_code("quick-fail", "def init():\n    raise SystemExit(1)\n")
        .await;
    local.create_endpoint("crowded").await;
    let mut body = Local::deployment_body("regression-v1", 1);
    body["properties"]["codeConfiguration"]["codeId"] = json!("azureml:quick-fail:1");
    for i in 0..20 {
        let reply = local
            .arm(
                Method::PUT,
                &format!("{WORKSPACE}/onlineEndpoints/crowded/deployments/d{i:02}"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        local.settle(&reply).await;
    }
    let reply = local
        .arm(
            Method::PUT,
            &format!("{WORKSPACE}/onlineEndpoints/crowded/deployments/d20"),
            Some(body.clone()),
        )
        .await;
    assert_refused(&reply, "at most 20 deployments");
    body["properties"]["requestSettings"]["maxConcurrentRequestsPerInstance"] = json!(0);
    let reply = local
        .arm(
            Method::PUT,
            &format!("{WORKSPACE}/onlineEndpoints/crowded/deployments/d00"),
            Some(body),
        )
        .await;
    assert_refused(
        &reply,
        "properties.requestSettings.maxConcurrentRequestsPerInstance",
    );
    local.emulator.shutdown().await;
}
