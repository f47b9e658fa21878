//! Freeze windows: while one covers an endpoint no change request is applied (approving is
//! refused with `409 frozen`, and nothing is recorded or changed); going back to a rollout's
//! known-good split still is, audited with the window; only admins set windows.

use crate::helpers::{self, deployment_request, Client, LocalWorkspace, TestApp};
use crate::rollouts::until;
use chrono::{Duration as TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;

const ENDPOINT: &str = "frozen";

/// A one-off window over `endpoint` (the whole workspace when `None`), in force for an hour.
fn an_hour_from_now(endpoint: Option<&str>) -> Value {
    json!({
        "workspace": "local",
        "endpoint": endpoint,
        "reason": "year-end freeze",
        "schedule": {
            "kind": "once",
            "starts_at": (Utc::now() - TimeDelta::minutes(1)).to_rfc3339(),
            "ends_at": (Utc::now() + TimeDelta::hours(1)).to_rfc3339(),
        },
    })
}

async fn create_window(admin: &Client, body: Value) -> Value {
    let (status, window) = admin
        .send(Method::POST, "/api/v1/freeze-windows", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{window}");
    window
}

async fn delete_window(admin: &Client, window: &Value) {
    let id = window["id"].as_str().expect("window id");
    let (status, body) = admin
        .send(
            Method::DELETE,
            &format!("/api/v1/freeze-windows/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn green(workspace: &LocalWorkspace) -> i64 {
    workspace.live_share(ENDPOINT, "green").await
}

/// The audit actions recorded about change request `id`.
async fn actions_about(app: &TestApp, id: &str) -> Vec<String> {
    app.audit_actions()
        .await
        .into_iter()
        .filter(|(_, _, d)| d["change_request_id"] == id)
        .map(|(a, _, _)| a)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_during_a_freeze_is_refused_and_nothing_applies_until_the_window_is_deleted() {
    let (app, workspace, operator) = helpers::blue_and_green(ENDPOINT, json!({})).await;
    let admin = app.signed_in("ada", Role::Admin).await;
    let window = create_window(&admin, an_hour_from_now(Some(ENDPOINT))).await;
    assert!(window["active"]["ends_at"].is_string(), "{window}");

    let path = format!("/api/v1/endpoints/{ENDPOINT}/traffic");
    let (_, current) = operator.get(&path).await;
    let (status, request) = operator
        .send(
            Method::PUT,
            &path,
            Some(json!({
                "traffic": { "blue": 90, "green": 10 },
                "version": current["version"],
                "reason": "canary",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "asking is allowed: {request}");
    let id = request["id"].as_str().expect("id").to_owned();
    let approve = format!("/api/v1/change-requests/{id}/approve");

    let approver = app.approver().await;
    let (status, refused) = approver.send(Method::POST, &approve, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "frozen");
    let message = refused["error"]["message"].as_str().expect("message");
    assert!(message.contains("year-end freeze"), "{message}");
    assert!(message.contains("Frozen until"), "{message}");
    assert_eq!(refused["error"]["current"]["window_id"], window["id"]);
    assert_eq!(
        refused["error"]["current"]["ends_at"],
        window["active"]["ends_at"]
    );

    // Nothing happened: the request still waits, unapproved; traffic and audit are unchanged.
    let (_, still) = operator.get(&format!("/api/v1/change-requests/{id}")).await;
    assert_eq!(still["state"], "pending", "{still}");
    assert_eq!(still["approval_count"], 0, "{still}");
    assert_eq!(green(&workspace).await, 0);
    assert_eq!(actions_about(&app, &id).await, ["change_request.create"]);

    // Breaking the glass is no way around it either.
    let (status, body) = admin
        .send(
            Method::PUT,
            &path,
            Some(json!({
                "traffic": { "blue": 50, "green": 50 },
                "version": current["version"],
                "reason": "urgent",
                "break_glass": true,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "frozen");
    assert_eq!(green(&workspace).await, 0);

    // The endpoint's page shows the window.
    let (status, freeze) = operator
        .get(&format!("/api/v1/endpoints/{ENDPOINT}/freeze"))
        .await;
    assert_eq!(status, StatusCode::OK, "{freeze}");
    assert_eq!(freeze["active"]["window_id"], window["id"]);
    assert_eq!(freeze["active"]["reason"], "year-end freeze");

    delete_window(&admin, &window).await;
    let (_, freeze) = operator
        .get(&format!("/api/v1/endpoints/{ENDPOINT}/freeze"))
        .await;
    assert_eq!(freeze["active"], Value::Null, "{freeze}");
    let (status, approved) = approver.send(Method::POST, &approve, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    let ended = operator
        .finish(&json!({ "id": approved["operation_id"] }))
        .await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(green(&workspace).await, 10);

    let audited: Vec<(String, Value)> = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|(a, _, _)| a.starts_with("freeze_window."))
        .map(|(a, _, d)| (a, d))
        .collect();
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert_eq!(audited[0].0, "freeze_window.create");
    assert_eq!(audited[1].0, "freeze_window.delete");
    assert_eq!(audited[1].1["freeze_window_id"], window["id"]);
    assert_eq!(audited[1].1["reason"], "year-end freeze");
    workspace.emulator.shutdown().await;
}

/// Blue takes all of the endpoint; alice (operator) starts a rollout to green along `steps`.
async fn rollout(steps: Value) -> (TestApp, LocalWorkspace, Client, String) {
    let (app, workspace) = helpers::spawn_app_with_workspace().await;
    let alice = app.signed_in("alice", Role::Operator).await;
    app.blue_takes_all(&alice, ENDPOINT).await;
    let (status, started) = alice
        .send(
            Method::POST,
            &format!("/api/v1/endpoints/{ENDPOINT}/rollouts"),
            Some(json!({
                "deployment": deployment_request("green", "regression-v2"),
                "plan": { "steps": steps },
                "reason": "v2 is better",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let id = started["id"].as_str().expect("id").to_owned();
    (app, workspace, alice, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_waits_at_its_traffic_step_while_frozen_and_asks_once_the_window_is_gone() {
    let (app, workspace, alice, id) = rollout(json!([
        { "kind": "deploy" },
        { "kind": "smoke_test" },
        { "kind": "shift", "percent": 10 },
        { "kind": "shift", "percent": 100 },
    ]))
    .await;
    let admin = app.signed_in("ada", Role::Admin).await;
    let window = create_window(&admin, an_hour_from_now(None)).await;

    let held = until(&alice, &id, "the held shift", |r| {
        r["current_step"] == 2 && r["steps"][2]["state"] == "running"
    })
    .await;
    assert_eq!(held["state"], "running", "held, not failed: {held}");
    assert_eq!(held["held_by_freeze"]["window_id"], window["id"], "{held}");
    assert_eq!(held["pending_request"], Value::Null, "{held}");

    delete_window(&admin, &window).await;
    let asking = until(&alice, &id, "the shift's request", |r| {
        r["pending_request"]["rollout_step"] == 2
    })
    .await;
    assert_eq!(asking["held_by_freeze"], Value::Null, "{asking}");
    assert_eq!(green(&workspace).await, 0);
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_during_a_freeze_restores_blue_and_its_audit_names_the_window() {
    let (app, workspace, alice, id) = rollout(json!([
        { "kind": "deploy" },
        { "kind": "smoke_test" },
        { "kind": "shift", "percent": 10 },
        { "kind": "bake", "duration": "PT10M" },
        { "kind": "shift", "percent": 100 },
    ]))
    .await;
    let asking = until(&alice, &id, "the 10 % request", |r| {
        r["pending_request"]["rollout_step"] == 2
    })
    .await;
    let request = asking["pending_request"]["id"].as_str().expect("id");
    let (status, body) = app
        .approver()
        .await
        .send(
            Method::POST,
            &format!("/api/v1/change-requests/{request}/approve"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    until(&alice, &id, "the bake", |r| r["current_step"] == 3).await;
    assert_eq!(green(&workspace).await, 10);

    let admin = app.signed_in("ada", Role::Admin).await;
    let window = create_window(&admin, an_hour_from_now(Some(ENDPOINT))).await;
    let (status, body) = alice
        .send(
            Method::POST,
            &format!("/api/v1/rollouts/{id}/rollback"),
            Some(json!({ "reason": "green's p95 doubled" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    until(&alice, &id, "rolled back", |r| r["state"] == "rolled_back").await;
    assert_eq!(green(&workspace).await, 0, "back on blue during the freeze");

    let events = app.audit_actions().await;
    let rollback = events
        .iter()
        .find(|(a, _, _)| a == "rollout.rollback")
        .expect("the rollback is audited");
    assert_eq!(
        rollback.2["during_freeze"]["freeze_window_id"],
        window["id"]
    );
    assert_eq!(rollback.2["during_freeze"]["reason"], "year-end freeze");
    let restore = events
        .iter()
        .rev()
        .find(|(a, _, d)| a == "traffic.change" && d["request"]["rollout_id"] == id.as_str())
        .expect("the restore is audited");
    assert_eq!(
        restore.2["request"]["during_freeze"]["freeze_window_id"],
        window["id"]
    );
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_that_breaks_a_rule_is_refused_naming_the_field() {
    let app = helpers::spawn_app().await;
    let admin = app.signed_in("ada", Role::Admin).await;
    let refused = |body: Value| {
        let admin = &admin;
        async move {
            let (status, body) = admin
                .send(Method::POST, "/api/v1/freeze-windows", Some(body))
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(body["error"]["code"], "validation_failed");
            body["error"]["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| {
                    (
                        f["field"].as_str().unwrap_or_default().to_owned(),
                        f["message"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let weekly = |days: Value, start: &str, end: &str, zone: &str| {
        json!({
            "workspace": "local",
            "reason": "weekend",
            "schedule": { "kind": "weekly", "days": days, "start": start, "end": end, "time_zone": zone },
        })
    };
    let fields = refused(weekly(json!([]), "25:00", "06:00", "Europe/Berlin")).await;
    assert_eq!(fields[0].0, "schedule.days");
    assert_eq!(fields[1].0, "schedule.start");
    assert!(fields[1].1.contains("HH:MM"), "{fields:?}");
    let fields = refused(weekly(
        json!(["sat"]),
        "22:00",
        "06:00",
        "Mars/Olympus_Mons",
    ))
    .await;
    assert_eq!(fields[0].0, "schedule.time_zone");
    assert!(fields[0].1.contains("IANA"), "{fields:?}");
    let mut backwards = an_hour_from_now(None);
    backwards["schedule"]["ends_at"] = json!("2026-01-01T00:00:00Z");
    let fields = refused(backwards).await;
    assert_eq!(fields[0].0, "schedule.ends_at");
    assert!(fields[0].1.contains("after"), "{fields:?}");
    let mut no_workspace = an_hour_from_now(None);
    no_workspace["workspace"] = json!("");
    assert_eq!(refused(no_workspace).await[0].0, "workspace");

    // A weekly window crossing midnight in a real zone is fine.
    let created = create_window(
        &admin,
        weekly(json!(["fri", "sat"]), "22:00", "06:00", "Europe/Berlin"),
    )
    .await;
    assert_eq!(created["schedule"]["days"], json!(["fri", "sat"]));
    assert!(created["next"]["starts_at"].is_string(), "{created}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_set_or_remove_windows_and_everyone_signed_in_reads_them() {
    let app = helpers::spawn_app().await;
    let admin = app.signed_in("ada", Role::Admin).await;
    let window = create_window(&admin, an_hour_from_now(None)).await;
    let id = window["id"].as_str().expect("id");
    for (name, role) in [("vic", Role::Viewer), ("abe", Role::Approver)] {
        let client = app.signed_in(name, role).await;
        let (status, body) = client
            .send(
                Method::POST,
                "/api/v1/freeze-windows",
                Some(an_hour_from_now(None)),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}: {body}");
        let (status, _) = client
            .send(
                Method::DELETE,
                &format!("/api/v1/freeze-windows/{id}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}");
        let (status, list) = client.get("/api/v1/freeze-windows").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["items"][0]["id"], window["id"]);
    }
    let (status, _) = app.client().get("/api/v1/freeze-windows").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
