//! Instances as real processes: a failing `init()` fails the deployment with its reason, a
//! killed instance is replaced, scaling down drains in-flight requests, and a restarted
//! workspace starts its stored deployments again.

use crate::common::local_workspace_config;
use crate::helpers::{
    assert_predicted_by, deployment_body, deployment_path, endpoint_path, sample_request, start,
    start_on, TOKEN,
};
use backend::emulator::instances::PoolStatus;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    let mut body = deployment_body("regression-v1", 1);
    body["properties"]["codeConfiguration"]["codeId"] = json!("azureml:broken:1");
    let outcome = local
        .create_deployment_from("broken-init", "blue", body)
        .await;
    assert_eq!(outcome["status"], "Failed");
    let message = outcome["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("ValueError: model file is corrupt"),
        "{outcome}"
    );
    let path = deployment_path("broken-init", "blue");
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
    local.blue_takes_all_traffic(endpoint).await;
    let key = local.key(endpoint).await;
    let pool = local.pool(endpoint, "blue");
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
    local.score_ok(endpoint, &key, 20).await;
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_and_instances_start_again() {
    let state = tempfile::tempdir().expect("state dir");
    let config = local_workspace_config(state.path(), TOKEN, false);
    let first = start_on(config.clone()).await;
    first.create_endpoint("durable").await;
    first.blue_takes_all_traffic("durable").await;
    let key = first.key("durable").await;
    first.emulator.shutdown().await;

    let second = start_on(config).await;
    let endpoint = second
        .arm(Method::GET, &endpoint_path("durable"), None)
        .await;
    assert_eq!(endpoint.status, StatusCode::OK);
    assert_eq!(endpoint.body["properties"]["traffic"]["blue"], 100);
    assert_eq!(second.key("durable").await, key, "keys survive");
    let pool = second.pool("durable", "blue");
    assert!(matches!(
        pool.wait_settled(Duration::from_secs(30)).await,
        PoolStatus::Settled { instances: 1 }
    ));
    let (status, _, body) = second.score("durable", &key, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_predicted_by(&body, "regression-v1");
    second.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_down_drains_in_flight_requests_and_logs_honour_tail() {
    let local = start().await;
    let endpoint = "drain";
    local.create_endpoint(endpoint).await;
    let outcome = local
        .create_deployment_from(endpoint, "blue", deployment_body("regression-v1", 2))
        .await;
    assert_eq!(outcome["status"], "Succeeded", "{outcome}");
    local
        .move_traffic(endpoint, json!({ "blue": 100 }), json!({}))
        .await;
    let key = local.key(endpoint).await;
    let pool = local.pool(endpoint, "blue");
    assert_eq!(pool.ready_instances().len(), 2);

    // A client scores in a loop while the deployment scales from 2 instances to 1.
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (http, url, key, stop) = (
            local.http.clone(),
            local.score_url(endpoint),
            key.clone(),
            Arc::clone(&stop),
        );
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, 0u32);
            while !stop.load(Ordering::Relaxed) {
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
    let scaling = local.scale(endpoint, "blue", 1).await;
    local.succeeds(&scaling, StatusCode::ACCEPTED).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
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
            &format!("{}/getLogs", deployment_path(endpoint, "blue")),
            Some(json!({ "tail": 3 })),
        )
        .await;
    assert_eq!(logs.status, StatusCode::OK);
    let content = logs.body["content"].as_str().expect("content");
    assert_eq!(content.lines().count(), 3, "{content}");
    assert!(content.contains("POST /score 200"), "{content}");
    local.emulator.shutdown().await;
}
