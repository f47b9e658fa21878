//! Rollout sessions through the API: the executor walks the plan, every traffic step waits for
//! a second person, and going back to the known-good split needs nobody.

use crate::common::endpoint_name;
use crate::helpers::{
    deployment_request, spawn_app_with_workspace, Client, LocalWorkspace, TestApp,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;
use std::time::Duration;

pub(crate) const ENDPOINT: &str = "roll";

/// A short version of the seed plan, so a test runs in seconds.
pub(crate) fn short_plan() -> Value {
    json!({ "steps": [
        { "kind": "deploy" },
        { "kind": "smoke_test" },
        { "kind": "mirror", "percent": 10, "duration": "PT1S" },
        { "kind": "shift", "percent": 10 },
        { "kind": "bake", "duration": "PT1S" },
        { "kind": "shift", "percent": 100 },
        { "kind": "delete_old" },
    ]})
}

/// An endpoint whose blue (v1) takes all traffic, and alice (operator) signed in.
pub(crate) async fn blue_only() -> (TestApp, LocalWorkspace, Client) {
    let (app, workspace) = spawn_app_with_workspace().await;
    let alice = app.signed_in("alice", Role::Operator).await;
    app.blue_takes_all(&alice, ENDPOINT).await;
    (app, workspace, alice)
}

pub(crate) async fn start(alice: &Client, plan: Value) -> Value {
    let (status, rollout) = alice
        .send(
            Method::POST,
            &format!("/api/v1/endpoints/{ENDPOINT}/rollouts"),
            Some(json!({
                "deployment": deployment_request("green", "regression-v2"),
                "plan": plan,
                "reason": "v2 is better",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rollout}");
    rollout
}

/// Reads rollout `id` until `done` holds (bounded).
pub(crate) async fn until(
    client: &Client,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (status, rollout) = client.get(&format!("/api/v1/rollouts/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{rollout}");
        if done(&rollout) {
            return rollout;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waiting for {what}: {rollout}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn live(workspace: &LocalWorkspace) -> Value {
    let endpoint = workspace
        .client
        .get_endpoint(&endpoint_name(ENDPOINT))
        .await
        .expect("endpoint");
    json!({ "traffic": endpoint.properties.traffic, "mirror": endpoint.properties.mirror_traffic })
}

/// Waits for the rollout's next pending request, checks that alice may not approve it, and has
/// bob approve it. Returns the request.
pub(crate) async fn bob_approves_next(alice: &Client, bob: &Client, id: &str, step: u64) -> Value {
    let rollout = until(alice, id, "a pending request", |r| {
        r["pending_request"]["rollout_step"] == json!(step)
    })
    .await;
    assert_eq!(rollout["state"], "waiting_for_approval");
    let request = rollout["pending_request"].clone();
    let approve = format!(
        "/api/v1/change-requests/{}/approve",
        request["id"].as_str().expect("id")
    );
    let (status, body) = alice.send(Method::POST, &approve, Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "self_approval");
    let (status, body) = bob.send(Method::POST, &approve, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_rollout_runs_with_an_approval_for_every_traffic_step() {
    let (app, workspace, alice) = blue_only().await;
    let bob = app.signed_in("bob", Role::Approver).await;
    let rollout = start(&alice, short_plan()).await;
    let id = rollout["id"].as_str().expect("id").to_owned();
    assert_eq!(rollout["old_deployment"], "blue");
    assert_eq!(rollout["known_good"]["traffic"], json!({ "blue": 100 }));

    // A second rollout on the same endpoint is refused while this one is active.
    let (status, body) = alice
        .send(
            Method::POST,
            &format!("/api/v1/endpoints/{ENDPOINT}/rollouts"),
            Some(json!({ "deployment": deployment_request("red", "regression-v2") })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Mirror (step 3), shift 10 % (4), shift 100 % (6), delete blue (7): each asks first.
    let mirror = bob_approves_next(&alice, &bob, &id, 2).await;
    assert_eq!(
        mirror["change"]["after"]["mirror_traffic"],
        json!({ "green": 10 })
    );
    bob_approves_next(&alice, &bob, &id, 3).await;
    bob_approves_next(&alice, &bob, &id, 5).await;
    bob_approves_next(&alice, &bob, &id, 6).await;
    let done = until(&alice, &id, "the end", |r| r["state"] == "succeeded").await;
    crate::common::assert_rollout_succeeded_with(&done, &["bob"]);
    let split = live(&workspace).await;
    assert_eq!(split["traffic"]["green"], 100, "{split}");
    assert_eq!(split["traffic"]["blue"].as_i64().unwrap_or(0), 0, "{split}");
    let gone = workspace
        .client
        .get_deployment(&endpoint_name(ENDPOINT), &"blue".parse().expect("name"))
        .await;
    assert!(gone.is_err(), "blue is deleted");

    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _, _)| a)
        .collect();
    let count = |name: &str| actions.iter().filter(|a| *a == name).count();
    assert_eq!(count("rollout.start"), 1);
    assert_eq!(count("rollout.end"), 1);
    assert_eq!(count("rollout.step_start"), 7);
    assert_eq!(count("rollout.step_end"), 7);
    assert_eq!(
        count("change_request.approve"),
        4 + 1,
        "four steps, and the setup's split"
    );
    let (_, history) = alice
        .get(&format!("/api/v1/endpoints/{ENDPOINT}/rollouts"))
        .await;
    assert_eq!(history["items"][0]["state"], "succeeded");
    workspace.emulator.shutdown().await;
}

/// A rollout whose 10 % shift bob approved, heading into a 10-minute bake: alice (who started
/// it) and the rollout's id.
async fn shifted_ten_percent_before_a_long_bake() -> (TestApp, LocalWorkspace, Client, String) {
    let (app, workspace, alice) = blue_only().await;
    let bob = app.signed_in("bob", Role::Approver).await;
    let plan = json!({ "steps": [
        { "kind": "deploy" },
        { "kind": "smoke_test" },
        { "kind": "shift", "percent": 10 },
        { "kind": "bake", "duration": "PT10M" },
        { "kind": "shift", "percent": 100 },
    ]});
    let id = start(&alice, plan).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    bob_approves_next(&alice, &bob, &id, 2).await;
    (app, workspace, alice, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_at_ten_percent_restores_blue_without_approval() {
    let (app, workspace, alice, id) = shifted_ten_percent_before_a_long_bake().await;
    until(&alice, &id, "the bake", |r| r["current_step"] == 3).await;
    assert_eq!(
        live(&workspace).await["traffic"],
        json!({ "blue": 90, "green": 10 })
    );

    let path = format!("/api/v1/rollouts/{id}/rollback");
    let (status, body) = alice.send(Method::POST, &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "reason");
    let (status, body) = alice
        .send(
            Method::POST,
            &path,
            Some(json!({ "reason": "green's p95 doubled" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ended = until(&alice, &id, "rolled back", |r| r["state"] == "rolled_back").await;
    let split = live(&workspace).await;
    let green = split["traffic"]["green"].as_i64().unwrap_or(0);
    assert_eq!(
        (split["traffic"]["blue"].as_i64(), green),
        (Some(100), 0),
        "{split}"
    );
    assert!(ended["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .any(|t| t["reason"] == "green's p95 doubled" && t["actor"] == "alice"));
    let rollback = app
        .audit_actions()
        .await
        .into_iter()
        .find(|(a, _, _)| a == "rollout.rollback")
        .expect("audited");
    assert_eq!(rollback.2["reason"], "green's p95 doubled");
    workspace.emulator.shutdown().await;
}

/// The rollout's audit event `action`, which must be the only one: (actor, details).
async fn the_audit_event(app: &TestApp, id: &str, action: &str) -> (String, Value) {
    let found: Vec<(String, Value)> = sqlx::query_as(
        "select actor, details from audit_events
          where action = $1 and details->>'rollout_id' = $2 order by id",
    )
    .bind(action)
    .bind(id)
    .fetch_all(&app.db.pool)
    .await
    .expect("read the audit log");
    assert_eq!(found.len(), 1, "one {action}: {found:?}");
    found.into_iter().next().expect("one")
}

/// Sends `action` (pause, resume, abort) to rollout `id` as `client` with `reason`.
async fn steer(client: &Client, id: &str, action: &str, reason: &str) -> Value {
    let (status, body) = client
        .send(
            Method::POST,
            &format!("/api/v1/rollouts/{id}/{action}"),
            Some(json!({ "reason": reason })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{action}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_during_the_bake_at_ten_percent_restores_blue_and_audits_pause_resume_and_abort() {
    let (app, workspace, alice, id) = shifted_ten_percent_before_a_long_bake().await;
    until(&alice, &id, "the bake", |r| {
        r["current_step"] == 3 && r["steps"][3]["state"] == "running"
    })
    .await;
    let at_ten = json!({ "blue": 90, "green": 10 });
    assert_eq!(live(&workspace).await["traffic"], at_ten);

    // Pausing and resuming hold the split where it is.
    let paused = steer(&alice, &id, "pause", "looking at the dashboards").await;
    assert_eq!(paused["state"], "paused", "{paused}");
    assert_eq!(live(&workspace).await["traffic"], at_ten);
    let resumed = steer(&alice, &id, "resume", "dashboards look fine").await;
    assert_eq!(resumed["state"], "running", "{resumed}");
    until(&alice, &id, "the bake again", |r| {
        r["current_step"] == 3 && r["steps"][3]["state"] == "running"
    })
    .await;
    assert_eq!(live(&workspace).await["traffic"], at_ten);

    // Abort needs a reason, and no approval.
    let path = format!("/api/v1/rollouts/{id}/abort");
    let (status, body) = alice.send(Method::POST, &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "reason");
    steer(&alice, &id, "abort", "error rate is up").await;
    let ended = until(&alice, &id, "aborted", |r| r["state"] == "aborted").await;
    let split = live(&workspace).await;
    let share = |map: &Value, name: &str| map[name].as_i64().unwrap_or(0);
    assert_eq!(
        (
            share(&split["traffic"], "blue"),
            share(&split["traffic"], "green")
        ),
        (100, 0),
        "{split}"
    );
    let mirrored: i64 = split["mirror"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_i64).sum())
        .unwrap_or(0);
    assert_eq!(mirrored, 0, "mirror off: {split}");
    assert_eq!(ended["steps"][3]["state"], "skipped", "{ended}");
    assert_eq!(ended["steps"][4]["state"], "skipped", "{ended}");

    for (action, reason, to) in [
        ("rollout.pause", "looking at the dashboards", "paused"),
        ("rollout.resume", "dashboards look fine", "running"),
        ("rollout.abort", "error rate is up", "aborting"),
    ] {
        let (actor, details) = the_audit_event(&app, &id, action).await;
        assert_eq!(actor, "alice", "{action}");
        assert_eq!(details["reason"], reason, "{action}: {details}");
        assert_eq!(details["to"], to, "{action}: {details}");
    }
    let (_, end) = the_audit_event(&app, &id, "rollout.end").await;
    assert_eq!(end["to"], "aborted", "{end}");
    // Every started step has its end in the log: the bake ended skipped; the last shift never
    // started, so it has neither.
    let ends: Vec<(Value,)> = sqlx::query_as(
        "select details from audit_events
          where action = 'rollout.step_end' and details->>'rollout_id' = $1 order by id",
    )
    .bind(&id)
    .fetch_all(&app.db.pool)
    .await
    .expect("read the step ends");
    let ends: Vec<(Value, Value)> = ends
        .into_iter()
        .map(|(d,)| (d["step"].clone(), d["state"].clone()))
        .collect();
    assert_eq!(
        ends,
        vec![
            (json!(0), json!("succeeded")),
            (json!(1), json!("succeeded")),
            (json!(2), json!("succeeded")),
            (json!(3), json!("skipped")),
        ]
    );
    let requests: i64 =
        sqlx::query_scalar("select count(*) from change_requests where rollout_id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.db.pool)
            .await
            .expect("count the rollout's requests");
    assert_eq!(requests, 1, "only the 10 % shift asked; the abort did not");
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_step_pauses_the_rollout_and_resume_asks_again() {
    let (app, workspace, alice) = blue_only().await;
    let bob = app.signed_in("bob", Role::Approver).await;
    let plan = json!({ "steps": [
        { "kind": "deploy" },
        { "kind": "smoke_test" },
        { "kind": "shift", "percent": 100 },
    ]});
    let id = start(&alice, plan).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let waiting = until(&alice, &id, "a request", |r| {
        r["pending_request"].is_object()
    })
    .await;
    let request = waiting["pending_request"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, body) = bob
        .send(
            Method::POST,
            &format!("/api/v1/change-requests/{request}/reject"),
            Some(json!({ "comment": "not before the release" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    until(&alice, &id, "paused", |r| r["state"] == "paused").await;
    assert_eq!(live(&workspace).await["traffic"], json!({ "blue": 100 }));

    let (status, body) = alice
        .send(
            Method::POST,
            &format!("/api/v1/rollouts/{id}/resume"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    bob_approves_next(&alice, &bob, &id, 2).await;
    until(&alice, &id, "the end", |r| r["state"] == "succeeded").await;
    workspace.emulator.shutdown().await;
}
