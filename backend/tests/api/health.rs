use crate::helpers::spawn_app;
use reqwest::StatusCode;

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
        ("get", "/api/v1/users"),
        ("post", "/api/v1/users"),
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
        ("get", "/api/v1/events"),
        (
            "get",
            "/api/v1/endpoints/{endpoint}/deployments/{deployment}/sample-request",
        ),
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
    assert!(body["error"]["request_id"].is_string());
}
