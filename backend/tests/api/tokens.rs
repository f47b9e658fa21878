//! API tokens: created with a role no higher than their creator's, shown once, sent as
//! `Authorization: Bearer` without the CSRF header, refused once expired, revoked or orphaned,
//! attributed in the audit log, and counted as their creator by the two-person rule.

use crate::helpers::{spawn_app, spawn_app_with_workspace, Client, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;

/// Has `client` create a token and returns the answer (the `201` body).
async fn create_token(client: &Client, name: &str, role: Role) -> Value {
    let (status, body) = client
        .send(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({ "name": name, "role": role, "expires_in_days": 30 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// The secret of a token `client` creates.
async fn secret_of(client: &Client, name: &str, role: Role) -> String {
    let created = create_token(client, name, role).await;
    created["secret"].as_str().expect("a secret").to_owned()
}

/// Sends a request with `secret` as its bearer token, no cookie and no CSRF header.
async fn bearer(
    app: &TestApp,
    secret: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", app.url))
        .bearer_auth(secret);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn audit_rows(app: &TestApp, action: &str) -> Vec<(String, String, Value)> {
    sqlx::query_as("select actor, target, details from audit_events where action = $1 order by id")
        .bind(action)
        .fetch_all(&app.db.pool)
        .await
        .expect("read the audit log")
}

#[tokio::test]
async fn a_tokens_secret_is_shown_once_stored_hashed_and_never_listed() {
    let app = spawn_app().await;
    let olga = app.signed_in("olga", Role::Operator).await;
    let created = create_token(&olga, "ci-deployer", Role::Operator).await;
    let secret = created["secret"].as_str().expect("a secret");
    assert!(secret.starts_with("glt_"), "{secret}");
    assert_eq!(created["token"]["name"], "ci-deployer");
    assert_eq!(created["token"]["role"], "operator");
    assert_eq!(created["token"]["created_by"], "olga");
    assert!(created["token"]["expires_at"].is_string());

    let (status, list) = olga.get("/api/v1/tokens").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["id"], created["token"]["id"]);
    assert!(!list.to_string().contains(secret), "{list}");
    assert!(list["items"][0].get("secret").is_none());

    let stored: Vec<u8> = sqlx::query_scalar("select secret_hash from api_tokens")
        .fetch_one(&app.db.pool)
        .await
        .expect("the stored hash");
    use sha2::Digest;
    assert_eq!(stored, sha2::Sha256::digest(secret.as_bytes()).to_vec());
    let dump: String =
        sqlx::query_scalar("select string_agg(t::text, ' ') from (select * from api_tokens) t")
            .fetch_one(&app.db.pool)
            .await
            .expect("the table as text");
    assert!(!dump.contains(secret));
    let created_events = audit_rows(&app, "token.create").await;
    assert_eq!(created_events.len(), 1);
    let (actor, target, details) = &created_events[0];
    assert_eq!(
        (actor.as_str(), target.as_str()),
        ("olga", "olga/token:ci-deployer")
    );
    assert_eq!(details["token_id"], created["token"]["id"]);
    assert!(!details.to_string().contains(secret));
}

#[tokio::test]
async fn a_bearer_token_writes_without_the_csrf_header_and_the_audit_log_names_it() {
    let app = spawn_app().await;
    let root = app.signed_in("root", Role::Admin).await;
    let created = create_token(&root, "provisioner", Role::Admin).await;
    let secret = created["secret"].as_str().expect("a secret");
    let (status, body) = bearer(
        &app,
        secret,
        Method::POST,
        "/api/v1/users",
        Some(json!({ "username": "dana", "role": "viewer", "password": "one-time-password-1" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let created_users = audit_rows(&app, "user.create").await;
    let (actor, target, details) = created_users.last().expect("user.create");
    assert_eq!(actor, "root/token:provisioner");
    assert_eq!(target, "dana");
    assert_eq!(details["token_id"], created["token"]["id"]);

    // The last use is recorded.
    let (_, list) = root.get("/api/v1/tokens").await;
    assert!(list["items"][0]["last_used_at"].is_string(), "{list}");

    // With a session cookie beside it, the Authorization header alone decides: a bad token is
    // refused even though the cookie is good.
    let (status, body) = root
        .http
        .get(format!("{}/api/v1/users", app.url))
        .bearer_auth("glt_not-a-token")
        .send()
        .await
        .map(|r| r.status())
        .map(|s| (s, ()))
        .expect("request");
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body:?}");
}

#[tokio::test]
async fn expired_revoked_unknown_and_orphaned_tokens_are_refused_with_401() {
    let app = spawn_app().await;
    let root = app.signed_in("root", Role::Admin).await;
    let carl = app.signed_in("carl", Role::Operator).await;
    let expiring = secret_of(&carl, "expiring", Role::Viewer).await;
    let revoked = create_token(&carl, "revoked", Role::Viewer).await;
    let orphaned = secret_of(&carl, "orphaned", Role::Viewer).await;
    sqlx::query(
        "update api_tokens set created_at = now() - interval '2 days',
                expires_at = now() - interval '1 day' where name = 'expiring'",
    )
    .execute(&app.db.pool)
    .await
    .expect("expire the token");
    let id = revoked["token"]["id"].as_str().expect("id");
    let (status, body) = carl
        .send(Method::DELETE, &format!("/api/v1/tokens/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked_by"], "carl");
    assert!(body["revoked_at"].is_string());

    let refusals = [
        (expiring.as_str(), "this API token has expired"),
        (
            revoked["secret"].as_str().expect("secret"),
            "this API token has been revoked",
        ),
        (
            "glt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "this API token is not known",
        ),
        (
            "not-a-glt-token",
            "the Authorization header must be `Bearer glt_…` with an API token",
        ),
    ];
    for (secret, message) in refusals {
        let response = reqwest::Client::new()
            .get(format!("{}/api/v1/audit", app.url))
            .bearer_auth(secret)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{message}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "invalid_token");
        assert_eq!(body["error"]["message"], message);
    }

    let (status, _) = bearer(&app, &orphaned, Method::GET, "/api/v1/audit", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = root
        .send(
            Method::PATCH,
            "/api/v1/users/carl",
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = bearer(&app, &orphaned, Method::GET, "/api/v1/audit", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error"]["message"],
        "the account that created this API token is disabled"
    );

    let revokes = audit_rows(&app, "token.revoke").await;
    assert_eq!(revokes.len(), 1, "{revokes:?}");
    assert_eq!(revokes[0].0, "carl");
    assert_eq!(revokes[0].1, "carl/token:revoked");
}

#[tokio::test]
async fn only_the_owner_or_an_admin_sees_and_revokes_a_token() {
    let app = spawn_app().await;
    let root = app.signed_in("root", Role::Admin).await;
    let olga = app.signed_in("olga", Role::Operator).await;
    let vera = app.signed_in("vera", Role::Viewer).await;
    let token = create_token(&olga, "ci", Role::Viewer).await;
    let path = format!(
        "/api/v1/tokens/{}",
        token["token"]["id"].as_str().expect("id")
    );

    let (_, theirs) = vera.get("/api/v1/tokens").await;
    assert_eq!(theirs["items"], json!([]));
    let (status, _) = vera.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, all) = root.get("/api/v1/tokens").await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1));
    let (status, body) = root.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked_by"], "root");
    // Once more: nothing changes, nothing more is recorded.
    let (status, again) = olga.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["revoked_by"], "root");
    assert_eq!(audit_rows(&app, "token.revoke").await.len(), 1);
}

#[tokio::test]
async fn a_role_above_the_creators_and_other_broken_rules_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let olga = app.signed_in("olga", Role::Operator).await;
    let ask = |body: Value| {
        let olga = &olga;
        async move { olga.send(Method::POST, "/api/v1/tokens", Some(body)).await }
    };
    let (status, body) = ask(json!({ "name": "ci", "role": "admin", "expires_in_days": 30 })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "role");
    assert_eq!(
        body["error"]["fields"][0]["message"],
        "role admin is above your own role (operator); a token's role can be at most its creator's"
    );
    for (request, field) in [
        (
            json!({ "name": "CI/x", "role": "viewer", "expires_in_days": 30 }),
            "name",
        ),
        (
            json!({ "name": "ci", "role": "viewer", "expires_in_days": 0 }),
            "expires_in_days",
        ),
        (
            json!({ "name": "ci", "role": "viewer", "expires_in_days": 366 }),
            "expires_in_days",
        ),
        (json!({ "name": "ci", "role": "viewer" }), "expires_in_days"),
    ] {
        let (status, body) = ask(request.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{request}: {body}"
        );
        assert_eq!(
            body["error"]["fields"][0]["field"], field,
            "{request}: {body}"
        );
    }
    create_token(&olga, "ci", Role::Viewer).await;
    let (status, body) = ask(json!({ "name": "ci", "role": "viewer", "expires_in_days": 7 })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "name");
    assert_eq!(audit_rows(&app, "token.create").await.len(), 1);
}

#[tokio::test]
async fn a_token_acts_with_the_lower_of_its_role_and_its_creators_current_role() {
    let app = spawn_app().await;
    let root = app.signed_in("root", Role::Admin).await;
    let carl = app.signed_in("carl", Role::Admin).await;
    let secret = secret_of(&carl, "admin-bot", Role::Admin).await;
    let viewer = secret_of(&carl, "reader", Role::Viewer).await;
    let (status, _) = bearer(&app, &secret, Method::GET, "/api/v1/users", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = bearer(&app, &viewer, Method::GET, "/api/v1/users", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");

    let (status, body) = root
        .send(
            Method::PATCH,
            "/api/v1/users/carl",
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = bearer(&app, &secret, Method::GET, "/api/v1/users", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = bearer(&app, &secret, Method::GET, "/api/v1/audit", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_token_cannot_use_the_session_routes_or_mint_tokens() {
    let app = spawn_app().await;
    let olga = app.signed_in("olga", Role::Operator).await;
    let secret = secret_of(&olga, "ci", Role::Operator).await;
    let attempts = [
        (Method::GET, "/api/v1/session", None),
        (
            Method::PUT,
            "/api/v1/session/password",
            Some(json!({ "current_password": "x", "new_password": "a-brand-new-password" })),
        ),
        (Method::DELETE, "/api/v1/session", None),
        (
            Method::POST,
            "/api/v1/tokens",
            Some(json!({ "name": "ci2", "role": "viewer", "expires_in_days": 1 })),
        ),
    ];
    for (method, path, body) in attempts {
        let (status, answer) = bearer(&app, &secret, method.clone(), path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "not_with_token", "{method} {path}");
    }
    // A CSRF header is not needed, but a session's writes still need theirs.
    let response = olga
        .http
        .post(format!("{}/api/v1/tokens", app.url))
        .json(&json!({ "name": "ci3", "role": "viewer", "expires_in_days": 1 }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// A delete of `endpoint` asked for with `secret`: the pending change request.
async fn token_requests_delete(app: &TestApp, secret: &str, endpoint: &str) -> Value {
    let path = format!("/api/v1/endpoints/{endpoint}?reason=test%20change");
    let (status, request) = bearer(app, secret, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{request}");
    assert_eq!(request["state"], "pending", "{request}");
    request
}

async fn approve(app: &TestApp, by: Approval<'_>, id: &str) -> (StatusCode, Value) {
    let path = format!("/api/v1/change-requests/{id}/approve");
    match by {
        Approval::Session(client) => client.send(Method::POST, &path, Some(json!({}))).await,
        Approval::Token(secret) => bearer(app, secret, Method::POST, &path, Some(json!({}))).await,
    }
}

#[derive(Clone, Copy)]
enum Approval<'a> {
    Session(&'a Client),
    Token(&'a str),
}

#[tokio::test]
async fn a_token_counts_as_its_creator_for_the_two_person_rule() {
    let (app, _workspace) = spawn_app_with_workspace().await;
    let alice = app.signed_in("alice", Role::Approver).await;
    let bob = app.signed_in("bob", Role::Approver).await;
    alice.create_endpoint_with("by-alice", &[]).await;
    let alices_token = secret_of(&alice, "ci", Role::Approver).await;
    let bobs_token = secret_of(&bob, "bot", Role::Approver).await;

    // An operation the token starts is requested by the token, and its end recorded so.
    let (status, started) = bearer(
        &app,
        &alices_token,
        Method::POST,
        "/api/v1/endpoints",
        Some(json!({ "name": "by-token" })),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["requested_by"], "alice/token:ci");
    let ended = alice.finish(&started).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    let created = audit_rows(&app, "endpoint.create").await;
    assert_eq!(
        created.last().map(|(actor, _, _)| actor.as_str()),
        Some("alice/token:ci")
    );

    // Asked for with alice's token: alice's request, recorded as the token's.
    let by_token = token_requests_delete(&app, &alices_token, "by-token").await;
    assert_eq!(by_token["requester"], "alice", "{by_token}");
    let asked = audit_rows(&app, "change_request.create").await;
    let (actor, _, details) = asked.last().expect("change_request.create");
    assert_eq!(actor, "alice/token:ci");
    assert!(details["token_id"].is_string(), "{details}");
    let id = by_token["id"].as_str().expect("id");
    for by in [Approval::Session(&alice), Approval::Token(&alices_token)] {
        let (status, body) = approve(&app, by, id).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "self_approval", "{body}");
    }

    // Asked for by alice herself: her token can't approve it either.
    let (status, by_alice) = alice
        .send(
            Method::DELETE,
            "/api/v1/endpoints/by-alice?reason=test%20change",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{by_alice}");
    let alices_own = by_alice["id"].as_str().expect("id");
    let (status, body) = approve(&app, Approval::Token(&alices_token), alices_own).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "self_approval");

    // Bob is a second person, by session or by token; his token's approval names the token.
    let (status, body) = approve(&app, Approval::Token(&bobs_token), id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["approvals"][0]["by"], "bob", "{body}");
    let approvals = audit_rows(&app, "change_request.approve").await;
    let (actor, _, details) = approvals.last().expect("change_request.approve");
    assert_eq!(actor, "bob/token:bot");
    assert!(details["token_id"].is_string());
    let (status, body) = approve(&app, Approval::Session(&bob), alices_own).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_tokens_event_stream_carries_events_until_the_token_is_revoked() {
    let (app, _workspace) = spawn_app_with_workspace().await;
    let olga = app.signed_in("olga", Role::Operator).await;
    let created = create_token(&olga, "watcher", Role::Viewer).await;
    let secret = created["secret"].as_str().expect("secret");
    let mut stream = reqwest::Client::new()
        .get(format!("{}/api/v1/events", app.url))
        .bearer_auth(secret)
        .send()
        .await
        .expect("open the live feed");
    assert_eq!(stream.status(), StatusCode::OK);
    olga.create_endpoint_with("watched", &[]).await;
    let mut received = String::new();
    let got_one = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while !received.lines().any(|line| line.starts_with("id:")) {
            let chunk = stream.chunk().await.expect("readable").expect("still open");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(
        got_one.is_ok(),
        "an event reaches the token's stream: {received}"
    );

    let id = created["token"]["id"].as_str().expect("id");
    let (status, _) = olga
        .send(Method::DELETE, &format!("/api/v1/tokens/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    olga.create_endpoint_with("after-revoke", &[]).await;
    received.clear();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(chunk) = stream.chunk().await.expect("readable") {
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ends once its token is revoked");
    // What was sent before the revocation may still be in flight; nothing after it is sent.
    assert!(
        !received.contains("after-revoke"),
        "no event after the revocation: {received}"
    );
}

/// What an API token may never do, whatever its role: the session's own routes and minting
/// more tokens.
const NOT_WITH_TOKEN: [&str; 4] = ["get_session", "sign_out", "change_password", "create_token"];

#[tokio::test]
async fn a_token_is_admitted_exactly_where_its_role_is_like_a_session() {
    let app = spawn_app().await;
    let roles = crate::authorization::minimum_roles();
    let mut checked = 0;
    for role in [Role::Viewer, Role::Operator, Role::Approver, Role::Admin] {
        let creator = app.signed_in(&format!("as-{role}"), Role::Admin).await;
        let secret = secret_of(&creator, "matrix", role).await;
        for operation in crate::authorization::operations() {
            if operation.id == "stream_events" {
                continue; // a stream: covered by its own test above
            }
            let body = (operation.method != Method::GET && operation.method != Method::DELETE)
                .then(|| json!({}));
            let (status, answer) = bearer(
                &app,
                &secret,
                operation.method.clone(),
                &operation.path,
                body,
            )
            .await;
            let what = format!("{} as a {role} token: {status} {answer}", operation.id);
            let code = &answer["error"]["code"];
            if NOT_WITH_TOKEN.contains(&operation.id.as_str()) {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                assert_eq!(code, "not_with_token", "{what}");
            } else if roles[operation.id.as_str()].is_some_and(|needed| role < needed) {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                assert_eq!(code, "forbidden", "{what}");
            } else {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "admitted: {what}"
                );
            }
            checked += 1;
        }
    }
    let streams = 1;
    assert_eq!(
        checked,
        4 * (crate::authorization::operations().len() - streams)
    );
}
