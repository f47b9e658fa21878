//! The CSRF and session guard, checked against every route the OpenAPI document lists, so a
//! route added later cannot be forgotten.

use crate::helpers::spawn_app;
use backend::http::PUBLIC_WRITES;
use reqwest::{Method, StatusCode};
use shared::Role;

/// Every (method, path) in the API that changes state.
fn state_changing_routes() -> Vec<(Method, String)> {
    let document = serde_json::to_value(backend::http::openapi_document()).expect("json");
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let method: Method = method.to_uppercase().parse().expect("an HTTP method");
            if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
                // Path parameters get a placeholder value; the guard runs before any lookup.
                let concrete = path.replace('{', "x").replace('}', "");
                routes.push((method, concrete));
            }
        }
    }
    routes
}

fn is_public(method: &Method, path: &str) -> bool {
    PUBLIC_WRITES.iter().any(|(m, p)| m == method && *p == path)
}

#[test]
fn sign_in_is_the_only_write_that_needs_no_session() {
    assert_eq!(PUBLIC_WRITES, &[(Method::POST, "/api/v1/session")]);
}

#[tokio::test]
async fn every_write_without_the_csrf_header_is_refused() {
    let app = spawn_app().await;
    let signed_in = app.signed_in("root", Role::Admin).await;
    let anonymous = app.client();
    let routes = state_changing_routes();
    assert!(
        routes.len() >= 3,
        "the document lists the writes: {routes:?}"
    );
    for (method, path) in routes {
        for client in [&anonymous, &signed_in] {
            let response = client
                .http
                .request(method.clone(), format!("{}{path}", app.url))
                .json(&serde_json::json!({}))
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
            let body: serde_json::Value = response.json().await.expect("json");
            assert_eq!(body["error"]["code"], "csrf_failed", "{method} {path}");
        }
    }
}

#[tokio::test]
async fn every_write_without_a_session_is_refused_except_sign_in() {
    let app = spawn_app().await;
    let anonymous = app.client();
    for (method, path) in state_changing_routes() {
        let (status, body) = anonymous
            .send(method.clone(), &path, Some(serde_json::json!({})))
            .await;
        if is_public(&method, &path) {
            assert_ne!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} is public"
            );
            assert_ne!(status, StatusCode::FORBIDDEN, "{method} {path} is public");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(body["error"]["code"], "unauthenticated", "{method} {path}");
        }
    }
}

#[tokio::test]
async fn a_write_with_another_sessions_csrf_token_is_refused() {
    let app = spawn_app().await;
    let mut alice = app.signed_in("alice", Role::Admin).await;
    let bob = app.signed_in("bob", Role::Admin).await;
    alice.csrf = bob.csrf.clone();
    for (method, path) in state_changing_routes() {
        if is_public(&method, &path) {
            continue;
        }
        let (status, body) = alice
            .send(method.clone(), &path, Some(serde_json::json!({})))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(body["error"]["code"], "csrf_failed");
    }
}

#[tokio::test]
async fn writes_to_paths_no_route_serves_are_refused_before_anything_else() {
    let app = spawn_app().await;
    let (status, _) = app
        .client()
        .send(
            Method::POST,
            "/api/v1/not-yet-written",
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_cross_origin_sign_in_is_refused() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Operator).await;
    let response = app
        .sign_in_request("alice", crate::helpers::PASSWORD)
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
