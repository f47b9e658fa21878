//! Benchmark, not a test (`make bench`): from an approval to the local workspace's router
//! serving the new split, over 50 approvals. Prints p50 / p99; asserts only that each change
//! took effect.

use crate::common::endpoint_name;
use crate::helpers::{self, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::Role;
use std::time::{Duration, Instant};

const ENDPOINT: &str = "bench";
const ROUNDS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: make bench"]
async fn approval_to_serving_latency() {
    let (app, workspace, operator) = helpers::blue_and_green(ENDPOINT, json!({})).await;
    app.add_user("bench-approver", Role::Approver).await;
    let mut approver = app.client();
    approver.sign_in("bench-approver", PASSWORD).await;
    let path = format!("/api/v1/endpoints/{ENDPOINT}/traffic");
    let mut samples = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let green = if round % 2 == 0 { 10 } else { 0 };
        let (_, current) = operator.get(&path).await;
        let (status, request) = operator
            .send(
                Method::PUT,
                &path,
                Some(json!({
                    "traffic": { "blue": 100 - green, "green": green },
                    "version": current["version"],
                    "reason": "benchmark",
                })),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{request}");
        let approve = format!(
            "/api/v1/change-requests/{}/approve",
            request["id"].as_str().expect("id")
        );
        let started = Instant::now();
        let (status, decided) = approver.send(Method::POST, &approve, Some(json!({}))).await;
        assert_eq!(status, StatusCode::OK, "{decided}");
        loop {
            let endpoint = workspace
                .client
                .get_endpoint(&endpoint_name(ENDPOINT))
                .await
                .expect("endpoint");
            let serving = endpoint
                .properties
                .traffic
                .and_then(|t| t.get("green").copied())
                .unwrap_or(0);
            if serving == green {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "round {round} never took effect"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(started.elapsed());
        // The next request is made against a settled endpoint.
        operator
            .finish(&json!({ "id": decided["operation_id"] }))
            .await;
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    println!(
        "approval -> router serving the new split over {ROUNDS} approvals: p50 {:?}, p99 {:?}, max {:?}",
        at(0.50),
        at(0.99),
        samples[samples.len() - 1]
    );
    workspace.emulator.shutdown().await;
}
