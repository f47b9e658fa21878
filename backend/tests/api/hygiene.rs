//! What every request and answer gets whatever its route: bodies read strictly (an unknown
//! field is refused by name, an oversized body with 413), and security headers on every answer.

use crate::helpers::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::api::CSRF_HEADER;
use shared::Role;

#[tokio::test]
async fn unknown_fields_in_a_body_are_refused_naming_the_field() {
    let app = spawn_app().await;
    // A misspelt field in a sign-in (public) and in a traffic change (operator): neither is
    // silently ignored — a dropped `mirror_traffic` would clear the mirror.
    let (status, body) = app
        .client()
        .send(
            Method::POST,
            "/api/v1/session",
            Some(json!({ "username": "someone", "password": "whatever-it-is", "remember": true })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(body["error"]["fields"][0]["field"], "remember", "{body}");

    let operator = app.signed_in("olga", Role::Operator).await;
    let (status, body) = operator
        .send(
            Method::PUT,
            "/api/v1/endpoints/my-endpoint/traffic",
            Some(json!({ "traffic": { "blue": 100 }, "mirrorTraffic": { "green": 10 }, "version": "v" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["fields"][0]["field"], "mirrorTraffic",
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown field `mirrorTraffic`")),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_answers_413_in_the_envelope() {
    let app = spawn_app().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    let huge = "x".repeat(backend::http::error::MAX_BODY_BYTES + 1);
    let (status, body) = operator
        .send(
            Method::POST,
            "/api/v1/endpoints",
            Some(json!({ "name": "big-one", "description": huge })),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert!(body["error"]["request_id"].is_string());
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    for path in [
        "/api/v1/health",
        "/api/v1/endpoints",
        "/",
        "/endpoints/somewhere",
    ] {
        let response = http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .expect("request");
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let csp = header("content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("'unsafe-inline'"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        if path.starts_with("/api/") {
            assert_eq!(header("cache-control"), "no-store", "{path}");
        }
    }
}

#[tokio::test]
async fn a_write_from_a_foreign_origin_is_refused() {
    let app = spawn_app().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    let response = operator
        .http
        .post(format!("{}/api/v1/endpoints", app.url))
        .header(CSRF_HEADER, operator.csrf.as_deref().unwrap_or_default())
        .header("origin", "https://evil.example")
        .json(&json!({ "name": "from-evil" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "csrf_failed");
}

#[tokio::test]
async fn interpreter_and_loader_variables_and_outside_scripts_are_refused_by_the_api() {
    let app = spawn_app().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    let (status, body) = operator
        .send(
            Method::POST,
            "/api/v1/endpoints/my-endpoint/deployments",
            Some(json!({
                "name": "green",
                "model": "azureml:regression-v2:1",
                "instance_type": "Standard_DS3_v2",
                "instance_count": 1,
                "scoring_script": "/tmp/x/evil.py",
                "environment_variables": {
                    "PYTHONWARNINGS": "all:0:antigravity.x:0:0",
                    "BROWSER": "/bin/sh -c \"id > /tmp/owned\" #%s",
                },
            })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    for field in [
        "environment_variables.PYTHONWARNINGS",
        "environment_variables.BROWSER",
        "scoring_script",
    ] {
        assert!(fields.contains(&field), "{field} in {body}");
    }
}

/// The statuses one operation of the API documents (`/api/openapi.json`).
fn documented(operation_id: &str) -> Vec<String> {
    let document = serde_json::to_value(backend::http::openapi_document()).expect("json");
    document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("path item").values())
        .find(|operation| operation["operationId"] == operation_id)
        .and_then(|operation| operation["responses"].as_object())
        .map(|responses| responses.keys().cloned().collect())
        .unwrap_or_else(|| panic!("no operation {operation_id}"))
}

/// Refusals the fuzzer (scripts/fuzz.sh) met undocumented, like a 415 for a body that is not
/// JSON, and one that was a 500: a path parameter that is not UTF-8 once percent-decoded (`%FF`)
/// is a 422 naming it, or a 404 for an id or an asset kind. The document lists each.
#[tokio::test]
async fn refusals_of_bad_requests_are_answered_in_the_envelope_and_documented() {
    let app = spawn_app().await;
    let admin = app.signed_in("ada", Role::Admin).await;
    let response = admin
        .http
        .post(format!("{}/api/v1/endpoints", admin.base))
        .header(CSRF_HEADER, admin.csrf.as_deref().expect("csrf"))
        .header("content-type", "text/plain")
        .body("name=my-endpoint")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: serde_json::Value = response.json().await.expect("envelope");
    assert_eq!(body["error"]["code"], "unsupported_media_type", "{body}");
    assert!(documented("create_endpoint").contains(&"415".to_owned()));

    let (status, body) = admin.get("/api/v1/endpoints/%FF/deployments").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "endpoint", "{body}");
    assert!(documented("list_deployments").contains(&"422".to_owned()));

    for (path, operation) in [
        ("/api/v1/operations/%FF", "get_operation"),
        ("/api/v1/assets/%FF", "list_assets"),
    ] {
        let (status, body) = admin.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
        assert!(documented(operation).contains(&"404".to_owned()), "{path}");
    }
}

/// Every response of every operation says what it means: OpenAPI requires a description, and
/// the handlers may document a status (a `404`, say) without one.
#[test]
fn every_documented_response_has_a_description() {
    let document = serde_json::to_value(backend::http::openapi_document()).expect("json");
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            for (status, response) in operation["responses"].as_object().expect("responses") {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(
                    !description.is_empty(),
                    "{method} {path}: {status} has no description"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} responses documented");
}
