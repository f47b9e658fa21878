//! What the API lets out: mirror samples (callers' request bodies) only to operators and only
//! their start, deployment variables' names but never their values, and no internal error text
//! when the workspace cannot be reached.

use crate::helpers::{
    blue_and_green, deployment_request as deployment, spawn_app_with_client,
    spawn_app_with_workspace, Client, LocalWorkspace, TestApp,
};
use backend::emulator::metrics::MAX_SAMPLE_CHARS;
use backend::secret::Secret;
use backend::workspace::{ArmClient, ArmClientConfig, RetryPolicy, StaticToken};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;
use std::sync::Arc;
use std::time::Duration;

const ENDPOINT: &str = "exposed";
const SSN: &str = "123-45-6789";

/// An endpoint with blue (v1) live and 50 % mirrored to green (v2), whose answers differ, and
/// requests carrying a long note and then a patient's SSN, until a differing sample is recorded.
async fn mirrored_with_samples() -> (TestApp, LocalWorkspace, Client) {
    let (app, workspace, operator) = blue_and_green(ENDPOINT, json!({ "green": 50 })).await;
    let request = json!({
        "data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
        "note": "x".repeat(3 * MAX_SAMPLE_CHARS),
        "patient_ssn": SSN,
    });
    for _ in 0..200 {
        let (status, answer) = operator
            .send(
                Method::POST,
                &format!("/api/v1/endpoints/{ENDPOINT}/invoke"),
                Some(json!({ "body": request })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["status"], 200, "{answer}");
        // The mirror's answer is compared in the background: give it a moment.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if !samples(&metrics(&operator).await).is_empty() {
            return (app, workspace, operator);
        }
    }
    panic!("no differing mirrored answer was sampled");
}

