//! Outgoing webhooks: an admin sets one up; change-request and rollout events reach a receiver
//! on loopback, signed with HMAC-SHA256, retried with backoff, logged; the secret stays
//! write-only.

use crate::helpers::{self, Client, TestApp, APPROVER};
use crate::webhook_receiver::Receiver;
use backend::app::AppSettings;
use backend::webhooks::NotifierSettings;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;
use std::time::Duration;

const SECRET: &str = "a-shared-secret-for-tests";
const PUBLIC_URL: &str = "https://greenlight.example";

/// Quick rounds and short retry delays, so retries take milliseconds, not minutes.
fn quick(settings: &mut AppSettings) {
    settings.public_url = Some(PUBLIC_URL.to_owned());
    settings.webhooks = NotifierSettings {
        retry_delays: vec![Duration::from_millis(50); 2],
        timeout: Duration::from_secs(5),
        poll: Duration::from_millis(50),
    };
}

async fn create_webhook(admin: &Client, url: &str, events: &[&str], format: &str) -> Value {
    let (status, created) = admin
        .send(
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({ "url": url, "events": events, "secret": SECRET, "format": format })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// Has operator `olga` create endpoint `name` (no deployments) and ask to delete it; returns
/// the pending change request.
async fn request_endpoint_delete(app: &TestApp, name: &str) -> Value {
    let operator = app.signed_in("olga", Role::Operator).await;
    operator.create_endpoint_with(name, &[]).await;
    let (status, request) = operator
        .send(
            Method::DELETE,
            &format!("/api/v1/endpoints/{name}?reason=retire"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{request}");
    request
}

async fn deliveries(admin: &Client, webhook: &Value) -> Value {
    let id = webhook["id"].as_str().expect("webhook id");
    let (status, page) = admin
        .get(&format!("/api/v1/webhooks/{id}/deliveries"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

/// Waits until the webhook's newest delivery is no longer pending; returns it.
async fn settled(admin: &Client, webhook: &Value) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = deliveries(admin, webhook).await;
        let newest = &page["items"][0];
        if newest["state"] != "pending" && !newest.is_null() {
            return newest.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still pending: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_created_and_approved_change_request_reaches_the_receiver_signed() {
    let (app, _workspace) = helpers::spawn_app_with_workspace_tuned(quick).await;
    let receiver = Receiver::start(SECRET, &[]).await;
    let admin = app.signed_in("root", Role::Admin).await;
    let webhook = create_webhook(
        &admin,
        &receiver.url,
        &["change_request.created", "change_request.approved"],
        "json",
    )
    .await;

    let request = request_endpoint_delete(&app, "hooked").await;
    let id = request["id"].as_str().expect("request id");
    let (status, decided) = app
        .approver()
        .await
        .send(
            Method::POST,
            &format!("/api/v1/change-requests/{id}/approve"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decided}");

    // Deliveries may arrive in any order (each is sent on its own); the body says when.
    let mut received = receiver.wait_for(2).await;
    received.sort_by_key(|r| r.body["audit_event_id"].as_i64());
    let events: Vec<&str> = received.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(
        events,
        ["change_request.created", "change_request.approved"]
    );
    for (delivery, actor) in received.iter().zip(["olga", APPROVER]) {
        assert!(delivery.signature_ok, "bad signature: {delivery:?}");
        let body = &delivery.body;
        assert_eq!(body["event"], delivery.event.as_str());
        assert_eq!(body["actor"], actor, "{body}");
        assert_eq!(body["endpoint"], "hooked", "{body}");
        assert_eq!(body["change_request_id"], id, "{body}");
        assert!(body["workspace"].is_string(), "{body}");
        assert_eq!(body["link"], format!("{PUBLIC_URL}/endpoints/hooked"));
        assert!(body["audit_event_id"].is_i64(), "{body}");
    }
    // Each is logged as delivered, at the first attempt, with the receiver's status.
    let page = deliveries(&admin, &webhook).await;
    let logged = page["items"].as_array().expect("items");
    assert_eq!(logged.len(), 2, "{page}");
    for row in logged {
        assert_eq!(row["state"], "delivered", "{row}");
        assert_eq!(row["attempts"], 1, "{row}");
        assert_eq!(row["last_status"], 200, "{row}");
        assert_eq!(row["endpoint"], "hooked", "{row}");
    }
    let mut ids: Vec<String> = received.iter().map(|r| r.delivery.clone()).collect();
    let mut logged_ids: Vec<String> = logged.iter().map(|r| r["id"].to_string()).collect();
    ids.sort();
    logged_ids.sort();
    assert_eq!(ids, logged_ids);
}

#[tokio::test]
async fn the_slack_format_sends_text_with_a_deep_link_to_the_request() {
    let (app, _workspace) = helpers::spawn_app_with_workspace_tuned(quick).await;
    let receiver = Receiver::start(SECRET, &[]).await;
    let admin = app.signed_in("root", Role::Admin).await;
    create_webhook(&admin, &receiver.url, &["change_request.created"], "slack").await;

    request_endpoint_delete(&app, "chatty").await;

    let received = receiver.wait_for(1).await;
    assert!(received[0].signature_ok, "{:?}", received[0]);
    let text = received[0].body["text"].as_str().expect("a text field");
    assert!(
        text.contains(&format!(
            "<{PUBLIC_URL}/endpoints/chatty|Open in Greenlight>"
        )),
        "{text}"
    );
    assert!(
        text.starts_with("Change request created on endpoint chatty by olga"),
        "{text}"
    );
}

#[tokio::test]
async fn a_delivery_answered_500_twice_is_delivered_on_the_third_attempt() {
    let app = helpers::spawn_app_tuned(quick).await;
    let receiver = Receiver::start(SECRET, &[500, 500]).await;
    let admin = app.signed_in("root", Role::Admin).await;
    let webhook = create_webhook(&admin, &receiver.url, &["rollout.rollback"], "json").await;
    let id = webhook["id"].as_str().expect("id");

    let (status, queued) = admin
        .send(Method::POST, &format!("/api/v1/webhooks/{id}/test"), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["event"], "ping");

    let delivery = settled(&admin, &webhook).await;
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    assert_eq!(delivery["attempts"], 3, "{delivery}");
    assert_eq!(delivery["last_status"], 200, "{delivery}");
    let received = receiver.received();
    assert_eq!(received.len(), 3, "{received:?}");
    for attempt in &received {
        assert!(attempt.signature_ok, "{attempt:?}");
        assert_eq!(attempt.delivery, delivery["id"].to_string());
        assert_eq!(attempt.event, "ping");
    }
}

#[tokio::test]
async fn a_delivery_fails_when_its_retries_run_out() {
    let app = helpers::spawn_app_tuned(quick).await;
    let receiver = Receiver::start(SECRET, &[503, 503, 503, 503]).await;
    let admin = app.signed_in("root", Role::Admin).await;
    let webhook = create_webhook(&admin, &receiver.url, &["rollout.rollback"], "json").await;
    let id = webhook["id"].as_str().expect("id");
    admin
        .send(Method::POST, &format!("/api/v1/webhooks/{id}/test"), None)
        .await;

    let delivery = settled(&admin, &webhook).await;
    // Two retry delays: three attempts, then it has failed.
    assert_eq!(delivery["state"], "failed", "{delivery}");
    assert_eq!(delivery["attempts"], 3, "{delivery}");
    assert_eq!(delivery["last_status"], 503, "{delivery}");
    assert!(delivery["next_attempt_at"].is_null(), "{delivery}");
    assert_eq!(receiver.received().len(), 3);
}

#[tokio::test]
async fn webhook_settings_that_break_a_rule_are_refused_naming_the_field() {
    let app = helpers::spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let good = json!({
        "url": "https://hooks.example.com/x",
        "events": ["change_request.created"],
        "secret": SECRET,
    });
    let cases = [
        ("url", json!("ftp://hooks.example.com")),
        ("url", json!("/relative")),
        (
            "events[1]",
            json!(["change_request.created", "traffic.teleport"]),
        ),
        ("events", json!([])),
        ("format", json!("xml")),
        ("secret", json!("short")),
    ];
    for (field, value) in cases {
        let key = field.split('[').next().expect("a key");
        let mut body = good.clone();
        body[key] = value;
        let (status, error) = admin
            .send(Method::POST, "/api/v1/webhooks", Some(body))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {error}");
        assert_eq!(error["error"]["fields"][0]["field"], field, "{error}");
    }
    // Only admins manage webhooks.
    let operator = app.signed_in("olga", Role::Operator).await;
    let (status, _) = operator
        .send(Method::POST, "/api/v1/webhooks", Some(good.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = operator.get("/api/v1/webhooks").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An update needs something to change, and its fields follow the same rules.
    let (_, created) = admin
        .send(Method::POST, "/api/v1/webhooks", Some(good))
        .await;
    let path = format!("/api/v1/webhooks/{}", created["id"].as_str().expect("id"));
    let (status, error) = admin.send(Method::PATCH, &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let (status, error) = admin
        .send(Method::PATCH, &path, Some(json!({ "events": ["nope"] })))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["fields"][0]["field"], "events[0]");
}

#[tokio::test]
async fn the_secret_is_write_only_and_the_audit_log_keeps_only_the_urls_origin() {
    let app = helpers::spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let url = "https://hooks.example.com/services/T000/B000/url-secret-part";
    let created = create_webhook(&admin, url, &["rollout.gate_failed"], "teams").await;
    let path = format!("/api/v1/webhooks/{}", created["id"].as_str().expect("id"));
    let new_secret = "another-secret-of-length";
    let (status, updated) = admin
        .send(
            Method::PATCH,
            &path,
            Some(json!({ "secret": new_secret, "enabled": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["enabled"], false);
    let (_, listed) = admin.get("/api/v1/webhooks").await;
    for answer in [&created, &updated, &listed] {
        let text = answer.to_string();
        assert!(
            !text.contains(SECRET) && !text.contains(new_secret),
            "{text}"
        );
        assert!(answer.get("secret").is_none(), "{text}");
    }
    assert_eq!(listed["items"][0]["format"], "teams");
    let (status, _) = admin.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = admin.get(&format!("{path}/deliveries")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let audit = app.audit_actions().await;
    let webhook_rows: Vec<&(String, String, Value)> = audit
        .iter()
        .filter(|(action, _, _)| action.starts_with("webhook."))
        .collect();
    let actions: Vec<&str> = webhook_rows.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["webhook.create", "webhook.update", "webhook.delete"]
    );
    assert_eq!(webhook_rows[1].2["secret_changed"], true);
    assert_eq!(webhook_rows[0].2["url_origin"], "https://hooks.example.com");
    for (_, target, details) in &audit {
        let text = format!("{target} {details}");
        assert!(
            !text.contains(SECRET) && !text.contains(new_secret),
            "{text}"
        );
        assert!(!text.contains("url-secret-part"), "{text}");
    }
}
