//! The seed's whole flow through `/api/v1` as an operator, against a real local workspace: after
//! every step the state is checked through the API and by reading the workspace directly.

use crate::common::{deployment_name, endpoint_name};
use crate::helpers::{spawn_app_with_workspace, Client, LocalWorkspace, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;
use std::collections::BTreeMap;

const ENDPOINT: &str = "seed-flow";

fn deployment(name: &str, model: &str, instances: i64) -> Value {
    json!({
        "name": name,
        "model": format!("azureml:{model}:1"),
        "environment": "azureml:python-stdlib:1",
        "instance_type": "Standard_DS3_v2",
        "instance_count": instances,
        "request_settings": { "request_timeout_ms": 5000 },
        "readiness_probe": { "period_s": 1 },
    })
}

fn split(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(n, s)| ((*n).to_owned(), *s)).collect()
}

/// Live and mirrored split as the workspace itself holds them (zero shares left out).
async fn workspace_split(
    workspace: &LocalWorkspace,
) -> (BTreeMap<String, i64>, BTreeMap<String, i64>) {
    let endpoint = workspace
        .client
        .get_endpoint(&endpoint_name(ENDPOINT))
        .await
        .expect("the workspace has the endpoint");
    let nonzero = |m: Option<BTreeMap<String, i64>>| {
        m.unwrap_or_default()
            .into_iter()
            .filter(|(_, s)| *s != 0)
            .collect::<BTreeMap<_, _>>()
    };
    (
        nonzero(endpoint.properties.traffic),
        nonzero(endpoint.properties.mirror_traffic),
    )
}

