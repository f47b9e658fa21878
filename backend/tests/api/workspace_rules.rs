//! The workspace routes' rules: concurrent and stale traffic changes, Azure's split rules with
//! the same messages the console shows, roles, keys, failures from the workspace, bad input.

use crate::common::endpoint_name;
use crate::helpers::{
    self, deployment_request as deployment, spawn_app_with_workspace, Client, LocalWorkspace,
    TestApp, CORRUPT_MODEL,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;

const ENDPOINT: &str = "rules";

/// An endpoint with blue (v1) at 100 % and green (v2) at 0 %.
async fn blue_and_green() -> (TestApp, LocalWorkspace, Client) {
    helpers::blue_and_green(ENDPOINT, json!({})).await
}

async fn traffic(client: &Client) -> Value {
    let (status, body) = client
        .get(&format!("/api/v1/endpoints/{ENDPOINT}/traffic"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Asks for a traffic change (with a reason, unless `body` has one).
async fn put_traffic(client: &Client, mut body: Value) -> (StatusCode, Value) {
    if body.get("reason").is_none() {
        body["reason"] = json!(helpers::REASON);
    }
    client
        .send(
            Method::PUT,
            &format!("/api/v1/endpoints/{ENDPOINT}/traffic"),
            Some(body),
        )
        .await
}

async fn workspace_traffic(workspace: &LocalWorkspace) -> Value {
    let endpoint = workspace
        .client
        .get_endpoint(&endpoint_name(ENDPOINT))
        .await
        .expect("endpoint");
    json!({
        "traffic": endpoint.properties.traffic,
        "mirror": endpoint.properties.mirror_traffic,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_and_stale_traffic_changes_never_overwrite_silently() {
    let (app, workspace, operator) = blue_and_green().await;
    let approver = app.approver().await;
    let seen = traffic(&operator).await;
    let version = seen["version"].clone();

    // Two requests from the same version: both wait for approval; the first one approved is
    // applied, and the second, approved after, is stale and not applied.
    let (s1, first) = put_traffic(
        &operator,
        json!({ "traffic": { "blue": 90, "green": 10 }, "version": version }),
    )
    .await;
    let (s2, second) = put_traffic(
        &operator,
        json!({ "traffic": { "blue": 50, "green": 50 }, "version": version }),
    )
    .await;
    assert_eq!(
        (s1, s2),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED),
        "{first} / {second}"
    );
    let approve = |request: &Value| {
        let path = format!(
            "/api/v1/change-requests/{}/approve",
            request["id"].as_str().expect("id")
        );
        let approver = &approver;
        async move { approver.send(Method::POST, &path, Some(json!({}))).await }
    };
    let (status, applied) = approve(&first).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    let ended = operator
        .finish(&json!({ "id": applied["operation_id"] }))
        .await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    let (status, stale_request) = approve(&second).await;
    assert_eq!(status, StatusCode::OK, "{stale_request}");
    assert_eq!(stale_request["state"], "stale", "{stale_request}");
    assert_eq!(stale_request["operation_id"], Value::Null);
    assert_eq!(
        stale_request["stale"]["send"]["traffic"],
        json!({ "blue": 90, "green": 10 })
    );
    // The audit log says who found it stale, what it expected and what it found instead.
    let stale_events: Vec<(String, Value)> = sqlx::query_as(
        "select actor, details from audit_events where action = 'change_request.stale'",
    )
    .fetch_all(&app.db.pool)
    .await
    .expect("read the audit log");
    assert_eq!(stale_events.len(), 1, "{stale_events:?}");
    let (actor, details) = &stale_events[0];
    assert_eq!(actor, helpers::APPROVER, "the approval that found it stale");
    assert_eq!(details["change_request_id"], second["id"], "{details}");
    let share = |split: &Value, name: &str| split["traffic"][name].as_i64().unwrap_or(0);
    assert_eq!(
        (
            share(&details["before"], "blue"),
            share(&details["before"], "green")
        ),
        (100, 0),
        "expected: {details}"
    );
    assert_eq!(
        (
            share(&details["found"], "blue"),
            share(&details["found"], "green")
        ),
        (90, 10),
        "found instead: {details}"
    );

    // The workspace holds exactly the first change.
    let now = traffic(&operator).await;
    let held = workspace_traffic(&workspace).await;
    assert_eq!(held["traffic"], now["traffic"]);
    assert_eq!(now["traffic"], json!({ "blue": 90, "green": 10 }), "{now}");

    // A change from the old version, sent after the other one landed: 409 with the current.
    let (status, stale) = put_traffic(
        &operator,
        json!({ "traffic": { "blue": 0, "green": 100 }, "version": version }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{stale}");
    assert_eq!(stale["error"]["current"]["traffic"], now["traffic"]);
    assert_eq!(stale["error"]["current"]["version"], now["version"]);
    assert_eq!(workspace_traffic(&workspace).await, held, "nothing changed");

    // The version also travels as ETag / If-Match.
    let response = operator
        .http
        .get(format!(
            "{}/api/v1/endpoints/{ENDPOINT}/traffic",
            operator.base
        ))
        .send()
        .await
        .expect("request");
    let etag = response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("an ETag");
    assert_eq!(
        etag,
        format!("\"{}\"", now["version"].as_str().expect("version"))
    );
    let response = operator
        .http
        .put(format!(
            "{}/api/v1/endpoints/{ENDPOINT}/traffic",
            operator.base
        ))
        .header(
            shared::api::CSRF_HEADER,
            operator.csrf.as_deref().expect("csrf"),
        )
        .header(reqwest::header::IF_MATCH, etag)
        .json(&json!({ "traffic": { "blue": 100, "green": 0 }, "reason": "back to blue" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let requested: Value = response.json().await.expect("change request");
    let (status, applied) = approve(&requested).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    let ended = operator
        .finish(&json!({ "id": applied["operation_id"] }))
        .await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(traffic(&operator).await["traffic"]["blue"], 100);
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splits_azure_would_refuse_are_refused_first_with_the_shared_messages() {
    let (_app, workspace, operator) = blue_and_green().await;
    let before = workspace_traffic(&workspace).await;
    let version = traffic(&operator).await["version"].clone();

    let (status, body) = put_traffic(
        &operator,
        json!({ "traffic": { "blue": 60, "green": 30 }, "version": version }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(body["error"]["fields"][0]["field"], "traffic");
    assert_eq!(
        body["error"]["fields"][0]["message"],
        "traffic must add up to 100 (got 90)"
    );

    let (status, body) = put_traffic(
        &operator,
        json!({ "traffic": { "blue": 100 }, "mirror_traffic": { "green": 60 }, "version": version }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "mirror_traffic.green");
    assert_eq!(
        body["error"]["fields"][0]["message"],
        "mirror traffic share must be between 0 and 50 (got 60)"
    );
    let expected = shared::check_traffic(
        &[("blue".to_owned(), 100)].into_iter().collect(),
        &[("green".to_owned(), 60)].into_iter().collect(),
        &["blue", "green"],
    )
    .expect_err("the shared rule refuses it too");
    assert_eq!(body["error"]["fields"][0]["message"], expected[0].message);

    let (status, body) = put_traffic(
        &operator,
        json!({ "traffic": { "blue": 90, "purple": 10 }, "version": version }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "traffic.purple");

    let (status, body) = put_traffic(&operator, json!({ "traffic": { "blue": 100 } })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "version");

    // A deployment that still takes traffic can't be deleted.
    let (status, body) = operator
        .send(
            Method::DELETE,
            &format!("/api/v1/endpoints/{ENDPOINT}/deployments/blue?reason=cleanup"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "traffic.blue");

    assert_eq!(
        workspace_traffic(&workspace).await,
        before,
        "nothing changed"
    );
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_read_operators_change_and_keys_are_masked_until_revealed() {
    let (app, workspace, operator) = blue_and_green().await;
    let viewer = app.signed_in("vera", Role::Viewer).await;
    let base = format!("/api/v1/endpoints/{ENDPOINT}");
    for path in [
        base.clone(),
        format!("{base}/deployments"),
        format!("{base}/deployments/blue"),
        format!("{base}/traffic"),
        format!("{base}/keys"),
        format!("{base}/metrics"),
        format!("{base}/deployments/blue/logs"),
        "/api/v1/assets/models".to_owned(),
        "/api/v1/operations".to_owned(),
        "/api/v1/audit".to_owned(),
    ] {
        let (status, body) = viewer.get(&path).await;
        assert_eq!(status, StatusCode::OK, "viewer reads {path}: {body}");
    }
    let version = traffic(&viewer).await["version"].clone();
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/endpoints".to_owned(),
            json!({ "name": "other" }),
        ),
        (Method::DELETE, base.clone(), Value::Null),
        (
            Method::POST,
            format!("{base}/deployments"),
            deployment("red", "regression-v1"),
        ),
        (
            Method::PATCH,
            format!("{base}/deployments/blue"),
            json!({ "instance_count": 2 }),
        ),
        (
            Method::DELETE,
            format!("{base}/deployments/green"),
            Value::Null,
        ),
        (
            Method::PUT,
            format!("{base}/traffic"),
            json!({ "traffic": { "green": 100 }, "version": version }),
        ),
        (
            Method::POST,
            format!("{base}/invoke"),
            json!({ "body": {} }),
        ),
        (Method::POST, format!("{base}/keys/reveal"), Value::Null),
        (
            Method::POST,
            format!("{base}/keys/regenerate"),
            json!({ "key": "primary" }),
        ),
    ] {
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = viewer.send(method.clone(), &path, body).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "viewer {method} {path}: {answer}"
        );
        assert_eq!(answer["error"]["code"], "forbidden");
    }

    let real = workspace
        .client
        .list_keys(&endpoint_name(ENDPOINT))
        .await
        .expect("keys");
    let primary = real.primary_key.expect("primary key");
    let (_, masked) = viewer.get(&format!("{base}/keys")).await;
    assert_eq!(masked["masked"], true);
    let shown = masked["primary_key"].as_str().expect("masked key");
    assert!(!shown.contains(&primary) && shown.ends_with(&primary[primary.len() - 4..]));

    let (status, revealed) = operator
        .send(Method::POST, &format!("{base}/keys/reveal"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{revealed}");
    assert_eq!(revealed["primary_key"], primary.as_str());

    operator
        .run(
            Method::POST,
            &format!("{base}/keys/regenerate"),
            Some(json!({ "key": "primary" })),
        )
        .await;
    let after = workspace
        .client
        .list_keys(&endpoint_name(ENDPOINT))
        .await
        .expect("keys");
    assert_ne!(after.primary_key.as_deref(), Some(primary.as_str()));
    assert_eq!(after.secondary_key, real.secondary_key);

    // Both are audited, and no key is in the log.
    let log = app.audit_actions().await;
    let actions: Vec<&str> = log.iter().map(|(a, _, _)| a.as_str()).collect();
    assert!(actions.contains(&"keys.reveal") && actions.contains(&"keys.regenerate"));
    let text = serde_json::to_string(&log).expect("json");
    assert!(!text.contains(&primary));
    if let Some(new) = after.primary_key {
        assert!(!text.contains(&new));
    }
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_that_fails_in_the_workspace_ends_with_azures_message() {
    let (app, workspace) = spawn_app_with_workspace().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    // A code asset whose init() raises, registered in the workspace directly.
    let _code = workspace.register_code("broken", CORRUPT_MODEL).await;

    operator
        .run(
            Method::POST,
            "/api/v1/endpoints",
            Some(json!({ "name": "broken" })),
        )
        .await;
    let mut request = deployment("blue", "regression-v1");
    request["code"] = json!("azureml:broken:1");
    let (status, started) = operator
        .send(
            Method::POST,
            "/api/v1/endpoints/broken/deployments",
            Some(request),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let ended = operator.finish(&started).await;
    assert_eq!(ended["status"], "failed", "{ended}");
    let message = ended["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("model file is corrupt"), "{ended}");
    assert!(ended["error"]["code"].is_string());
    let log = app.audit_actions().await;
    let (_, _, details) = log
        .iter()
        .find(|(a, _, _)| a == "deployment.create")
        .expect("the failure is audited");
    assert_eq!(details["outcome"], "failed");
    assert!(details["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("model file is corrupt")));
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_naming_the_field_before_the_workspace_is_asked() {
    let (app, workspace) = spawn_app_with_workspace().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    let cases = [
        (
            Method::POST,
            "/api/v1/endpoints".to_owned(),
            json!({ "name": "x" }),
            "name",
        ),
        (
            Method::POST,
            "/api/v1/endpoints/nope/deployments".to_owned(),
            json!({ "name": "blue", "model": "regression", "instance_type": "Standard_DS3_v2", "instance_count": 0 }),
            "model",
        ),
        (
            Method::POST,
            "/api/v1/endpoints/a/deployments".to_owned(),
            deployment("blue", "regression-v1"),
            "endpoint",
        ),
        (
            Method::PATCH,
            "/api/v1/endpoints/nope/deployments/blue".to_owned(),
            json!({ "instance_count": 51 }),
            "instance_count",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, answer) = operator.send(method.clone(), &path, Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path}: {answer}"
        );
        assert_eq!(answer["error"]["fields"][0]["field"], field, "{answer}");
    }
    let (status, answer) = operator.get("/api/v1/audit?limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["fields"][0]["field"], "limit");
    let (status, answer) = operator.get("/api/v1/audit?limit=many").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("limit")));
    let (status, _) = operator.get("/api/v1/assets/gadgets").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = operator.get("/api/v1/operations/not-a-uuid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing reached the workspace.
    assert!(workspace
        .client
        .list_endpoints()
        .await
        .expect("list")
        .is_empty());
    let (status, _) = operator
        .send(
            Method::POST,
            "/api/v1/endpoints/nope/invoke",
            Some(json!({ "body": {}, "deployment": "../x" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Assets the forms offer: the demo models and their code.
    let (status, models) = operator.get("/api/v1/assets/models").await;
    assert_eq!(status, StatusCode::OK, "{models}");
    let references: Vec<&str> = models["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|m| m["reference"].as_str())
        .collect();
    assert!(references.contains(&"azureml:regression-v1:1"), "{models}");
    assert!(references.contains(&"azureml:regression-v2:1"), "{models}");
    let (_, codes) = operator.get("/api/v1/assets/codes").await;
    assert!(!codes["items"].as_array().expect("items").is_empty());
    workspace.emulator.shutdown().await;
}
