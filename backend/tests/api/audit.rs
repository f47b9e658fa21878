use crate::helpers::{spawn_app, Client, TestApp, PASSWORD};
use backend::audit::{self, AuditEvent, Verdict};
use chrono::{DateTime, Utc};
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};
use shared::audit::AuditAction;
use shared::Role;

/// Changes event `id` behind the chain's back, as a superuser could.
async fn tamper(app: &TestApp, id: i64) {
    let statement =
        format!("update audit_events set details = '{{\"role\":\"admin\"}}' where id = {id}");
    crate::common::as_superuser_without_the_trigger(&app.db, &[&statement]).await;
}

/// Appends one event as the app would, returning its id.
async fn record(
    app: &TestApp,
    actor: &str,
    action: AuditAction,
    target: &str,
    details: Value,
) -> i64 {
    let mut tx = app.db.pool.begin().await.expect("begin");
    let id = audit::record(
        &mut tx,
        &AuditEvent {
            actor: actor.into(),
            action,
            target: target.into(),
            details,
        },
    )
    .await
    .expect("record");
    tx.commit().await.expect("commit");
    id
}

/// Query-string parameters, as pairs.
type Params<'a> = &'a [(&'a str, &'a str)];

/// `path` with `params` as its query string, encoded.
fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    let url = Url::parse_with_params(&format!("http://x{path}"), params).expect("url");
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The ids of every event matching `params`, read page by page (`limit` a page).
async fn ids_paged(client: &Client, params: &[(&str, &str)], limit: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let limit = limit.to_string();
        let mut query = params.to_vec();
        query.push(("limit", &limit));
        if let Some(after) = &after {
            query.push(("after", after));
        }
        let (status, page) = client.get(&with_query("/api/v1/audit", &query)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= limit.parse().expect("limit"));
        ids.extend(items.iter().map(|event| event["id"].as_i64().expect("id")));
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return ids,
        }
    }
}

async fn ids(client: &Client, params: &[(&str, &str)]) -> Vec<i64> {
    ids_paged(client, params, 500).await
}

#[tokio::test]
async fn every_sign_in_attempt_is_recorded_with_the_client_address() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Operator).await;
    let mut client = app.client();
    client.sign_in("alice", "wrong-password!").await;
    client.sign_in("Not A Name", PASSWORD).await;
    client.sign_in("alice", PASSWORD).await;
    client
        .send(reqwest::Method::DELETE, "/api/v1/session", None)
        .await;

    let events = app.audit_actions().await;
    let summary: Vec<(&str, &str)> = events
        .iter()
        .map(|(action, target, _)| (action.as_str(), target.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("user.create", "alice"),
            ("session.sign_in_failed", "alice"),
            // A name that breaks the rules may be a mistyped password: it is not recorded.
            ("session.sign_in_failed", "-"),
            ("session.sign_in", "alice"),
            ("session.sign_out", "alice"),
        ]
    );
    for (action, _, details) in &events[1..4] {
        assert_eq!(details["client_addr"], "127.0.0.1", "{action}");
    }
    assert_eq!(events[1].2["reason"], "wrong_credentials");
    assert_eq!(events[2].2["reason"], "invalid_username");
}

#[tokio::test]
async fn rate_limited_attempts_are_recorded_too() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Operator).await;
    for _ in 0..6 {
        app.client().sign_in("alice", "wrong-password!").await;
    }
    let limited = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "session.sign_in_rate_limited")
        .count();
    assert_eq!(limited, 1);
}

#[tokio::test]
async fn the_audit_table_refuses_update_delete_and_truncate() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Operator).await;
    for statement in [
        "update audit_events set actor = 'mallory'",
        "delete from audit_events",
        "truncate audit_events",
    ] {
        let err = sqlx::query(statement)
            .execute(&app.db.pool)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    assert_eq!(app.audit_actions().await.len(), 1);
}

