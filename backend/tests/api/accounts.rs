//! Accounts a team can run: one-time passwords changed at first sign-in, role changes and
//! disabled accounts that take effect at once, password resets — each audited.

use crate::helpers::{spawn_app, Client, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;

const ONE_TIME: &str = "one-time-password-1";
const OWN: &str = "my-own-password-22";

/// An admin creates `name` with a one-time password; returns the admin's client.
async fn admin_creates(app: &TestApp, name: &str, role: &str) -> Client {
    let admin = app.signed_in("root", Role::Admin).await;
    let (status, body) = admin
        .send(
            Method::POST,
            "/api/v1/users",
            Some(json!({ "username": name, "role": role, "password": ONE_TIME })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["must_change_password"], true);
    admin
}

async fn signed_in_as(app: &TestApp, name: &str, password: &str) -> (Client, Value) {
    let mut client = app.client();
    let (status, session) = client.sign_in(name, password).await;
    assert_eq!(status, StatusCode::OK, "{name}: {session}");
    (client, session)
}

async fn change_password(client: &Client, current: &str, new: &str) -> (StatusCode, Value) {
    client
        .send(
            Method::PUT,
            "/api/v1/session/password",
            Some(json!({ "current_password": current, "new_password": new })),
        )
        .await
}

async fn patch_user(admin: &Client, name: &str, body: Value) -> (StatusCode, Value) {
    admin
        .send(Method::PATCH, &format!("/api/v1/users/{name}"), Some(body))
        .await
}

fn audited<'a>(
    events: &'a [(String, String, Value)],
    action: &str,
    target: &str,
) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|(a, t, _)| a == action && t == target)
        .map(|(_, _, details)| details)
        .collect()
}

#[tokio::test]
async fn a_one_time_password_admits_nothing_but_changing_it() {
    let app = spawn_app().await;
    admin_creates(&app, "dave", "operator").await;
    let (dave, session) = signed_in_as(&app, "dave", ONE_TIME).await;
    assert_eq!(session["user"]["must_change_password"], true);

    for path in ["/api/v1/about", "/api/v1/audit", "/api/v1/events"] {
        let (status, body) = dave.get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["error"]["code"], "password_change_required", "{path}");
    }
    let (status, _) = dave.get("/api/v1/session").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the console may still read who is signed in"
    );

    let (status, body) = change_password(&dave, ONE_TIME, ONE_TIME).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["field"], "new_password");
    let (status, body) = change_password(&dave, "not-the-current-one", OWN).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["field"], "current_password");

    let (status, _) = change_password(&dave, ONE_TIME, OWN).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, session) = dave.get("/api/v1/session").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["user"]["must_change_password"], false);
    let (status, _) = dave.get("/api/v1/about").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same session goes on with the new password"
    );

    let (status, _) = app.client().sign_in("dave", ONE_TIME).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the one-time password is spent"
    );
    signed_in_as(&app, "dave", OWN).await;
    let events = app.audit_actions().await;
    let changed = audited(&events, "user.password_change", "dave");
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["was_one_time"], true);
    let failed = audited(&events, "session.sign_in_failed", "dave");
    assert!(failed
        .iter()
        .any(|d| d["reason"] == "wrong_current_password"));
    let text = serde_json::to_string(&events).expect("json");
    assert!(
        !text.contains(ONE_TIME) && !text.contains(OWN),
        "no password in the audit log"
    );
}

#[tokio::test]
async fn changing_your_password_ends_your_other_sessions() {
    let app = spawn_app().await;
    let laptop = app.signed_in("olga", Role::Operator).await;
    let (phone, _) = signed_in_as(&app, "olga", PASSWORD).await;
    let (status, _) = change_password(&laptop, PASSWORD, OWN).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = phone.get("/api/v1/session").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the other session ended");
    let (status, _) = laptop.get("/api/v1/about").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the session that changed it goes on"
    );
    let events = app.audit_actions().await;
    let changed = audited(&events, "user.password_change", "olga");
    assert_eq!(changed[0]["other_sessions_ended"], 1);
}

