use crate::common::endpoint_name;
use crate::helpers::{spawn_app, spawn_app_with_workspace};
use reqwest::StatusCode;
use shared::arm::OnlineEndpoint;
use shared::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_the_workspaces_endpoints() {
    let (app, workspace) = spawn_app_with_workspace().await;
    let viewer = app.signed_in("vera", Role::Viewer).await;
    let (status, body) = viewer.get("/api/v1/endpoints").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"], serde_json::json!([]));

    let endpoint: OnlineEndpoint = serde_json::from_value(
        serde_json::json!({ "location": "local", "properties": { "authMode": "Key" } }),
    )
    .expect("endpoint body");
    workspace
        .client
        .create_endpoint(&endpoint_name("listed"), endpoint)
        .await
        .expect("created in the workspace directly");

    let (status, body) = viewer.get("/api/v1/endpoints").await;
    assert_eq!(status, StatusCode::OK);
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "listed");
    assert_eq!(items[0]["provisioning_state"], "Succeeded");
    assert_eq!(items[0]["traffic"], serde_json::json!({}));
    assert!(items[0]["scoring_uri"]
        .as_str()
        .is_some_and(|u| u.starts_with(&workspace.emulator.scoring_url)));

    let (status, one) = viewer.get("/api/v1/endpoints/listed").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["auth_mode"], "Key");
    let (status, missing) = viewer.get("/api/v1/endpoints/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"]["code"], "not_found");
    let (status, _) = app.client().get("/api/v1/endpoints").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    workspace.emulator.shutdown().await;
}

#[tokio::test]
async fn without_a_workspace_the_endpoints_say_so() {
    let app = spawn_app().await;
    let viewer = app.signed_in("vera", Role::Viewer).await;
    let (status, body) = viewer.get("/api/v1/endpoints").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "no_workspace");
}
