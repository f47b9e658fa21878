use crate::helpers::{spawn_app, spawn_app_with, PASSWORD};
use backend::auth::RateLimits;
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use shared::Role;
use std::time::Duration;

#[tokio::test]
async fn signing_in_sets_an_httponly_lax_cookie_and_returns_the_user() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Operator).await;
    let response = app
        .sign_in_request("alice", PASSWORD)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_owned();
    assert!(cookie.starts_with("greenlight_session="));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "plain http: no Secure flag");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(body["user"]["role"], "operator");
    assert_eq!(body["csrf_token"].as_str().map(str::len), Some(64));
}

#[tokio::test]
async fn the_session_table_holds_only_a_hash_of_the_cookie() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Operator).await;
    let response = app
        .sign_in_request("alice", PASSWORD)
        .send()
        .await
        .expect("request");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let value = cookie
        .trim_start_matches("greenlight_session=")
        .split(';')
        .next()
        .expect("value");
    assert_eq!(value.len(), 64, "256 random bits, hex");
    let stored: Vec<u8> = sqlx::query_scalar("select id_hash from sessions")
        .fetch_one(&app.db.pool)
        .await
        .expect("one session");
    assert_eq!(stored, Sha256::digest(value.as_bytes()).to_vec());
}

#[tokio::test]
async fn the_signed_in_user_is_returned_until_sign_out() {
    let app = spawn_app().await;
    let client = app.signed_in("alice", Role::Approver).await;
    let (status, body) = client.get("/api/v1/session").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["role"], "approver");

    let (status, _) = client.send(Method::DELETE, "/api/v1/session", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = client.get("/api/v1/session").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_401() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Operator).await;
    let (status, wrong_password) = app.client().sign_in("alice", "not-the-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, unknown_user) = app.client().sign_in("mallory", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password["error"]["code"], "invalid_credentials");
    assert_eq!(
        wrong_password["error"]["message"],
        unknown_user["error"]["message"]
    );
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(sessions, 0);
}

#[tokio::test]
async fn a_session_idle_for_too_long_is_refused() {
    let app = spawn_app().await;
    let client = app.signed_in("alice", Role::Viewer).await;
    sqlx::query("update sessions set last_seen_at = now() - interval '2 hours'")
        .execute(&app.db.pool)
        .await
        .expect("age the session");
    let (status, _) = client.get("/api/v1/session").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn reads_refresh_the_idle_clock_only_once_it_has_aged() {
    let app = spawn_app().await;
    let client = app.signed_in("alice", Role::Viewer).await;
    let last_seen = || async {
        sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>("select last_seen_at from sessions")
            .fetch_one(&app.db.pool)
            .await
            .expect("read the session")
    };
    let fresh = last_seen().await;
    for _ in 0..3 {
        assert_eq!(client.get("/api/v1/session").await.0, StatusCode::OK);
    }
    assert_eq!(
        last_seen().await,
        fresh,
        "a fresh session is not rewritten on each read"
    );

    sqlx::query("update sessions set last_seen_at = now() - interval '5 minutes'")
        .execute(&app.db.pool)
        .await
        .expect("age the session");
    let aged = last_seen().await;
    assert_eq!(client.get("/api/v1/session").await.0, StatusCode::OK);
    assert!(last_seen().await > aged, "an aged session is touched");
}

#[tokio::test]
async fn a_session_past_its_absolute_expiry_is_refused_however_busy() {
    let app = spawn_app().await;
    let client = app.signed_in("alice", Role::Viewer).await;
    sqlx::query("update sessions set expires_at = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await
        .expect("expire the session");
    let (status, _) = client.get("/api/v1/session").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_with_429_while_others_still_sign_in() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Operator).await;
    app.add_user("bob", Role::Approver).await;
    let limits = RateLimits::default();
    for _ in 0..limits.per_account {
        let (status, _) = app.client().sign_in("alice", "wrong-password!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = app
        .sign_in_request("alice", PASSWORD)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry_after > 0 && retry_after <= limits.window.as_secs());
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");

    let (status, _) = app.client().sign_in("bob", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "another account is not locked");
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_limited_across_accounts() {
    let limits = RateLimits {
        window: Duration::from_secs(600),
        per_account: 100,
        per_address: 3,
    };
    let app = spawn_app_with(limits).await;
    app.add_user("alice", Role::Operator).await;
    for name in ["mallory", "trent", "eve"] {
        let (status, _) = app.client().sign_in(name, PASSWORD).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = app.client().sign_in("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "rate_limited");
}

#[tokio::test]
async fn a_body_missing_a_field_is_refused_naming_it() {
    let app = spawn_app().await;
    let (status, body) = app
        .client()
        .send(
            Method::POST,
            "/api/v1/session",
            Some(serde_json::json!({ "username": "alice" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "validation_failed");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("password")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_get_no_more_tries_than_the_limit_and_one_rate_limit_row() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Operator).await;
    let limits = RateLimits::default();
    let attempts = (0..20).map(|_| {
        let request = app.sign_in_request("alice", "wrong-password!");
        tokio::spawn(async move { request.send().await.expect("request").status() })
    });
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.expect("attempt"));
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(refused as i64, limits.per_account, "{statuses:?}");
    assert_eq!(refused + limited, 20, "{statuses:?}");
    // The server runs in this process: its cap on concurrent password checks held through the
    // flood (and through every other test's sign-ins so far).
    let peak = backend::auth::sign_in::VERIFYING.peak();
    assert!(
        (1..=backend::auth::sign_in::MAX_VERIFYING).contains(&peak),
        "at most {} password checks at once, saw {peak}",
        backend::auth::sign_in::MAX_VERIFYING
    );

    let rows: Vec<(String, String, serde_json::Value)> = app.audit_actions().await;
    let count = |action: &str| rows.iter().filter(|(a, _, _)| a == action).count();
    assert_eq!(count("session.sign_in_failed") as i64, limits.per_account);
    assert_eq!(
        count("session.sign_in_rate_limited"),
        1,
        "one row for the whole flood"
    );
}
