//! Registered model, environment and code versions: one registered under any workspace path is
//! found, listed and deployed from every other, by its ARM id or its `azureml:` short form.

use crate::common::examples_dir;
use crate::helpers::{assert_refused, deployment_body, deployment_path, start, WORKSPACE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const OTHER_WORKSPACE: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/other";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asset_registered_in_one_workspace_is_found_listed_and_deployed_from_another() {
    let local = start().await;
    let model_dir = examples_dir()
        .join("regression-v1/model")
        .canonicalize()
        .expect("the demo model");
    let registered_id = format!("{OTHER_WORKSPACE}/models/Shared-Model/versions/3");
    let registered = local
        .arm(
            Method::PUT,
            &registered_id,
            Some(json!({ "properties": {
                "modelUri": format!("file://{}", model_dir.display()),
                "description": "registered elsewhere",
            }})),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
    assert_eq!(registered.body["id"], registered_id.as_str());
    assert_eq!(
        registered.body["name"], "3",
        "a version's name is its version"
    );
    assert_eq!(
        registered.body["type"],
        "Microsoft.MachineLearningServices/workspaces/models/versions"
    );
    let without_properties = local
        .arm(
            Method::PUT,
            &format!("{WORKSPACE}/models/empty/versions/1"),
            Some(json!({})),
        )
        .await;
    assert_refused(&without_properties, "properties");

    // Found from this workspace, names compared without case.
    let found = local
        .arm(
            Method::GET,
            &format!("{WORKSPACE}/models/shared-model/versions/3"),
            None,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(found.body["id"], registered_id.as_str());
    for missing in [
        format!("{WORKSPACE}/models/shared-model/versions/4"),
        format!("{WORKSPACE}/codes/shared-model/versions/3"),
        format!("{WORKSPACE}/models/no-such-model/versions"),
        format!("{WORKSPACE}/widgets"),
    ] {
        let reply = local.arm(Method::GET, &missing, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(reply.body["error"]["code"], "ResourceNotFound", "{missing}");
    }

    // Listed once, with its latest version, beside the demo models.
    let containers = local
        .arm(Method::GET, &format!("{WORKSPACE}/models"), None)
        .await
        .body;
    let container = containers["value"]
        .as_array()
        .expect("a page")
        .iter()
        .find(|c| c["name"] == "Shared-Model")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        container["properties"]["latestVersion"], "3",
        "{containers}"
    );
    assert_eq!(container["id"], format!("{WORKSPACE}/models/Shared-Model"));
    assert!(containers["value"]
        .as_array()
        .is_some_and(|all| all.iter().any(|c| c["name"] == "regression-v1")));
    let versions = local
        .arm(
            Method::GET,
            &format!("{WORKSPACE}/models/Shared-Model/versions"),
            None,
        )
        .await
        .body;
    assert_eq!(
        versions["value"].as_array().map(Vec::len),
        Some(1),
        "{versions}"
    );

    // A deployment names it by its ARM id under the other workspace.
    local.create_endpoint("assets").await;
    let mut body = deployment_body("regression-v1", 1);
    body["properties"]["model"] = json!(registered_id);
    let outcome = local.create_deployment_from("assets", "blue", body).await;
    assert_eq!(outcome["status"], "Succeeded", "{outcome}");

    // References that are not a model version are refused naming the field.
    for model in [
        "azureml:shared-model",
        "azureml:shared-model:4",
        "/subscriptions/s/workspaces/w/codes/regression-v1/versions/1",
    ] {
        let mut body = deployment_body("regression-v1", 1);
        body["properties"]["model"] = json!(model);
        let reply = local
            .arm(Method::PUT, &deployment_path("assets", "green"), Some(body))
            .await;
        assert_refused(&reply, "properties.model");
    }
    local.emulator.shutdown().await;
}
