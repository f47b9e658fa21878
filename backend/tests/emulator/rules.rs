//! Azure's rules, refused the way Azure refuses them: a 400 in ARM's error shape naming the field,
//! a 409 while another operation runs, and Azure's own example bodies accepted or refused.

use crate::common;
use crate::helpers::{
    assert_refused, deployment_body, deployment_path, endpoint_path, start, API, TOKEN, WORKSPACE,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azures_rules_are_refused_with_an_arm_error_naming_the_field() {
    let local = start().await;
    let endpoint = "rules";
    let endpoint_path = endpoint_path(endpoint);

    // Names: 3–32 characters, a letter first, letters, digits and '-', no '-' last.
    for bad in ["ab", "1abc", "bad_name", "ends-", &"x".repeat(33)] {
        let reply = local
            .arm(
                Method::PUT,
                &format!("{WORKSPACE}/onlineEndpoints/{bad}"),
                Some(json!({ "properties": { "authMode": "Key" } })),
            )
            .await;
        assert_refused(&reply, "name");
    }
    // authMode is required.
    let reply = local
        .arm(
            Method::PUT,
            &endpoint_path,
            Some(json!({ "properties": {} })),
        )
        .await;
    assert_refused(&reply, "properties.authMode");

    local.create_endpoint(endpoint).await;
    // Traffic may name only existing deployments.
    let reply = local
        .set_traffic(endpoint, json!({ "ghost": 100 }), json!({}))
        .await;
    assert_refused(&reply, "properties.traffic.ghost");
    local.deploy(endpoint, "blue", "regression-v1").await;
    local.deploy(endpoint, "green", "regression-v2").await;

    let cases = [
        (json!({ "blue": 90 }), json!({}), "properties.traffic"),
        (
            json!({ "blue": 101, "green": -1 }),
            json!({}),
            "properties.traffic.blue",
        ),
        (
            json!({ "blue": 100 }),
            json!({ "green": 51 }),
            "properties.mirrorTraffic.green",
        ),
        (
            json!({ "blue": 50, "green": 50 }),
            json!({ "green": 10 }),
            "properties.mirrorTraffic.green",
        ),
        (
            json!({ "blue": 100 }),
            json!({ "green": 10, "blue": 10 }),
            "properties.mirrorTraffic",
        ),
    ];
    for (traffic, mirror, field) in cases {
        let reply = local
            .set_traffic(endpoint, traffic.clone(), mirror.clone())
            .await;
        assert_refused(&reply, field);
    }
    // Nothing of a refused change was applied.
    let current = local.arm(Method::GET, &endpoint_path, None).await.body;
    assert_eq!(current["properties"]["traffic"], json!({}));

    // Deployment limits.
    let big = deployment_path(endpoint, "big");
    let mut body = deployment_body("regression-v1", 51);
    let reply = local.arm(Method::PUT, &big, Some(body.clone())).await;
    assert_refused(&reply, "sku.capacity");
    body = deployment_body("regression-v1", 1);
    body["properties"]["requestSettings"]["requestTimeout"] = json!("PT181S");
    let reply = local.arm(Method::PUT, &big, Some(body.clone())).await;
    assert_refused(&reply, "properties.requestSettings.requestTimeout");
    body = deployment_body("regression-v1", 1);
    body["properties"]["endpointComputeType"] = json!("Kubernetes");
    let reply = local.arm(Method::PUT, &big, Some(body)).await;
    assert_refused(&reply, "properties.endpointComputeType");
    let reply = local
        .arm(Method::PUT, &big, Some(deployment_body("no-such-model", 1)))
        .await;
    assert_refused(&reply, "properties.model");

    // A deployment with live or mirror traffic can't be deleted.
    local
        .move_traffic(endpoint, json!({ "blue": 100 }), json!({ "green": 20 }))
        .await;
    for (name, field) in [
        ("blue", "properties.traffic.blue"),
        ("green", "properties.mirrorTraffic.green"),
    ] {
        let reply = local
            .arm(Method::DELETE, &deployment_path(endpoint, name), None)
            .await;
        assert_refused(&reply, field);
    }

    // One operation at a time per endpoint.
    let creating = local
        .arm(
            Method::PUT,
            &deployment_path(endpoint, "third"),
            Some(deployment_body("regression-v1", 1)),
        )
        .await;
    assert_eq!(creating.status, StatusCode::CREATED);
    let clash = local
        .set_traffic(endpoint, json!({ "blue": 100 }), json!({}))
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
    assert_eq!(clash.body["error"]["code"], "Conflict");
    assert_eq!(local.settle(&creating).await["status"], "Succeeded");

    // api-version and the bearer token.
    let url = format!("{}{endpoint_path}", local.emulator.control_url);
    let missing = local.send(Method::GET, &url, None, Some(TOKEN)).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["error"]["code"], "MissingApiVersionParameter");
    let malformed = local
        .send(
            Method::GET,
            &format!("{url}?api-version=2024-13-01"),
            None,
            Some(TOKEN),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        malformed.body["error"]["code"],
        "InvalidApiVersionParameter"
    );
    let old_preview = local
        .send(
            Method::GET,
            &format!("{url}?api-version=2022-02-01-preview"),
            None,
            Some(TOKEN),
        )
        .await;
    assert_eq!(old_preview.status, StatusCode::OK);
    let anonymous = local
        .send(Method::GET, &format!("{url}?{API}"), None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.body["error"]["code"], "AuthenticationFailed");
    let wrong = local
        .send(Method::GET, &format!("{url}?{API}"), None, Some("nope"))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["error"]["code"], "InvalidAuthenticationToken");

    // Scoring: a wrong key is 401, an unknown deployment 404; regenerating a key retires it.
    let key = local.key(endpoint).await;
    let (status, _, _) = local.score(endpoint, "wrong-key", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = local.score(endpoint, &key, Some("ghost")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let regenerate = local
        .arm(
            Method::POST,
            &format!("{endpoint_path}/regenerateKeys"),
            Some(json!({ "keyType": "Primary" })),
        )
        .await;
    local.succeeds(&regenerate, StatusCode::ACCEPTED).await;
    let (status, _, _) = local.score(endpoint, &key, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old key stops working at once"
    );
    let (status, _, _) = local
        .score(endpoint, &local.key(endpoint).await, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_takes_at_most_twenty_deployments() {
    let local = start().await;
    // Deployments whose init() fails end quickly and hold no process, but still count.
    let _code = local
        .register_code("quick-fail", "def init():\n    raise SystemExit(1)\n")
        .await;
    local.create_endpoint("crowded").await;
    let mut body = deployment_body("regression-v1", 1);
    body["properties"]["codeConfiguration"]["codeId"] = json!("azureml:quick-fail:1");
    for i in 0..20 {
        local
            .create_deployment_from("crowded", &format!("d{i:02}"), body.clone())
            .await;
    }
    let reply = local
        .arm(
            Method::PUT,
            &deployment_path("crowded", "d20"),
            Some(body.clone()),
        )
        .await;
    assert_refused(&reply, "at most 20 deployments");
    body["properties"]["requestSettings"]["maxConcurrentRequestsPerInstance"] = json!(0);
    let reply = local
        .arm(Method::PUT, &deployment_path("crowded", "d00"), Some(body))
        .await;
    assert_refused(
        &reply,
        "properties.requestSettings.maxConcurrentRequestsPerInstance",
    );
    local.emulator.shutdown().await;
}

/// A request body from Azure's public examples (`parameters.body`).
fn example_body(file: &str) -> Value {
    let path = common::manifest_dir()
        .join("../shared/tests/fixtures/azure-rest-examples")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let example: Value = serde_json::from_str(&text).expect("json");
    example["parameters"]["body"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azures_example_request_bodies_are_accepted_or_refused_with_a_reason() {
    let local = start().await;
    let endpoint = endpoint_path("examples");
    local.create_endpoint("examples").await;
    local.deploy("examples", "blue", "regression-v1").await;
    let deployment = deployment_path("examples", "blue");

    // (example file, method, path, Ok(status) or Err(what the refusal must name))
    let cases: [(&str, Method, String, Result<StatusCode, &str>); 9] = [
        // Sends traffic to a deployment called "string", which this endpoint does not have.
        (
            "Workspace/OnlineEndpoint/createOrUpdate.json",
            Method::PUT,
            endpoint_path("examples-put"),
            Err("properties.traffic.string"),
        ),
        (
            "2024-10-01/Workspace/OnlineEndpoint/update.json",
            Method::PATCH,
            endpoint.clone(),
            Ok(StatusCode::ACCEPTED),
        ),
        // Asks for a 5-minute request timeout; Azure's limit is 180 s.
        (
            "OnlineDeployment/ManagedOnlineDeployment/createOrUpdate.json",
            Method::PUT,
            format!("{endpoint}/deployments/managed"),
            Err("properties.requestSettings.requestTimeout"),
        ),
        // Kubernetes compute is not something the local workspace runs.
        (
            "OnlineDeployment/KubernetesOnlineDeployment/createOrUpdate.json",
            Method::PUT,
            format!("{endpoint}/deployments/k8s"),
            Err("properties.endpointComputeType"),
        ),
        (
            "OnlineDeployment/ManagedOnlineDeployment/update.json",
            Method::PATCH,
            deployment.clone(),
            Ok(StatusCode::ACCEPTED),
        ),
        (
            "OnlineDeployment/KubernetesOnlineDeployment/update.json",
            Method::PATCH,
            deployment.clone(),
            Ok(StatusCode::ACCEPTED),
        ),
        (
            "Workspace/OnlineEndpoint/regenerateKeys.json",
            Method::POST,
            format!("{endpoint}/regenerateKeys"),
            Ok(StatusCode::ACCEPTED),
        ),
        (
            "2024-10-01/OnlineDeployment/getLogs.json",
            Method::POST,
            format!("{deployment}/getLogs"),
            Ok(StatusCode::OK),
        ),
        (
            "Workspace/ModelVersion/createOrUpdate.json",
            Method::PUT,
            format!("{WORKSPACE}/models/example-model/versions/1"),
            Ok(StatusCode::OK),
        ),
    ];
    for (file, method, path, expected) in cases {
        let reply = local.arm(method, &path, Some(example_body(file))).await;
        match expected {
            Ok(status) => {
                assert_eq!(reply.status, status, "{file}: {}", reply.body);
                if reply.headers.contains_key("location")
                    || reply.headers.contains_key("azure-asyncoperation")
                {
                    assert_eq!(local.settle(&reply).await["status"], "Succeeded", "{file}");
                }
            }
            Err(field) => assert_refused(&reply, field),
        }
    }
    local.emulator.shutdown().await;
}
