//! Free text (descriptions, environment-variable values) holding control characters is refused
//! up front with the shared rule (`shared::text`), before anything reaches the workspace — and
//! the local workspace's ARM layer refuses it too.

use crate::common::endpoint_name;
use crate::helpers::spawn_app_with_workspace;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::arm::OnlineEndpoint;
use shared::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_description_with_nul_is_refused_naming_description_and_nothing_is_created() {
    let (app, workspace) = spawn_app_with_workspace().await;
    let operator = app.signed_in("olga", Role::Operator).await;

    let (status, body) = operator
        .send(
            Method::POST,
            "/api/v1/endpoints",
            Some(json!({ "name": "nul-endpoint", "description": "before\u{0}after" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(body["error"]["fields"][0]["field"], "description");
    assert_eq!(
        body["error"]["fields"][0]["message"],
        "description must not contain control characters (U+0000 at character 7)"
    );

    let endpoints = workspace.client.list_endpoints().await.expect("list");
    assert!(endpoints.is_empty(), "{endpoints:?}");
    let operations: i64 = sqlx::query_scalar("select count(*) from operations")
        .fetch_one(&app.db.pool)
        .await
        .expect("count operations");
    assert_eq!(operations, 0);
    let audited = app.audit_actions().await;
    assert!(
        !audited
            .iter()
            .any(|(action, _, _)| action.starts_with("endpoint")),
        "{audited:?}"
    );
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_variable_value_with_a_control_character_is_refused_naming_the_variable() {
    let (app, workspace) = spawn_app_with_workspace().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    operator
        .run(
            Method::POST,
            "/api/v1/endpoints",
            Some(json!({ "name": "env-endpoint", "description": "two\nlines are fine" })),
        )
        .await;
    let (status, body) = operator
        .send(
            Method::POST,
            "/api/v1/endpoints/env-endpoint/deployments",
            Some(json!({
                "name": "blue",
                "model": "azureml:regression-v1:1",
                "instance_type": "Standard_DS3_v2",
                "instance_count": 1,
                "environment_variables": { "MODE": "fast\u{1b}[2J" }
            })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["fields"][0]["field"],
        "environment_variables.MODE"
    );
    let deployments = workspace
        .client
        .list_deployments(&endpoint_name("env-endpoint"))
        .await
        .expect("list");
    assert!(deployments.is_empty(), "{deployments:?}");
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_workspace_refuses_an_endpoint_description_with_nul() {
    let (_app, workspace) = spawn_app_with_workspace().await;
    let endpoint: OnlineEndpoint = serde_json::from_value(json!({
        "location": "local",
        "properties": { "authMode": "Key", "description": "x\u{0}" }
    }))
    .expect("endpoint body");
    let refused = workspace
        .client
        .create_endpoint(&endpoint_name("arm-nul"), endpoint)
        .await
        .expect_err("refused by the ARM layer");
    assert!(
        refused.to_string().contains("properties.description"),
        "{refused}"
    );
    assert!(workspace
        .client
        .list_endpoints()
        .await
        .expect("list")
        .is_empty());
    workspace.emulator.shutdown().await;
}
