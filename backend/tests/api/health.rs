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
    let paths = body["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/v1/health", "get"),
        ("/api/v1/about", "get"),
        ("/api/v1/endpoints", "get"),
        ("/api/v1/endpoints/{endpoint}", "get"),
        ("/api/v1/session", "get"),
        ("/api/v1/session", "post"),
        ("/api/v1/session", "delete"),
        ("/api/v1/users", "get"),
        ("/api/v1/users", "post"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is documented"
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
