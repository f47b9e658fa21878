//! Rollouts against Azure's bad days, made by the local workspace's fault switch: throttling,
//! server errors, slow answers and dropped connections are ridden out by retries; an operation
//! that ends Failed pauses the rollout with Azure's message, nothing of the change applied,
//! until someone resumes it — and the change is asked for, and approved, again.

use crate::helpers::{deployment_request, Client, LocalWorkspace, CORRUPT_MODEL, WORKSPACE_TOKEN};
use crate::rollouts::{blue_only, bob_approves_next, live, short_plan, start, until, ENDPOINT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;

/// Sets the local workspace's fault rules (replacing any).
async fn faults(workspace: &LocalWorkspace, rules: Value) {
    let answer = reqwest::Client::new()
        .put(format!("{}/faults", workspace.emulator.control_url))
        .bearer_auth(WORKSPACE_TOKEN)
        .json(&json!({ "rules": rules }))
        .send()
        .await
        .expect("the fault switch answers");
    assert_eq!(answer.status(), StatusCode::OK);
}

/// The rules not yet spent.
async fn faults_left(workspace: &LocalWorkspace) -> Value {
    reqwest::Client::new()
        .get(format!("{}/faults", workspace.emulator.control_url))
        .bearer_auth(WORKSPACE_TOKEN)
        .send()
        .await
        .expect("the fault switch answers")
        .json::<Value>()
        .await
        .expect("rules")["rules"]
        .clone()
}

fn id_of(rollout: &Value) -> String {
    rollout["id"].as_str().expect("id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_rides_out_throttling_server_errors_slow_answers_and_dropped_connections() {
    let (app, workspace, alice) = blue_only().await;
    let bob = app.signed_in("bob", Role::Approver).await;
    faults(
        &workspace,
        json!([
            { "fault": { "kind": "throttle", "retry_after_seconds": 1 },
              "method": "PUT", "path_contains": "/deployments/green", "times": 2 },
            { "fault": { "kind": "server_error", "status": 503 }, "method": "GET", "times": 2 },
            { "fault": { "kind": "slow", "delay_ms": 800 }, "method": "GET", "times": 1 },
        ]),
    )
    .await;
    let id = id_of(&start(&alice, short_plan()).await);
    let mirror = until(&alice, &id, "the mirror's request", |r| {
        r["pending_request"]["rollout_step"] == json!(2)
    })
    .await;
    assert_eq!(mirror["steps"][0]["state"], "succeeded", "{mirror}");
    assert_eq!(faults_left(&workspace).await, json!([]), "every fault hit");

    // The mirror's write is served but its answer is lost; the retried write finds it done.
    faults(
        &workspace,
        json!([{ "fault": { "kind": "drop", "after_serving": true },
                 "method": "PUT", "path_contains": "/onlineEndpoints/", "times": 1 }]),
    )
    .await;
    bob_approves_next(&alice, &bob, &id, 2).await;
    until(&alice, &id, "the 10 % shift's request", |r| {
        r["pending_request"]["rollout_step"] == json!(3)
    })
    .await;
    assert_eq!(faults_left(&workspace).await, json!([]), "the drop hit");
    // And a connection dropped before the shift is served.
    faults(
        &workspace,
        json!([{ "fault": { "kind": "drop" }, "method": "PUT", "times": 1 }]),
    )
    .await;
    bob_approves_next(&alice, &bob, &id, 3).await;
    bob_approves_next(&alice, &bob, &id, 5).await;
    bob_approves_next(&alice, &bob, &id, 6).await;
    let done = until(&alice, &id, "the end", |r| r["state"] == "succeeded").await;
    crate::common::assert_rollout_succeeded_with(&done, &["bob"]);
    let split = live(&workspace).await;
    assert_eq!(split["traffic"]["green"], 100, "{split}");
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _, _)| a)
        .collect();
    let count = |name: &str| actions.iter().filter(|a| *a == name).count();
    assert_eq!(
        count("rollout.pause"),
        0,
        "nothing needed a person: {actions:?}"
    );
    assert_eq!(count("rollout.step_end"), 7);
    workspace.emulator.shutdown().await;
}