/// Changes the split through the API, from the version the API reports, and checks both views.
async fn set_traffic(
    app: &TestApp,
    operator: &Client,
    workspace: &LocalWorkspace,
    live: &[(&str, i64)],
    mirror: &[(&str, i64)],
) {
    let (status, current) = operator
        .get(&format!("/api/v1/endpoints/{ENDPOINT}/traffic"))
        .await;
    assert_eq!(status, StatusCode::OK, "{current}");
    app.approved(
        operator,
        Method::PUT,
        &format!("/api/v1/endpoints/{ENDPOINT}/traffic"),
        Some(json!({
            "traffic": split(live),
            "mirror_traffic": split(mirror),
            "version": current["version"],
        })),
    )
    .await;
    let nonzero = |pairs: &[(&str, i64)]| {
        split(pairs)
            .into_iter()
            .filter(|(_, s)| *s != 0)
            .collect::<BTreeMap<_, _>>()
    };
    let (status, now) = operator
        .get(&format!("/api/v1/endpoints/{ENDPOINT}/traffic"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let api_live: BTreeMap<String, i64> =
        serde_json::from_value(now["traffic"].clone()).expect("traffic map");
    let api_mirror: BTreeMap<String, i64> =
        serde_json::from_value(now["mirror_traffic"].clone()).expect("mirror map");
    let drop_zero = |m: BTreeMap<String, i64>| -> BTreeMap<String, i64> {
        m.into_iter().filter(|(_, s)| *s != 0).collect()
    };
    assert_eq!(drop_zero(api_live), nonzero(live), "API live split");
    assert_eq!(drop_zero(api_mirror), nonzero(mirror), "API mirror split");
    assert_eq!(
        workspace_split(workspace).await,
        (nonzero(live), nonzero(mirror)),
        "the workspace's own split"
    );
}

async fn invoke(operator: &Client, deployment: Option<&str>) -> Value {
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(
            crate::common::examples_dir().join("regression-v1/sample-request.json"),
        )
        .expect("sample request"),
    )
    .expect("sample JSON");
    let (status, answer) = operator
        .send(
            Method::POST,
            &format!("/api/v1/endpoints/{ENDPOINT}/invoke"),
            Some(json!({ "body": sample, "deployment": deployment })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], 200, "{answer}");
    assert!(answer["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0));
    answer
}

/// Invokes by traffic until every one of `wanted` has answered (bounded).
async fn answered_by_traffic(operator: &Client, wanted: &[&str]) -> BTreeMap<String, Value> {
    let mut seen = BTreeMap::new();
    for _ in 0..400 {
        let answer = invoke(operator, None).await;
        let by = answer["deployment"]
            .as_str()
            .expect("answered by")
            .to_owned();
        assert!(wanted.contains(&by.as_str()), "{by} answered: {answer}");
        seen.entry(by).or_insert(answer["body"].clone());
        if seen.len() == wanted.len() {
            return seen;
        }
    }
    panic!("only {:?} answered, wanted {wanted:?}", seen.keys());
}

async fn metrics(operator: &Client) -> Value {
    let (status, body) = operator
        .get(&format!("/api/v1/endpoints/{ENDPOINT}/metrics"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_walks_the_seed_flow_through_the_api() {
    let (app, workspace) = spawn_app_with_workspace().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    let endpoints = "/api/v1/endpoints";
    let deployments = format!("/api/v1/endpoints/{ENDPOINT}/deployments");

    // 1. The endpoint.
    let created = operator
        .run(
            Method::POST,
            endpoints,
            Some(json!({ "name": ENDPOINT, "auth_mode": "key", "description": "the seed's endpoint" })),
        )
        .await;
    assert_eq!(created["kind"], "endpoint.create");
    assert!(created["arm_operation_id"].is_string(), "{created}");
    assert!(!created["progress"].as_array().expect("progress").is_empty());
    let (_, endpoint) = operator.get(&format!("{endpoints}/{ENDPOINT}")).await;
    assert_eq!(endpoint["auth_mode"], "Key");
    assert_eq!(endpoint["provisioning_state"], "Succeeded");
    assert_eq!(endpoint["traffic"], json!({}));
    assert_eq!(workspace_split(&workspace).await, (split(&[]), split(&[])));

    // 2. Blue, v1, one instance.
    operator
        .run(
            Method::POST,
            &deployments,
            Some(deployment("blue", "regression-v1", 1)),
        )
        .await;
    let direct = workspace
        .client
        .get_deployment(&endpoint_name(ENDPOINT), &deployment_name("blue"))
        .await
        .expect("blue in the workspace");
    assert_eq!(direct.sku.and_then(|s| s.capacity), Some(1));
    assert_eq!(
        direct
            .properties
            .request_settings
            .and_then(|r| r.request_timeout)
            .as_deref(),
        Some("PT5S")
    );

    // The test panel's starting point: the model's own sample request.
    let (status, sample) = operator
        .get(&format!("{deployments}/blue/sample-request"))
        .await;
    assert_eq!(status, StatusCode::OK, "{sample}");
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(
            crate::common::examples_dir().join("regression-v1/sample-request.json"),
        )
        .expect("sample file"),
    )
    .expect("sample JSON");
    assert_eq!(sample, file);

    // 3. Blue takes all traffic; 4. a request answers from v1.
    set_traffic(&app, &operator, &workspace, &[("blue", 100)], &[]).await;
    let v1 = invoke(&operator, None).await;
    assert_eq!(v1["deployment"], "blue");
    let direct = workspace
        .client
        .invoke(
            &endpoint_name(ENDPOINT),
            None,
            serde_json::to_vec(&json!({"data": [[1,2,3,4,5,6,7,8,9,10]]}))
                .expect("json")
                .into(),
        )
        .await
        .expect("the scoring URI answers directly");
    assert_eq!(direct.status, 200);
    assert_eq!(direct.deployment.as_deref(), Some("blue"));

    // 5. Scale blue to 2; 6. details.
    operator
        .run(
            Method::PATCH,
            &format!("{deployments}/blue"),
            Some(json!({ "instance_count": 2 })),
        )
        .await;
    let (_, blue) = operator.get(&format!("{deployments}/blue")).await;
    assert_eq!(blue["instance_count"], 2);
    assert_eq!(blue["provisioning_state"], "Succeeded");
    assert_eq!(blue["model"], "azureml:regression-v1:1");
    let direct = workspace
        .client
        .get_deployment(&endpoint_name(ENDPOINT), &deployment_name("blue"))
        .await
        .expect("blue");
    assert_eq!(direct.sku.and_then(|s| s.capacity), Some(2));
    assert_eq!(
        metrics(&operator).await["deployments"]["blue"]["ready_instances"],
        2,
        "both instances are ready"
    );
    let (status, logs) = operator
        .get(&format!("{deployments}/blue/logs?tail=20"))
        .await;
    assert_eq!(status, StatusCode::OK, "{logs}");
    assert!(
        logs["content"].as_str().is_some_and(|c| !c.is_empty()),
        "{logs}"
    );

    // 7. Green, v2, at 0 %.
    operator
        .run(
            Method::POST,
            &deployments,
            Some(deployment("green", "regression-v2", 1)),
        )
        .await;
    let (_, listed) = operator.get(&deployments).await;
    let names: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, ["blue", "green"]);
    assert_eq!(
        workspace_split(&workspace).await,
        (split(&[("blue", 100)]), split(&[]))
    );

    // 8. Green answers directly, differently from blue.
    let v2 = invoke(&operator, Some("green")).await;
    assert_eq!(v2["deployment"], "green");
    assert_ne!(v1["body"], v2["body"], "v1 and v2 answer differently");
    assert_eq!(invoke(&operator, None).await["deployment"], "blue");

    // 9. Mirror 10 % to green: live answers stay blue's, green sees mirrored copies.
    set_traffic(
        &app,
        &operator,
        &workspace,
        &[("blue", 100)],
        &[("green", 10)],
    )
    .await;
    let mut mirrored = 0;
    for _ in 0..400 {
        assert_eq!(invoke(&operator, None).await["deployment"], "blue");
        mirrored = metrics(&operator).await["deployments"]["green"]["mirrored"]["requests"]
            .as_u64()
            .unwrap_or(0);
        if mirrored > 0 {
            break;
        }
    }
    assert!(mirrored > 0, "green received mirrored requests");
    // ... then back to 0.
    set_traffic(
        &app,
        &operator,
        &workspace,
        &[("blue", 100)],
        &[("green", 0)],
    )
    .await;

    // 10. 90/10: both answer by traffic, with their own models' answers.
    set_traffic(
        &app,
        &operator,
        &workspace,
        &[("blue", 90), ("green", 10)],
        &[],
    )
    .await;
    let answers = answered_by_traffic(&operator, &["blue", "green"]).await;
    assert_eq!(answers["green"], v2["body"]);
    assert_eq!(answers["blue"], v1["body"]);

    // 11. 0/100.
    set_traffic(
        &app,
        &operator,
        &workspace,
        &[("blue", 0), ("green", 100)],
        &[],
    )
    .await;
    assert_eq!(invoke(&operator, None).await["deployment"], "green");

    // 12. Delete blue.
    app.approved(
        &operator,
        Method::DELETE,
        &format!("{deployments}/blue"),
        None,
    )
    .await;
    let (status, _) = operator.get(&format!("{deployments}/blue")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let gone = workspace
        .client
        .get_deployment(&endpoint_name(ENDPOINT), &deployment_name("blue"))
        .await;
    assert!(gone.is_err(), "blue is gone from the workspace");

    // 13. Delete the endpoint.
    app.approved(
        &operator,
        Method::DELETE,
        &format!("{endpoints}/{ENDPOINT}"),
        None,
    )
    .await;
    let (status, _) = operator.get(&format!("{endpoints}/{ENDPOINT}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(workspace
        .client
        .get_endpoint(&endpoint_name(ENDPOINT))
        .await
        .is_err());

    // Every change is in the audit log, with its actor, before/after and the ARM operation id;
    // each traffic change and delete names the change request and its approver, and that
    // request's creation, approval and application are there too.
    let everything = app.audit_actions().await;
    let requests = |action: &str| everything.iter().filter(|(a, _, _)| a == action).count();
    assert_eq!(
        (
            requests("change_request.create"),
            requests("change_request.approve"),
            requests("change_request.applied")
        ),
        (7, 7, 7)
    );
    let changes: Vec<(String, String, Value)> = everything
        .into_iter()
        .filter(|(action, _, _)| {
            !action.starts_with("session.")
                && !action.starts_with("change_request.")
                && action != "user.create"
        })
        .collect();
    for (action, _, details) in &changes {
        if action == "traffic.change" || action.ends_with(".delete") {
            assert!(
                details["request"]["change_request_id"].is_string(),
                "{details}"
            );
            assert_eq!(
                details["request"]["approvers"],
                json!(["abby"]),
                "{details}"
            );
        }
    }
    let actions: Vec<&str> = changes.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "endpoint.create",
            "deployment.create",
            "traffic.change",
            "deployment.scale",
            "deployment.create",
            "traffic.change",
            "traffic.change",
            "traffic.change",
            "traffic.change",
            "deployment.delete",
            "endpoint.delete",
        ]
    );
    for (action, target, details) in &changes {
        assert_eq!(
            details["outcome"], "succeeded",
            "{action} {target}: {details}"
        );
        assert!(
            details["arm_operation_id"].is_string(),
            "{action}: {details}"
        );
        assert!(details.get("before").is_some() && details.get("after").is_some());
    }
    let (_, scale) = changes
        .iter()
        .map(|(a, t, d)| (a, (t, d)))
        .find(|(a, _)| *a == "deployment.scale")
        .expect("scale audited");
    assert_eq!(scale.0, "seed-flow/blue");
    assert_eq!(scale.1["before"]["instance_count"], 1);
    assert_eq!(scale.1["after"]["instance_count"], 2);
    let (_, audit) = operator.get("/api/v1/audit?limit=3").await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(audit["items"][0]["action"], "change_request.applied");
    assert_eq!(audit["items"][1]["action"], "endpoint.delete");
    assert_eq!(audit["items"][1]["actor"], "olga");
    assert_eq!(audit["items"][2]["action"], "change_request.approve");
    assert_eq!(audit["items"][2]["actor"], "abby");
    workspace.emulator.shutdown().await;
}