#[tokio::test]
async fn verify_accepts_an_untouched_chain_and_names_the_first_tampered_row() {
    let app = spawn_app().await;
    for name in ["alice", "bob", "carol"] {
        app.add_user(name, Role::Viewer).await;
    }
    assert_eq!(
        audit::verify(&app.db.pool).await.expect("verify"),
        Verdict::Intact { rows: 3 }
    );
    let second: i64 =
        sqlx::query_scalar("select id from audit_events order by id offset 1 limit 1")
            .fetch_one(&app.db.pool)
            .await
            .expect("second id");
    tamper(&app, second).await;

    match audit::verify(&app.db.pool).await.expect("verify") {
        Verdict::Broken { id, .. } => assert_eq!(id, second),
        intact => panic!("tampering went unnoticed: {intact:?}"),
    }
}

#[tokio::test]
async fn concurrent_writers_keep_the_chain_linear() {
    let app = spawn_app().await;
    let writers = (0..16).map(|i| {
        let pool = app.db.pool.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.expect("begin");
            audit::record(
                &mut tx,
                &AuditEvent {
                    actor: format!("writer-{i}"),
                    action: AuditAction::SignOut,
                    target: "x".into(),
                    details: serde_json::json!({ "n": i }),
                },
            )
            .await
            .expect("record");
            tx.commit().await.expect("commit");
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.expect("writer");
    }
    assert_eq!(
        audit::verify(&app.db.pool).await.expect("verify"),
        Verdict::Intact { rows: 16 }
    );
}

#[tokio::test]
async fn an_event_rolled_back_with_its_change_leaves_no_trace() {
    let app = spawn_app().await;
    let mut tx = app.db.pool.begin().await.expect("begin");
    audit::record(
        &mut tx,
        &AuditEvent {
            actor: "alice".into(),
            action: AuditAction::UserCreate,
            target: "ghost".into(),
            details: serde_json::json!({}),
        },
    )
    .await
    .expect("record");
    tx.rollback().await.expect("rollback");
    app.add_user("bob", Role::Viewer).await;
    assert_eq!(app.audit_actions().await.len(), 1);
    assert_eq!(
        audit::verify(&app.db.pool).await.expect("verify"),
        Verdict::Intact { rows: 1 }
    );
}

const ROLLOUT: &str = "6d2c1d9e-5d0b-4f5e-9a44-3c1fb0c0a001";
const REQUEST: &str = "0b7e4a52-9f8e-4a57-b3a1-2f1c9d6e7a10";

/// A small log of the kinds the review filters on; returns the ids by name.
struct Seeded {
    traffic: i64,
    scale: i64,
    request: i64,
    rollout_start: i64,
    rollout_step: i64,
    sign_in: i64,
    between: DateTime<Utc>,
}

async fn seed(app: &TestApp) -> Seeded {
    let traffic = record(
        app,
        "alice",
        AuditAction::TrafficChange,
        "fraud",
        json!({ "before": { "blue": 100 }, "after": { "blue": 90, "green": 10 } }),
    )
    .await;
    let scale = record(
        app,
        "bob",
        AuditAction::DeploymentScale,
        "fraud/green",
        json!({ "before": { "instance_count": 1 }, "after": { "instance_count": 3 } }),
    )
    .await;
    let between = Utc::now();
    let request = record(
        app,
        "bob",
        AuditAction::ChangeRequestCreate,
        "fraud",
        json!({ "change_request_id": REQUEST, "rollout_id": ROLLOUT, "reason": "Canary 10%" }),
    )
    .await;
    let rollout_start = record(
        app,
        "alice",
        AuditAction::RolloutStart,
        "churn",
        json!({ "rollout_id": ROLLOUT, "reason": "new model" }),
    )
    .await;
    let rollout_step = record(
        app,
        "system",
        AuditAction::RolloutStepStart,
        "churn",
        json!({ "rollout_id": ROLLOUT, "step": 0 }),
    )
    .await;
    // A user named like an endpoint is not that endpoint.
    let sign_in = record(
        app,
        "fraud",
        AuditAction::SignIn,
        "fraud",
        json!({ "client_addr": "127.0.0.1" }),
    )
    .await;
    Seeded {
        traffic,
        scale,
        request,
        rollout_start,
        rollout_step,
        sign_in,
        between,
    }
}

#[tokio::test]
async fn the_log_filters_by_actor_action_endpoint_rollout_request_time_and_text() {
    let app = spawn_app().await;
    let viewer = app.signed_in("vera", Role::Viewer).await;
    let s = seed(&app).await;
    let between = s.between.to_rfc3339();
    let cases: [(Params<'_>, Vec<i64>); 9] = [
        (&[("actor", "bob")], vec![s.request, s.scale]),
        (&[("action", "rollout.start")], vec![s.rollout_start]),
        (
            &[("endpoint", "fraud")],
            vec![s.request, s.scale, s.traffic],
        ),
        (
            &[("rollout", ROLLOUT)],
            vec![s.rollout_step, s.rollout_start, s.request],
        ),
        (&[("change_request", REQUEST)], vec![s.request]),
        (
            &[("to", between.as_str()), ("actor", "alice")],
            vec![s.traffic],
        ),
        (
            &[("from", between.as_str()), ("actor", "alice")],
            vec![s.rollout_start],
        ),
        // Case-insensitive, anywhere in the event; `%` is a character, not a wildcard.
        (&[("q", "canary 10%")], vec![s.request]),
        (&[("q", "INSTANCE_COUNT")], vec![s.scale]),
    ];
    for (params, expected) in cases {
        assert_eq!(ids(&viewer, params).await, expected, "{params:?}");
    }
    assert!(ids(&viewer, &[("q", "127.0.0.1")])
        .await
        .contains(&s.sign_in));
    assert_eq!(
        ids(&viewer, &[("endpoint", "fraud"), ("actor", "alice")]).await,
        [s.traffic],
        "filters combine"
    );
}

#[tokio::test]
async fn pages_follow_the_cursor_newest_first_without_duplicates_or_gaps() {
    let app = spawn_app().await;
    let viewer = app.signed_in("vera", Role::Viewer).await;
    let mut expected = Vec::new();
    for i in 0..23 {
        let action = if i % 3 == 0 {
            AuditAction::KeysReveal
        } else {
            AuditAction::TrafficChange
        };
        let id = record(&app, "alice", action, "fraud", json!({ "n": i })).await;
        if action == AuditAction::TrafficChange {
            expected.push(id);
        }
    }
    expected.reverse();
    let params = [("action", "traffic.change")];
    for limit in [1, 4, 15, 500] {
        assert_eq!(
            ids_paged(&viewer, &params, limit).await,
            expected,
            "limit {limit}"
        );
    }

    // Events written while a reader pages on do not shift the pages it has yet to read.
    let (_, first) = viewer
        .get(&with_query(
            "/api/v1/audit",
            &[("action", "traffic.change"), ("limit", "5")],
        ))
        .await;
    record(
        &app,
        "alice",
        AuditAction::TrafficChange,
        "fraud",
        json!({}),
    )
    .await;
    let after = first["next"].as_str().expect("next");
    let (_, second) = viewer
        .get(&with_query(
            "/api/v1/audit",
            &[
                ("action", "traffic.change"),
                ("limit", "5"),
                ("after", after),
            ],
        ))
        .await;
    let read: Vec<i64> = [&first, &second]
        .iter()
        .flat_map(|page| page["items"].as_array().expect("items").clone())
        .map(|event| event["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(read, expected[..10]);
}

#[tokio::test]
async fn bad_filters_a_bad_cursor_and_a_bad_format_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let viewer = app.signed_in("vera", Role::Viewer).await;
    let cases: [(&str, Params<'_>, &str); 7] = [
        ("/api/v1/audit", &[("after", "yesterday")], "after"),
        ("/api/v1/audit", &[("from", "2026-13-40")], "from"),
        ("/api/v1/audit", &[("to", "noon")], "to"),
        ("/api/v1/audit", &[("action", "traffic.teleport")], "action"),
        ("/api/v1/audit", &[("rollout", "42")], "rollout"),
        ("/api/v1/audit/export", &[("format", "xml")], "format"),
        (
            "/api/v1/audit/export",
            &[("change_request", "x")],
            "change_request",
        ),
    ];
    for (path, params, field) in cases {
        let (status, body) = viewer.get(&with_query(path, params)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{params:?}: {body}"
        );
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["error"]["fields"][0]["field"], field, "{body}");
        assert!(body["error"]["request_id"].is_string());
    }
}

/// The raw response of an export: status, content type, body text.
async fn export(client: &Client, params: &[(&str, &str)]) -> (StatusCode, String, String) {
    let response = client
        .http
        .get(format!(
            "{}{}",
            client.base,
            with_query("/api/v1/audit/export", params)
        ))
        .send()
        .await
        .expect("export");
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("body"))
}

#[tokio::test]
async fn the_filtered_set_exports_as_json_lines_and_as_csv_oldest_first() {
    let app = spawn_app().await;
    let viewer = app.signed_in("vera", Role::Viewer).await;
    let s = seed(&app).await;
    let tricky = record(
        &app,
        "alice",
        AuditAction::ChangeRequestReject,
        "fraud",
        json!({ "change_request_id": REQUEST, "comment": "no, \"not\" now,\nsorry" }),
    )
    .await;

    let (status, content_type, body) = export(&viewer, &[("change_request", REQUEST)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/x-ndjson");
    let lines: Vec<Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], s.request);
    assert_eq!(lines[1]["id"], tricky);
    assert_eq!(lines[1]["details"]["comment"], "no, \"not\" now,\nsorry");

    let (status, content_type, body) =
        export(&viewer, &[("change_request", REQUEST), ("format", "csv")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let (header, rows) = body.split_once("\r\n").expect("a header row");
    assert_eq!(header, "id,at,actor,action,target,details");
    assert!(rows.starts_with(&format!("{},", s.request)), "{rows}");
    // The details column holds a comma, quotes and a line break: quoted, quotes doubled.
    let last = rows
        .split(&format!("\r\n{tricky},"))
        .nth(1)
        .expect("the tricky row");
    let expected = format!(
        ",alice,change_request.reject,fraud,{}\r\n",
        r#""{""change_request_id"":""0b7e4a52-9f8e-4a57-b3a1-2f1c9d6e7a10"",""comment"":""no, \""not\"" now,\nsorry""}""#
    );
    assert!(last.ends_with(&expected), "{last}");

    let (status, _, body) = export(&viewer, &[("actor", "nobody"), ("format", "csv")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "id,at,actor,action,target,details\r\n");
    let (status, _, _) = export(&app.client(), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn chain_state(client: &Client) -> Value {
    let (status, state) = client.get("/api/v1/audit/chain").await;
    assert_eq!(status, StatusCode::OK, "{state}");
    state
}

#[tokio::test]
async fn the_chain_state_is_verified_up_to_the_newest_event_and_extends_as_events_come() {
    let app = spawn_app().await;
    let viewer = app.signed_in("vera", Role::Viewer).await;
    let state = chain_state(&viewer).await;
    let newest: i64 = sqlx::query_scalar("select max(id) from audit_events")
        .fetch_one(&app.db.pool)
        .await
        .expect("newest");
    assert_eq!(state["verified_up_to"], newest);
    assert_eq!(state["verified_events"], 2, "user.create, session.sign_in");
    assert!(state["verified_event_at"].is_string());
    assert!(state["broken"].is_null());

    let added = record(&app, "alice", AuditAction::SignOut, "alice", json!({})).await;
    let state = chain_state(&viewer).await;
    assert_eq!(state["verified_up_to"], added);
    assert_eq!(state["verified_events"], 3);
}

#[tokio::test]
async fn a_tampered_event_is_reported_as_the_first_broken_one() {
    let app = spawn_app().await;
    let viewer = app.signed_in("vera", Role::Viewer).await;
    let s = seed(&app).await;
    tamper(&app, s.scale).await;
    let state = chain_state(&viewer).await;
    assert_eq!(state["broken"]["id"], s.scale, "{state}");
    assert!(state["broken"]["reason"]
        .as_str()
        .is_some_and(|reason| reason.contains("hash")));
    assert_eq!(
        state["verified_events"], 0,
        "nothing was verified before the break"
    );
    // It stays reported as new events arrive.
    record(&app, "alice", AuditAction::SignOut, "alice", json!({})).await;
    assert_eq!(chain_state(&viewer).await["broken"]["id"], s.scale);
}

#[tokio::test]
async fn a_row_changed_below_the_verified_head_is_caught_at_the_head_on_the_next_look() {
    let app = spawn_app().await;
    let viewer = app.signed_in("vera", Role::Viewer).await;
    let s = seed(&app).await;
    assert!(chain_state(&viewer).await["broken"].is_null());
    // Changing the newest verified row is seen when the view resumes from it.
    tamper(&app, s.sign_in).await;
    assert_eq!(chain_state(&viewer).await["broken"]["id"], s.sign_in);
}