/// Waits for the rollout to pause, and returns it.
async fn paused(alice: &Client, id: &str) -> Value {
    until(alice, id, "the pause", |r| r["state"] == "paused").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_operation_pauses_with_azures_message_and_resuming_asks_again() {
    let (app, workspace, alice) = blue_only().await;
    let bob = app.signed_in("bob", Role::Approver).await;
    let plan = json!({ "steps": [
        { "kind": "deploy" },
        { "kind": "smoke_test" },
        { "kind": "shift", "percent": 10 },
        { "kind": "shift", "percent": 100 },
    ]});
    // The deployment's create fails in the workspace: nothing is created.
    faults(
        &workspace,
        json!([{ "fault": { "kind": "fail_operation", "message": "Not enough quota in region" },
                 "method": "PUT", "path_contains": "/deployments/green", "times": 1 }]),
    )
    .await;
    let id = id_of(&start(&alice, plan).await);
    let rollout = paused(&alice, &id).await;
    let error = rollout["steps"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("Not enough quota in region"),
        "the step shows Azure's message: {rollout}"
    );
    assert_eq!(rollout["steps"][0]["state"], "pending");
    let resume = format!("/api/v1/rollouts/{id}/resume");
    let (status, body) = alice.send(Method::POST, &resume, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The 10 % shift is approved, then fails in the workspace: the split stays where it was.
    until(&alice, &id, "the shift's request", |r| {
        r["pending_request"]["rollout_step"] == json!(2)
    })
    .await;
    faults(
        &workspace,
        json!([{ "fault": { "kind": "fail_operation", "message": "InternalServerError in region" },
                 "method": "PUT", "path_contains": "/onlineEndpoints/", "times": 1 }]),
    )
    .await;
    let first = bob_approves_next(&alice, &bob, &id, 2).await;
    let rollout = paused(&alice, &id).await;
    assert!(
        rollout["steps"][2]["error"]
            .as_str()
            .is_some_and(|e| e.contains("InternalServerError in region")),
        "{rollout}"
    );
    let split = live(&workspace).await;
    assert_eq!(split["traffic"]["blue"], 100, "never half-applied: {split}");
    assert_eq!(
        split["traffic"]["green"].as_i64().unwrap_or(0),
        0,
        "{split}"
    );
    let (_, request) = alice
        .get(&format!(
            "/api/v1/change-requests/{}",
            first["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(request["state"], "failed", "{request}");

    // Resumed: the shift is asked for again and needs a second person again.
    let (status, body) = alice.send(Method::POST, &resume, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = bob_approves_next(&alice, &bob, &id, 2).await;
    assert_ne!(again["id"], first["id"], "a new request");
    bob_approves_next(&alice, &bob, &id, 3).await;
    let done = until(&alice, &id, "the end", |r| r["state"] == "succeeded").await;
    assert_eq!(done["steps"][2]["error"], Value::Null, "{done}");
    let split = live(&workspace).await;
    assert_eq!(split["traffic"]["green"], 100, "{split}");

    // Both pauses are audited by the system with Azure's message, and both resumes by alice.
    let audit: Vec<(String, String, Value)> =
        sqlx::query_as("select action, actor, details from audit_events order by id")
            .fetch_all(&app.db.pool)
            .await
            .expect("read the audit log");
    let pauses: Vec<&Value> = audit
        .iter()
        .filter(|(action, actor, _)| action == "rollout.pause" && actor == "system")
        .map(|(_, _, details)| details)
        .collect();
    assert_eq!(pauses.len(), 2, "{audit:?}");
    assert!(pauses[0]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("Not enough quota in region")));
    assert!(pauses[1]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("InternalServerError in region")));
    let resumes = audit
        .iter()
        .filter(|(action, actor, _)| action == "rollout.resume" && actor == "alice")
        .count();
    assert_eq!(resumes, 2);
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_green_whose_model_cannot_start_fails_the_rollout_rather_than_pausing_it() {
    let (_app, workspace, alice) = blue_only().await;
    let _code = workspace.register_code("corrupt", CORRUPT_MODEL).await;
    let mut green = deployment_request("green", "regression-v2");
    green["code"] = json!("azureml:corrupt:1");
    let (status, rollout) = alice
        .send(
            Method::POST,
            &format!("/api/v1/endpoints/{ENDPOINT}/rollouts"),
            Some(json!({ "deployment": green, "plan": short_plan() })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rollout}");
    let failed = until(&alice, &id_of(&rollout), "the failure", |r| {
        r["state"] == "failed" || r["state"] == "paused"
    })
    .await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(
        failed["steps"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("model file is corrupt")),
        "{failed}"
    );
    workspace.emulator.shutdown().await;
}
