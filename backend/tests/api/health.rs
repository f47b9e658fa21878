use crate::helpers::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::Role;

#[tokio::test]
async fn health_reports_the_database_ok() {
    let app = spawn_app().await;
    let (status, body) = app.client().get("/api/v1/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn health_answers_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.db.pool.close().await;
    let (status, body) = app.client().get("/api/v1/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"], "unavailable");
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_operation() {
    let app = spawn_app().await;
    let (status, body) = app.client().get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    // Every route the API serves, by hand: adding a route means adding it here, and the
    // document must then hold exactly these operations, no fewer and no more.
    let mut served = vec![
        ("get", "/api/v1/health"),
        ("get", "/api/v1/about"),
        ("get", "/api/v1/session"),
        ("post", "/api/v1/session"),
        ("delete", "/api/v1/session"),
        ("put", "/api/v1/session/password"),
        ("get", "/api/v1/session/methods"),
        ("get", "/api/v1/session/oidc/start"),
        ("get", "/api/v1/session/oidc/callback"),
        ("get", "/api/v1/users"),
        ("post", "/api/v1/users"),
        ("patch", "/api/v1/users/{username}"),
        ("put", "/api/v1/users/{username}/password"),
        ("get", "/api/v1/endpoints"),
        ("post", "/api/v1/endpoints"),
        ("get", "/api/v1/endpoints/{endpoint}"),
        ("delete", "/api/v1/endpoints/{endpoint}"),
        ("get", "/api/v1/endpoints/{endpoint}/deployments"),
        ("post", "/api/v1/endpoints/{endpoint}/deployments"),
        (
            "get",
            "/api/v1/endpoints/{endpoint}/deployments/{deployment}",
        ),
        (
            "patch",
            "/api/v1/endpoints/{endpoint}/deployments/{deployment}",
        ),
        (
            "delete",
            "/api/v1/endpoints/{endpoint}/deployments/{deployment}",
        ),
        (
            "get",
            "/api/v1/endpoints/{endpoint}/deployments/{deployment}/logs",
        ),
        ("get", "/api/v1/endpoints/{endpoint}/traffic"),
        ("put", "/api/v1/endpoints/{endpoint}/traffic"),
        ("post", "/api/v1/endpoints/{endpoint}/invoke"),
        ("get", "/api/v1/endpoints/{endpoint}/keys"),
        ("post", "/api/v1/endpoints/{endpoint}/keys/reveal"),
        ("post", "/api/v1/endpoints/{endpoint}/keys/regenerate"),
        ("get", "/api/v1/endpoints/{endpoint}/metrics"),
        ("get", "/api/v1/assets/{kind}"),
        ("get", "/api/v1/operations"),
        ("get", "/api/v1/operations/{id}"),
        ("get", "/api/v1/audit"),
        ("get", "/api/v1/audit/chain"),
        ("get", "/api/v1/audit/export"),
        ("get", "/api/v1/change-requests"),
        ("get", "/api/v1/change-requests/{id}"),
        ("post", "/api/v1/change-requests/{id}/approve"),
        ("post", "/api/v1/change-requests/{id}/reject"),
        ("get", "/api/v1/endpoints/{endpoint}/policy"),
        ("put", "/api/v1/endpoints/{endpoint}/policy"),
        ("get", "/api/v1/endpoints/{endpoint}/rollouts"),
        ("post", "/api/v1/endpoints/{endpoint}/rollouts"),
        ("get", "/api/v1/rollouts/{id}"),
        ("post", "/api/v1/rollouts/{id}/pause"),
        ("post", "/api/v1/rollouts/{id}/resume"),
        ("post", "/api/v1/rollouts/{id}/abort"),
        ("post", "/api/v1/rollouts/{id}/rollback"),
        ("get", "/api/v1/events"),
        ("get", "/api/v1/tokens"),
        ("post", "/api/v1/tokens"),
        ("delete", "/api/v1/tokens/{id}"),
        ("get", "/api/v1/freeze-windows"),
        ("post", "/api/v1/freeze-windows"),
        ("delete", "/api/v1/freeze-windows/{id}"),
        ("get", "/api/v1/endpoints/{endpoint}/freeze"),
        (
            "get",
            "/api/v1/endpoints/{endpoint}/deployments/{deployment}/sample-request",
        ),
        ("get", "/api/v1/webhooks"),
        ("post", "/api/v1/webhooks"),
        ("patch", "/api/v1/webhooks/{id}"),
        ("delete", "/api/v1/webhooks/{id}"),
        ("get", "/api/v1/webhooks/{id}/deliveries"),
        ("post", "/api/v1/webhooks/{id}/test"),
    ];
    served.sort();
    let mut documented: Vec<(&str, &str)> = body["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |method| (method.as_str(), path.as_str()))
        })
        .collect();
    documented.sort();
    assert_eq!(documented, served);
    for (method, path) in &served {
        let operation = &body["paths"][path][method];
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{method} {path} documents its responses"
        );
    }
    assert_eq!(
        body,
        serde_json::to_value(backend::http::openapi_document()).expect("json")
    );
}

#[tokio::test]
async fn unknown_api_paths_answer_404_in_the_error_envelope() {
    let app = spawn_app().await;
    let (status, body) = app.client().get("/api/v1/no-such-thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(
        body["error"]["message"],
        "there is no API operation at this path; /api/openapi.json lists them"
    );
    assert!(body["error"]["request_id"].is_string());
}

#[test]
fn every_operation_has_a_unique_snake_case_operation_id() {
    let document = serde_json::to_value(backend::http::openapi_document()).expect("json");
    let mut seen = std::collections::BTreeMap::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has an operationId"));
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '_') && id.contains('_'),
                "{method} {path}: operationId {id:?} is verb_noun in snake_case"
            );
            if let Some(other) = seen.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operationId {id:?} is used by {other} and by {method} {path}");
            }
        }
    }
    assert!(seen.len() >= 30, "{} operations", seen.len());
}

/// Every documented operation reaches its handler, not the catch-all that answers unknown API
/// paths: names in the path break Azure's rule on purpose, so a routed handler answers 422
/// naming the path field, or its own refusal, before any workspace call.
#[tokio::test]
async fn every_documented_operation_is_routed_to_a_handler() {
    let app = spawn_app().await;
    let document = serde_json::to_value(backend::http::openapi_document()).expect("json");
    let mut operations: Vec<(Method, String)> = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let method: Method = method.to_uppercase().parse().expect("an HTTP method");
            let concrete = path
                .replace("{endpoint}", "x")
                .replace("{deployment}", "y")
                .replace("{kind}", "models")
                .replace("{id}", "not-a-uuid");
            operations.push((method, concrete));
        }
    }
    // Signing out last keeps the session for the others.
    operations
        .sort_by_key(|(method, path)| *method == Method::DELETE && path.ends_with("/session"));
    let client = app.signed_in("prober", Role::Admin).await;
    for (method, path) in operations {
        if path.ends_with("/events") {
            // A stream: the status line is enough, the body never ends.
            let response = client
                .http
                .get(format!("{}{path}", app.url))
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), StatusCode::OK, "{method} {path}");
            continue;
        }
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let (status, answer) = client.send(method.clone(), &path, body).await;
        let unknown = answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("there is no API operation at this path"));
        assert!(
            !unknown && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} reached no handler: {status} {answer}"
        );
        if path.contains("/endpoints/x") {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path}");
            assert_eq!(
                answer["error"]["fields"][0]["field"], "endpoint",
                "{method} {path}"
            );
        }
    }
}