#[tokio::test]
async fn wrong_current_passwords_count_towards_the_sign_in_limit() {
    let app = spawn_app().await;
    let olga = app.signed_in("olga", Role::Operator).await;
    for _ in 0..5 {
        let (status, _) = change_password(&olga, "wrong-password-guess", OWN).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, body) = change_password(&olga, PASSWORD, OWN).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (status, _) = app.client().sign_in("olga", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the account's limit is shared"
    );
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions_at_once_and_refuses_sign_in() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let vic = app.signed_in("vic", Role::Viewer).await;
    let mut stream = vic
        .http
        .get(format!("{}/api/v1/events", vic.base))
        .send()
        .await
        .expect("open the stream");
    assert_eq!(stream.status(), StatusCode::OK);

    let (status, body) = patch_user(&admin, "vic", json!({ "disabled": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["disabled"], true);
    let (status, _) = vic.get("/api/v1/about").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the open session ended");
    let (status, body) = app.client().sign_in("vic", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error"]["code"], "invalid_credentials",
        "nothing told to an outsider"
    );
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while stream.chunk().await.ok().flatten().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the event stream ends with the session");

    let (status, body) = patch_user(&admin, "vic", json!({ "disabled": false })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["disabled"], false);
    signed_in_as(&app, "vic", PASSWORD).await;

    let events = app.audit_actions().await;
    let disabled = audited(&events, "user.disable", "vic");
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0]["sessions_ended"], 1);
    assert_eq!(audited(&events, "user.enable", "vic").len(), 1);
    let refused = audited(&events, "session.sign_in_failed", "vic");
    assert!(refused.iter().any(|d| d["reason"] == "account_disabled"));
}

#[tokio::test]
async fn a_role_change_applies_to_the_next_request_and_is_audited() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let olga = app.signed_in("olga", Role::Operator).await;
    let (status, body) = patch_user(&admin, "olga", json!({ "role": "viewer" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "viewer");
    let (status, body) = olga
        .send(
            Method::POST,
            "/api/v1/endpoints",
            Some(json!({ "name": "after-demotion" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, session) = olga.get("/api/v1/session").await;
    assert_eq!(session["user"]["role"], "viewer");

    // The same role again changes nothing and records nothing.
    let (status, _) = patch_user(&admin, "olga", json!({ "role": "viewer" })).await;
    assert_eq!(status, StatusCode::OK);
    let events = app.audit_actions().await;
    let changes = audited(&events, "user.role_change", "olga");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["before"]["role"], "operator");
    assert_eq!(changes[0]["after"]["role"], "viewer");
}

#[tokio::test]
async fn admins_cannot_demote_or_disable_themselves() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    for (body, field) in [
        (json!({ "role": "operator" }), "role"),
        (json!({ "disabled": true }), "disabled"),
        (json!({}), "role"),
    ] {
        let (status, answer) = patch_user(&admin, "root", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["fields"][0]["field"], field, "{body}");
    }
    let (_, session) = admin.get("/api/v1/session").await;
    assert_eq!(session["user"]["role"], "admin", "nothing changed");
    assert!(audited(&app.audit_actions().await, "user.role_change", "root").is_empty());
}

#[tokio::test]
async fn bad_account_changes_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let (status, body) = patch_user(&admin, "nobody-here", json!({ "role": "viewer" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = patch_user(&admin, "Bad Name", json!({ "role": "viewer" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "username");
    let (status, body) = patch_user(&admin, "root", json!({ "role": "overlord" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "role");
    let (status, body) = patch_user(&admin, "root", json!({ "locked": true })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "locked");
}

#[tokio::test]
async fn an_admin_reset_hands_out_a_one_time_password_and_ends_the_sessions() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let olga = app.signed_in("olga", Role::Operator).await;
    let (status, body) = admin
        .send(
            Method::PUT,
            "/api/v1/users/olga/password",
            Some(json!({ "password": "short" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["field"], "password");
    let (status, _) = olga.get("/api/v1/about").await;
    assert_eq!(status, StatusCode::OK, "a refused reset changed nothing");

    let (status, body) = admin
        .send(
            Method::PUT,
            "/api/v1/users/olga/password",
            Some(json!({ "password": ONE_TIME })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["must_change_password"], true);
    let (status, _) = olga.get("/api/v1/about").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "her sessions ended");
    let (status, _) = app.client().sign_in("olga", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password is gone");
    let (olga, session) = signed_in_as(&app, "olga", ONE_TIME).await;
    assert_eq!(session["user"]["must_change_password"], true);
    let (status, _) = olga.get("/api/v1/about").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let events = app.audit_actions().await;
    let resets = audited(&events, "user.password_reset", "olga");
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0]["sessions_ended"], 1);
}
