//! Gates through the API, under steady load on the local workspace: a failing green rolls back
//! by itself, a good one passes with the prediction diff measured, and a marginal one asks an
//! approver.

use crate::common::endpoint_name;
use crate::helpers::{deployment_request, spawn_app_with_workspace, Client, LocalWorkspace};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ENDPOINT: &str = "gated";

/// Clients calling the endpoint steadily (about 25 requests a second) until dropped.
struct Load {
    stop: Arc<AtomicBool>,
}

impl Load {
    async fn start(workspace: &LocalWorkspace) -> Self {
        let (uri, key) = workspace.scoring_target(ENDPOINT).await;
        let stop = Arc::new(AtomicBool::new(false));
        let running = Arc::clone(&stop);
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut i = 0u64;
            while !running.load(Ordering::Relaxed) {
                i += 1;
                let x = (i % 7) as f64;
                let body = json!({ "data": [[x, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]] });
                let _ = http.post(&uri).bearer_auth(&key).json(&body).send().await;
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        });
        Self { stop }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Blue (v1) takes all traffic; alice (operator) starts rollouts, bob (approver) approves.
async fn blue_only() -> (crate::helpers::TestApp, LocalWorkspace, Client, Client) {
    let (app, workspace) = spawn_app_with_workspace().await;
    let alice = app.signed_in("alice", Role::Operator).await;
    let bob = app.signed_in("bob", Role::Approver).await;
    app.blue_takes_all(&alice, ENDPOINT).await;
    (app, workspace, alice, bob)
}

/// Starts a rollout of `green` with a gated mirror of `window` and returns its id.
async fn start(alice: &Client, green: Value, mirror_gate: Value, window: &str) -> String {
    let plan = json!({ "steps": [
        { "kind": "deploy" },
        { "kind": "smoke_test" },
        { "kind": "mirror", "percent": 50, "duration": window, "gate": mirror_gate },
        { "kind": "shift", "percent": 100 },
    ]});
    let (status, rollout) = alice
        .send(
            Method::POST,
            &format!("/api/v1/endpoints/{ENDPOINT}/rollouts"),
            Some(json!({ "deployment": green, "plan": plan, "reason": "gate test" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rollout}");
    rollout["id"].as_str().expect("id").to_owned()
}

async fn until(client: &Client, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let (status, rollout) = client.get(&format!("/api/v1/rollouts/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{rollout}");
        if done(&rollout) {
            return rollout;
        }
        assert!(Instant::now() < deadline, "waiting for {what}: {rollout}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Bob approves the rollout's pending request of step `step`; returns it.
async fn bob_approves(alice: &Client, bob: &Client, id: &str, step: u64) -> Value {
    let rollout = until(alice, id, "a pending request", |r| {
        r["pending_request"]["rollout_step"] == json!(step)
    })
    .await;
    let request = rollout["pending_request"].clone();
    let approve = format!(
        "/api/v1/change-requests/{}/approve",
        request["id"].as_str().expect("id")
    );
    let (status, body) = bob.send(Method::POST, &approve, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    request
}

fn metric<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["judgement"]["metrics"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_green_fails_its_mirror_gate_and_rolls_back_by_itself() {
    let (app, workspace, alice, bob) = blue_only().await;
    let _load = Load::start(&workspace).await;
    // Seeded so that its first answer (the smoke test's) is a success; 30 % fail after that.
    let mut green = deployment_request("green", "regression-v3-faulty");
    green["environment_variables"] = json!({ "FAULTY_SEED": "3", "FAULTY_DELAY_MS": "20" });
    let id = start(&alice, green, json!({}), "PT30S").await;
    bob_approves(&alice, &bob, &id, 2).await;
    let mirroring = until(&alice, &id, "the mirror", |r| {
        r["steps"][2]["state"] == "running"
    })
    .await;
    assert_eq!(mirroring["steps"][2]["step"]["gate"]["pass_score"], 95.0);
    let started = Instant::now();
    let done = until(&alice, &id, "the rollback", |r| r["state"] == "rolled_back").await;
    assert!(
        started.elapsed() < Duration::from_secs(30 + 10),
        "rolled back after {:?}",
        started.elapsed()
    );
    let check = &done["steps"][2]["gate"];
    assert_eq!(check["decided"], true, "{done}");
    assert_eq!(check["report"]["judgement"]["outcome"], "fail", "{check}");
    let errors = metric(&check["report"], "error_rate");
    assert_eq!(errors["verdict"], "high", "{errors}");
    assert!(
        errors["experiment_value"].as_f64().expect("green's rate") > 0.1,
        "{errors}"
    );
    assert!(
        errors["control_value"].as_f64().expect("blue's rate") < 0.02,
        "{errors}"
    );

    let endpoint = workspace
        .client
        .get_endpoint(&endpoint_name(ENDPOINT))
        .await
        .expect("endpoint");
    let traffic = endpoint.properties.traffic.unwrap_or_default();
    assert_eq!(traffic.get("blue"), Some(&100), "{traffic:?}");
    let mirror = endpoint.properties.mirror_traffic.unwrap_or_default();
    assert!(mirror.values().all(|s| *s == 0), "mirror off: {mirror:?}");
    let gate_events: Vec<Value> = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "rollout.gate")
        .map(|(_, _, details)| details)
        .collect();
    assert_eq!(gate_events.len(), 1, "{gate_events:?}");
    assert_eq!(gate_events[0]["decision"], "failed");
    assert_eq!(gate_events[0]["rollout_id"], json!(id));
    assert_eq!(
        metric(&gate_events[0]["report"], "error_rate")["verdict"],
        "high"
    );
    assert!(
        gate_events[0]["report"]["agreement"]["samples"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "the audit log keeps no callers' answers"
    );
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_green_passes_and_the_prediction_diff_measures_how_it_differs() {
    let (_app, workspace, alice, bob) = blue_only().await;
    let _load = Load::start(&workspace).await;
    let id = start(
        &alice,
        deployment_request("green", "regression-v2"),
        json!({}),
        "PT15S",
    )
    .await;
    bob_approves(&alice, &bob, &id, 2).await;
    let passed = until(&alice, &id, "the next step", |r| r["current_step"] == 3).await;
    let check = &passed["steps"][2]["gate"];
    assert_eq!(check["decided"], true, "{passed}");
    assert_eq!(check["report"]["judgement"]["outcome"], "pass", "{check}");
    assert_eq!(check["report"]["traffic"], "mirrored");
    assert_eq!(check["report"]["granularity"], "per_request");
    let agreement = &check["report"]["agreement"];
    let compared = agreement["requests"].as_u64().expect("requests");
    println!(
        "v2 vs v1 over the mirror window: score {}, agreement {agreement}",
        check["report"]["judgement"]["score"]
    );
    assert!(compared >= 50, "{agreement}");
    assert!(
        agreement["share"].as_f64().expect("share") < 1.0,
        "v1 and v2 answer differently: {agreement}"
    );
    assert!(
        agreement["max_abs_diff"].as_f64().expect("max") > 0.0,
        "{agreement}"
    );
    assert!(!agreement["samples"].as_array().expect("samples").is_empty());
    let agreeing = metric(&check["report"], "prediction_agreement");
    assert_eq!(agreeing["report_only"], true, "{agreeing}");
    assert!(
        !check["report"]["series"]
            .as_array()
            .expect("series")
            .is_empty(),
        "{check}"
    );
    // The viewer sees the numbers, not the callers' answers.
    let viewer = _app.signed_in("vera", Role::Viewer).await;
    let (_, seen) = viewer.get(&format!("/api/v1/rollouts/{id}")).await;
    assert_eq!(
        seen["steps"][2]["gate"]["report"]["agreement"]["samples"],
        json!([])
    );
    assert_eq!(
        seen["steps"][2]["gate"]["report"]["agreement"]["requests"],
        json!(compared)
    );
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marginal_gate_asks_an_approver_who_may_let_the_rollout_continue() {
    let (app, workspace, alice, bob) = blue_only().await;
    let _load = Load::start(&workspace).await;
    // Disagreement with blue costs a tenth of the score: v2 lands between the thresholds.
    let gate = json!({
        "rules": [
            { "metric": "error_rate", "relative": 0.0, "absolute": 0.02, "min_samples": 20,
              "weight": 90, "critical": true },
            { "metric": "prediction_agreement", "relative": 0.0, "absolute": 0.05,
              "min_samples": 10, "weight": 10 },
        ],
        "pass_score": 95, "marginal_score": 75, "patience": "PT1M",
    });
    let id = start(
        &alice,
        deployment_request("green", "regression-v2"),
        gate,
        "PT10S",
    )
    .await;
    bob_approves(&alice, &bob, &id, 2).await;
    let asked = until(&alice, &id, "the gate's request", |r| {
        r["pending_request"]["change"]["kind"] == "pass_gate"
    })
    .await;
    assert_eq!(asked["state"], "waiting_for_approval");
    assert_eq!(
        asked["steps"][2]["gate"]["report"]["judgement"]["outcome"],
        "marginal"
    );
    let request = &asked["pending_request"];
    assert_eq!(request["change"]["outcome"], "marginal");
    let approve = format!(
        "/api/v1/change-requests/{}/approve",
        request["id"].as_str().expect("id")
    );
    let (status, body) = alice.send(Method::POST, &approve, Some(json!({}))).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the starter can't wave it through: {body}"
    );
    let (status, body) = bob.send(Method::POST, &approve, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["state"], "applied",
        "nothing to run in the workspace: {body}"
    );
    // The rollout goes on: the mirror is switched off and the shift asks for its approval.
    until(&alice, &id, "the shift's request", |r| {
        r["pending_request"]["rollout_step"] == json!(3)
    })
    .await;
    let decisions: Vec<Value> = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "rollout.gate")
        .map(|(_, _, details)| details["decision"].clone())
        .collect();
    assert_eq!(
        decisions,
        vec![json!("asked_approver"), json!("overridden")]
    );
    workspace.emulator.shutdown().await;
}