async fn metrics(client: &Client) -> Value {
    let (status, body) = client
        .get(&format!("/api/v1/endpoints/{ENDPOINT}/metrics"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn samples(metrics: &Value) -> Vec<Value> {
    metrics["deployments"]["green"]["comparison"]["samples"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_samples_are_truncated() {
    let (_app, workspace, operator) = mirrored_with_samples().await;
    let sample = samples(&metrics(&operator).await)[0].clone();
    let request = sample["request"].as_str().expect("the request's start");
    assert!(request.starts_with(r#"{"data":[[1,2,3"#), "{request}");
    assert_eq!(request.chars().count(), MAX_SAMPLE_CHARS + 1, "{request}");
    assert!(request.ends_with('…'), "{request}");
    assert!(
        !request.contains(SSN),
        "what follows the first {MAX_SAMPLE_CHARS} characters is cut: {request}"
    );
    for answer in ["live", "mirror"] {
        let text = sample[answer].as_str().expect("an answer");
        assert!(text.chars().count() <= MAX_SAMPLE_CHARS + 1, "{text}");
    }
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_get_metrics_without_samples() {
    let (app, workspace, operator) = mirrored_with_samples().await;
    let viewer = app.signed_in("vera", Role::Viewer).await;
    let seen = metrics(&viewer).await;
    let green = &seen["deployments"]["green"];
    assert!(
        green["comparison"]["differ"].as_u64() >= Some(1),
        "viewers still see the counts: {seen}"
    );
    assert!(green["mirrored"]["requests"].as_u64() >= Some(1), "{seen}");
    assert_eq!(green["comparison"]["samples"], json!([]), "{seen}");
    assert!(!seen.to_string().contains("\"data\""), "{seen}");
    assert!(
        !samples(&metrics(&operator).await).is_empty(),
        "operators see the samples"
    );
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_details_hold_variable_names_never_values() {
    const VALUE: &str = "hunter2-very-secret";
    let (app, workspace) = spawn_app_with_workspace().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    let mut blue = deployment("blue", "regression-v1");
    blue["environment_variables"] = json!({ "API_SECRET": VALUE });
    operator.create_endpoint_with(ENDPOINT, &[blue]).await;

    let audit: Vec<(String,)> = sqlx::query_as("select details::text from audit_events")
        .fetch_all(&app.db.pool)
        .await
        .expect("audit rows");
    let operations: Vec<(String,)> =
        sqlx::query_as("select row_to_json(operations)::text from operations")
            .fetch_all(&app.db.pool)
            .await
            .expect("operation rows");
    assert!(!operations.is_empty() && !audit.is_empty());
    for (row,) in audit.iter().chain(&operations) {
        assert!(!row.contains(VALUE), "a value was stored: {row}");
    }
    let (_, listed) = operator.get("/api/v1/audit").await;
    assert!(!listed.to_string().contains(VALUE), "{listed}");
    let created = audit
        .iter()
        .map(|(row,)| serde_json::from_str::<Value>(row).expect("JSON details"))
        .find(|details| details["request"]["name"] == "blue")
        .expect("the deployment's audit event");
    let recorded = created["request"]["environment_variables"]["API_SECRET"]
        .as_str()
        .expect("the variable is named");
    assert!(recorded.starts_with("sha256:"), "{recorded}");
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_shows_variable_names_never_values() {
    const VALUE: &str = "green-api-key-never-shown";
    let (app, workspace) = spawn_app_with_workspace().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    let viewer = app.signed_in("vic", Role::Viewer).await;
    app.blue_takes_all(&operator, ENDPOINT).await;
    let mut green = deployment("green", "regression-v2");
    green["environment_variables"] = json!({ "API_KEY": VALUE });
    let (status, started) = operator
        .send(
            Method::POST,
            &format!("/api/v1/endpoints/{ENDPOINT}/rollouts"),
            Some(json!({ "deployment": green })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert!(!started.to_string().contains(VALUE), "{started}");
    let id = started["id"].as_str().expect("id");
    for client in [&operator, &viewer] {
        let (status, shown) = client.get(&format!("/api/v1/rollouts/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert!(!shown.to_string().contains(VALUE), "{shown}");
        let fingerprint = shown["deployment"]["environment_variables"]["API_KEY"]
            .as_str()
            .expect("the variable is named");
        assert!(fingerprint.starts_with("sha256:"), "{fingerprint}");
    }
    let (_, listed) = viewer
        .get(&format!("/api/v1/endpoints/{ENDPOINT}/rollouts"))
        .await;
    assert!(!listed.to_string().contains(VALUE), "{listed}");
    let (status, _) = operator
        .send(
            Method::POST,
            &format!("/api/v1/rollouts/{id}/abort"),
            Some(json!({ "reason": "test done" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_transport_errors_answer_a_plain_502() {
    // One address where nothing listens, one that accepts and drops every connection.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("address");
    let dropping = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let dropping_addr = dropping.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((socket, _)) = dropping.accept().await {
            drop(socket);
        }
    });
    for address in [closed, dropping_addr] {
        let mut config = ArmClientConfig::local(&format!("http://{address}"));
        config.retry = RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        };
        let client =
            ArmClient::new(config, Arc::new(StaticToken(Secret::new("t")))).expect("ARM client");
        let app = spawn_app_with_client(Arc::new(client)).await;
        let viewer = app.signed_in("vera", Role::Viewer).await;
        let response = viewer
            .http
            .get(format!("{}/api/v1/endpoints", app.url))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let body: Value = response.json().await.expect("JSON");
        let error = &body["error"];
        assert_eq!(error["code"], "workspace_error", "{body}");
        assert_eq!(error["request_id"], request_id.as_str(), "{body}");
        assert_eq!(
            error["message"],
            "the workspace could not be reached; quote the request id when reporting it"
        );
        assert!(error["details"].is_null(), "{body}");
        // Everything but the request id (random hex, which could hold the port's digits).
        let mut rest = body.clone();
        rest["error"]["request_id"] = Value::Null;
        let text = rest.to_string();
        for internal in [
            "127.0.0.1",
            &address.port().to_string(),
            "error sending request",
            "connect",
            "Connect",
            "<workspace>",
            "cannot reach",
        ] {
            assert!(!text.contains(internal), "{internal:?} leaked: {text}");
        }
    }
}
