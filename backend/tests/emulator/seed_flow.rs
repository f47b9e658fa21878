//! The seed's whole rollout flow with real instance processes: create, deploy, scale under
//! load, add a green deployment, mirror, split, switch over, delete.

use crate::helpers::{
    assert_predicted_by, close, deployment_path, endpoint_path, expected, pids, process_alive,
    start, within_bound,
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_flow_runs_end_to_end_with_real_instances() {
    let local = start().await;
    let endpoint = "seed-flow";
    local.create_endpoint(endpoint).await;
    let created = local.arm(Method::GET, &endpoint_path(endpoint), None).await;
    assert_eq!(created.body["properties"]["provisioningState"], "Succeeded");
    assert!(created.body["properties"]["scoringUri"]
        .as_str()
        .is_some_and(|u| u.starts_with("http://127.0.0.1:")));

    // Blue with v1; its process really runs.
    local.deploy(endpoint, "blue", "regression-v1").await;
    let blue_pool = local.pool(endpoint, "blue");
    let blue_pids = pids(&blue_pool);
    assert_eq!(blue_pids.len(), 1);
    assert!(process_alive(blue_pids[0]));
    let got = local
        .arm(Method::GET, &deployment_path(endpoint, "blue"), None)
        .await
        .body;
    assert_eq!(got["properties"]["provisioningState"], "Succeeded");
    assert_eq!(got["properties"]["scaleSettings"]["scaleType"], "Default");
    assert_eq!(got["sku"]["capacity"], 1);

    local
        .move_traffic(endpoint, json!({ "blue": 100 }), json!({}))
        .await;
    let key = local.key(endpoint).await;
    let (status, by, body) = local.score(endpoint, &key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(by.as_deref(), Some("blue"));
    assert_predicted_by(&body, "regression-v1");

    // Scale blue to 2 while a client scores continuously: nothing fails.
    let scaling = local.scale(endpoint, "blue", 2).await;
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
    local.deploy(endpoint, "green", "regression-v2").await;
    let (status, by, body) = local.score(endpoint, &key, Some("green")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by.as_deref(), Some("green"));
    assert_predicted_by(&body, "regression-v2");
    assert!(!close(
        &expected("regression-v1"),
        &expected("regression-v2")
    ));

    // Mirror 10 %: every client answer still comes from blue. 1,600 draws at 10 % put the
    // five-sd bound at 6.25–13.75 %, so a split of 5 % or 15 % fails.
    let n = 1_600u64;
    local
        .move_traffic(
            endpoint,
            json!({ "blue": 100, "green": 0 }),
            json!({ "green": 10 }),
        )
        .await;
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
    for (by, _) in local.score_ok(endpoint, &key, n).await {
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
    local
        .move_traffic(
            endpoint,
            json!({ "blue": 90, "green": 10 }),
            json!({ "green": 0 }),
        )
        .await;
    let green_answers = local
        .score_ok(endpoint, &key, n)
        .await
        .iter()
        .filter(|(by, _)| by.as_deref() == Some("green"))
        .count() as u64;
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
    local
        .move_traffic(endpoint, json!({ "blue": 0, "green": 100 }), json!({}))
        .await;
    for (by, body) in local.score_ok(endpoint, &key, 20).await {
        assert_eq!(by.as_deref(), Some("green"));
        assert_predicted_by(&body, "regression-v2");
    }

    // Delete blue: its processes are gone.
    let all_blue_pids = pids(&blue_pool);
    assert_eq!(all_blue_pids.len(), 2);
    let deleting = local
        .arm(Method::DELETE, &deployment_path(endpoint, "blue"), None)
        .await;
    local.succeeds(&deleting, StatusCode::ACCEPTED).await;
    for pid in all_blue_pids {
        assert!(!process_alive(pid), "blue's instance {pid} still runs");
    }
    let gone = local
        .arm(Method::GET, &deployment_path(endpoint, "blue"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["error"]["code"], "ResourceNotFound");

    // Delete the endpoint.
    let deleting = local
        .arm(Method::DELETE, &endpoint_path(endpoint), None)
        .await;
    local.succeeds(&deleting, StatusCode::ACCEPTED).await;
    let (status, _, _) = local.score(endpoint, &key, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    local.emulator.shutdown().await;
}
