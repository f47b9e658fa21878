//! The fault switch: `PUT /faults` (with the workspace's token) makes control-plane calls fail
//! the ways Azure's do — throttled, 500 / 503, slow, dropped, or an operation that ends Failed —
//! and a spent rule lets calls through again. Scoring is never touched.

use crate::helpers::{endpoint_path, start, Local, Reply, TOKEN, WORKSPACE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn set_faults(local: &Local, rules: Value) -> Reply {
    let url = format!("{}/faults", local.emulator.control_url);
    local
        .send(
            Method::PUT,
            &url,
            Some(json!({ "rules": rules })),
            Some(TOKEN),
        )
        .await
}

fn endpoint_body() -> Value {
    json!({ "location": "local", "properties": { "authMode": "Key" } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switch_needs_the_token_and_refuses_a_bad_rule_naming_it() {
    let local = start().await;
    let url = format!("{}/faults", local.emulator.control_url);
    let anonymous = local
        .send(Method::PUT, &url, Some(json!({ "rules": [] })), None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let wrong = local
        .send(Method::GET, &url, None, Some("not-the-token"))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let bad = set_faults(
        &local,
        json!([{ "fault": { "kind": "server_error", "status": 502 } }]),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("rules[0].fault.status")),
        "{}",
        bad.body
    );
    let shown = local.send(Method::GET, &url, None, Some(TOKEN)).await;
    assert_eq!(shown.body, json!({ "rules": [] }), "nothing was set");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_refuse_a_call_until_the_rule_is_spent() {
    let local = start().await;
    let path = endpoint_path("faulty");
    let set = set_faults(
        &local,
        json!([
            { "fault": { "kind": "throttle", "retry_after_seconds": 3 },
              "method": "PUT", "path_contains": "/onlineEndpoints/faulty", "times": 1 },
            { "fault": { "kind": "server_error", "status": 503 },
              "method": "PUT", "times": 1 },
            { "fault": { "kind": "server_error", "status": 500 },
              "method": "PUT", "times": 1 },
        ]),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);

    let throttled = local.arm(Method::PUT, &path, Some(endpoint_body())).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.body["error"]["code"], "TooManyRequests");
    assert_eq!(
        throttled
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("3")
    );
    let unavailable = local.arm(Method::PUT, &path, Some(endpoint_body())).await;
    assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(unavailable.body["error"]["code"], "ServiceUnavailable");
    let failed = local.arm(Method::PUT, &path, Some(endpoint_body())).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    // None of the refused calls changed anything.
    assert_eq!(
        local.arm(Method::GET, &path, None).await.status,
        StatusCode::NOT_FOUND
    );

    let served = local.arm(Method::PUT, &path, Some(endpoint_body())).await;
    local.succeeds(&served, StatusCode::CREATED).await;
    let url = format!("{}/faults", local.emulator.control_url);
    let left = local.send(Method::GET, &url, None, Some(TOKEN)).await;
    assert_eq!(left.body, json!({ "rules": [] }), "every rule is spent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_operation_changes_nothing_and_says_why() {
    let local = start().await;
    let path = endpoint_path("doomed");
    set_faults(
        &local,
        json!([{ "fault": { "kind": "fail_operation", "message": "quota exceeded in region" },
                 "path_contains": "/onlineEndpoints/doomed", "method": "PUT", "times": 1 }]),
    )
    .await;
    let accepted = local.arm(Method::PUT, &path, Some(endpoint_body())).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let ended = local.settle(&accepted).await;
    assert_eq!(ended["status"], "Failed", "{ended}");
    assert_eq!(ended["error"]["message"], "quota exceeded in region");
    assert_eq!(
        local.arm(Method::GET, &path, None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_gives_no_answer_with_or_without_the_change() {
    let local = start().await;
    let lost = endpoint_path("lost");
    let kept = endpoint_path("kept");
    set_faults(
        &local,
        json!([
            { "fault": { "kind": "drop" }, "path_contains": "/onlineEndpoints/lost", "times": 1 },
            { "fault": { "kind": "drop", "after_serving": true },
              "path_contains": "/onlineEndpoints/kept", "times": 1 },
        ]),
    )
    .await;
    for path in [&lost, &kept] {
        let url = format!(
            "{}{path}?api-version=2024-04-01",
            local.emulator.control_url
        );
        let sent = local
            .http
            .put(&url)
            .bearer_auth(TOKEN)
            .json(&endpoint_body())
            .send()
            .await;
        let err = sent.expect_err("the connection closes without an answer");
        assert!(!err.is_timeout(), "{err}");
    }
    assert_eq!(
        local.arm(Method::GET, &lost, None).await.status,
        StatusCode::NOT_FOUND,
        "dropped before it was served"
    );
    // Served, then its answer lost: the endpoint is there once its operation ends.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = local.arm(Method::GET, &kept, None).await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        if found.body["properties"]["provisioningState"] == "Succeeded" {
            break;
        }
        assert!(Instant::now() < deadline, "the endpoint never settled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_arrives_late_and_whole() {
    let local = start().await;
    set_faults(
        &local,
        json!([{ "fault": { "kind": "slow", "delay_ms": 400 }, "method": "GET", "times": 1 }]),
    )
    .await;
    let started = Instant::now();
    let workspace = local.arm(Method::GET, WORKSPACE, None).await;
    assert_eq!(workspace.status, StatusCode::OK);
    assert_eq!(workspace.body["name"], "ws");
    assert!(started.elapsed() >= Duration::from_millis(400));
}
