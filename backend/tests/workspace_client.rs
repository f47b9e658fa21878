//! The ARM client against the real local workspace, and against a small misbehaving server for
//! the faults the local workspace does not produce on demand.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use axum::Router;
use common::{deployment_name, endpoint_name};
#[path = "common/mod.rs"]
mod common;

use backend::emulator::Emulator;
use backend::secret::Secret;
use backend::workspace::{ArmClient, ArmClientConfig, RetryPolicy, StaticToken, WorkspaceError};
use serde_json::{json, Value};
use shared::arm::{
    AuthMode, CodeConfiguration, EndpointComputeType, KeyType, OnlineDeployment,
    OnlineDeploymentProperties, OnlineEndpoint, OnlineEndpointProperties, ProbeSettings, Sku,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "client-test-token";

fn config(base_url: &str, retry: RetryPolicy) -> ArmClientConfig {
    ArmClientConfig {
        base_url: base_url.to_owned(),
        subscription: "00000000-1111-2222-3333-444444444444".into(),
        resource_group: "rg".into(),
        workspace: "ws".into(),
        api_version: ArmClientConfig::API_VERSION.into(),
        retry,
        operation_timeout: Duration::from_secs(60),
        raw_samples: true,
    }
}

fn client(base_url: &str, retry: RetryPolicy) -> ArmClient {
    ArmClient::new(
        config(base_url, retry),
        Arc::new(StaticToken(Secret::new(TOKEN))),
    )
    .expect("client")
}

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
    }
}

fn split(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

async fn local_workspace() -> (Emulator, tempfile::TempDir) {
    let state = tempfile::tempdir().expect("state");
    let config = common::local_workspace_config(state.path(), TOKEN, false);
    (common::start_local_workspace(config).await, state)
}

fn deployment(model: &str, code: &str) -> OnlineDeployment {
    OnlineDeployment {
        location: Some("local".into()),
        sku: Some(Sku {
            name: "Default".into(),
            capacity: Some(1),
            ..Default::default()
        }),
        properties: OnlineDeploymentProperties {
            endpoint_compute_type: Some(EndpointComputeType::Managed),
            model: Some(format!("azureml:{model}:1")),
            code_configuration: Some(CodeConfiguration {
                code_id: Some(format!("azureml:{code}:1")),
                scoring_script: Some("score.py".into()),
                ..Default::default()
            }),
            environment_id: Some("azureml:python-stdlib:1".into()),
            readiness_probe: Some(ProbeSettings {
                initial_delay: Some("PT0S".into()),
                period: Some("PT0.2S".into()),
                failure_threshold: Some(50),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn new_endpoint() -> OnlineEndpoint {
    OnlineEndpoint {
        location: Some("local".into()),
        properties: OnlineEndpointProperties {
            auth_mode: Some(AuthMode::Key),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_drives_the_local_workspace_through_the_seed_steps() {
    let (emulator, _state) = local_workspace().await;
    let arm = client(&emulator.control_url, RetryPolicy::default());

    let created = arm
        .create_endpoint(&endpoint_name("client-flow"), new_endpoint())
        .await
        .expect("endpoint");
    assert_eq!(
        created.properties.provisioning_state.map(|s| s.to_string()),
        Some("Succeeded".into())
    );
    let blue = arm
        .create_deployment(
            &endpoint_name("client-flow"),
            &deployment_name("blue"),
            &deployment("regression-v1", "regression-v1"),
        )
        .await
        .expect("blue");
    assert_eq!(
        blue.properties.provisioning_state.map(|s| s.to_string()),
        Some("Succeeded".into())
    );
    let live = arm
        .update_traffic(
            &endpoint_name("client-flow"),
            None,
            split(&[("blue", 100)]),
            split(&[]),
        )
        .await
        .expect("traffic");
    assert_eq!(live.properties.traffic, Some(split(&[("blue", 100)])));
    assert!(arm
        .list_keys(&endpoint_name("client-flow"))
        .await
        .expect("keys")
        .primary_key
        .is_some());
    let scaled = arm
        .scale_deployment(&endpoint_name("client-flow"), &deployment_name("blue"), 2)
        .await
        .expect("scale");
    assert_eq!(scaled.sku.and_then(|s| s.capacity), Some(2));
    arm.create_deployment(
        &endpoint_name("client-flow"),
        &deployment_name("green"),
        &deployment("regression-v2", "regression-v2"),
    )
    .await
    .expect("green");
    assert_eq!(
        arm.list_deployments(&endpoint_name("client-flow"))
            .await
            .expect("list")
            .len(),
        2
    );

    // Mirror 10 %, against the split the caller saw.
    let seen = split(&[("blue", 100)]);
    let none = split(&[]);
    let mirrored = arm
        .update_traffic(
            &endpoint_name("client-flow"),
            Some((&seen, &none)),
            split(&[("blue", 100)]),
            split(&[("green", 10)]),
        )
        .await
        .expect("mirror");
    assert_eq!(
        mirrored.properties.mirror_traffic,
        Some(split(&[("green", 10)]))
    );

    // Two changes made against the same (now stale) view: serialized, one wins, one is told.
    let arm = Arc::new(arm);
    let seen = (split(&[("blue", 100)]), split(&[("green", 10)]));
    let attempts = [
        split(&[("blue", 90), ("green", 10)]),
        split(&[("blue", 80), ("green", 20)]),
    ]
    .map(|target| {
        let (arm, seen) = (Arc::clone(&arm), seen.clone());
        tokio::spawn(async move {
            arm.update_traffic(
                &endpoint_name("client-flow"),
                Some((&seen.0, &seen.1)),
                target,
                split(&[("green", 0)]),
            )
            .await
        })
    });
    let mut outcomes = Vec::new();
    for attempt in attempts {
        outcomes.push(attempt.await.expect("task"));
    }
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(won, 1, "exactly one change applies");
    let stale = outcomes.iter().find_map(|o| match o {
        Err(WorkspaceError::StaleTraffic { current }) => Some(current.properties.traffic.clone()),
        _ => None,
    });
    let winner = outcomes
        .iter()
        .find_map(|o| o.as_ref().ok())
        .expect("a winner");
    assert_eq!(
        stale.expect("the other is stale"),
        winner.properties.traffic,
        "the loser sees the current split"
    );

    // Azure's refusal reaches the caller unchanged.
    match arm
        .delete_deployment(&endpoint_name("client-flow"), &deployment_name("green"))
        .await
    {
        Err(WorkspaceError::Arm {
            status: 400,
            code,
            message,
            ..
        }) => {
            assert_eq!(code, "BadRequest");
            assert!(message.contains("live traffic"), "{message}");
        }
        other => panic!("deleting a deployment with traffic must be refused: {other:?}"),
    }
    arm.update_traffic(
        &endpoint_name("client-flow"),
        None,
        split(&[("blue", 0), ("green", 100)]),
        split(&[]),
    )
    .await
    .expect("cut over");
    arm.delete_deployment(&endpoint_name("client-flow"), &deployment_name("blue"))
        .await
        .expect("delete blue");
    let logs = arm
        .logs(&endpoint_name("client-flow"), &deployment_name("green"), 50)
        .await
        .expect("logs");
    assert!(
        logs.contains("HARNESS_READY"),
        "green's instance logged its start: {logs}"
    );
    arm.delete_endpoint(&endpoint_name("client-flow"))
        .await
        .expect("delete endpoint");
    assert!(matches!(
        arm.get_endpoint(&endpoint_name("client-flow")).await,
        Err(WorkspaceError::Arm { status: 404, .. })
    ));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_operation_surfaces_azures_message() {
    let (emulator, _state) = local_workspace().await;
    let code = tempfile::tempdir().expect("code");
    std::fs::write(
        code.path().join("score.py"),
        "def init():\n    raise ValueError('bad weights')\n\ndef run(raw):\n    return raw\n",
    )
    .expect("script");
    let http = reqwest::Client::new();
    let registered = http
        .put(format!(
            "{}/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/codes/bad/versions/1?api-version=2024-04-01",
            emulator.control_url
        ))
        .bearer_auth(TOKEN)
        .json(&json!({ "properties": { "codeUri": format!("file://{}", code.path().display()) } }))
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success());
    let arm = client(&emulator.control_url, RetryPolicy::default());
    arm.create_endpoint(&endpoint_name("failing"), new_endpoint())
        .await
        .expect("endpoint");
    match arm
        .create_deployment(
            &endpoint_name("failing"),
            &deployment_name("blue"),
            &deployment("regression-v1", "bad"),
        )
        .await
    {
        Err(WorkspaceError::OperationFailed { code, message }) => {
            assert_eq!(code, "DeploymentFailed");
            assert!(message.contains("ValueError: bad weights"), "{message}");
        }
        other => panic!("expected the operation's failure, got {other:?}"),
    }
    emulator.shutdown().await;
}

/// What the misbehaving server saw and how it should answer.
#[derive(Default)]
struct Script {
    hits: u32,
    puts: Vec<Value>,
    /// Bodies of the other writes and actions (POST, PATCH), with the method and the path.
    actions: Vec<(String, String, Value)>,
    /// Answers to give first, in order: (status, Retry-After seconds).
    faults: Vec<(u16, Option<u64>)>,
    delay: Option<Duration>,
}

async fn misbehaving(
    State(script): State<Arc<Mutex<Script>>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let (fault, delay) = {
        let mut s = script.lock().expect("script");
        s.hits += 1;
        if method == axum::http::Method::PUT {
            s.puts
                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
        } else if method == axum::http::Method::POST || method == axum::http::Method::PATCH {
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            s.actions
                .push((method.to_string(), uri.path().to_owned(), body));
        }
        let fault = if s.faults.is_empty() {
            None
        } else {
            Some(s.faults.remove(0))
        };
        (fault, s.delay)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if let Some((status, retry_after)) = fault {
        let mut headers = HeaderMap::new();
        if let Some(seconds) = retry_after {
            headers.insert("retry-after", seconds.to_string().parse().expect("header"));
        }
        let body = json!({ "error": { "code": "Throttled", "message": "slow down" } });
        return (
            StatusCode::from_u16(status).expect("status"),
            headers,
            axum::Json(body),
        )
            .into_response();
    }
    let last_put = script.lock().expect("script").puts.last().cloned();
    // Without a PUT yet, an endpoint as an old client might have left it: no mirrorTraffic.
    let endpoint = last_put.unwrap_or_else(
        || json!({ "name": "ept", "properties": { "authMode": "Key", "traffic": { "blue": 100 } } }),
    );
    axum::Json(endpoint).into_response()
}

async fn fault_server(script: Script) -> (String, Arc<Mutex<Script>>) {
    let script = Arc::new(Mutex::new(script));
    let app = Router::new()
        .fallback(any(misbehaving))
        .with_state(Arc::clone(&script));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, script)
}

#[tokio::test]
async fn every_endpoint_put_carries_both_traffic_and_mirror_traffic() {
    let (url, script) = fault_server(Script::default()).await;
    let arm = client(&url, fast_retries(1));
    arm.update_traffic(
        &endpoint_name("ept"),
        None,
        split(&[("blue", 100)]),
        split(&[]),
    )
    .await
    .expect("update");
    arm.create_endpoint(&endpoint_name("fep"), new_endpoint())
        .await
        .expect("create");
    let puts = script.lock().expect("script").puts.clone();
    assert_eq!(puts.len(), 2);
    for put in puts {
        assert!(put["properties"]["traffic"].is_object(), "{put}");
        assert!(put["properties"]["mirrorTraffic"].is_object(), "{put}");
    }
}

#[tokio::test]
async fn key_scale_and_log_requests_send_the_bodies_azure_documents() {
    let (url, script) = fault_server(Script::default()).await;
    let arm = client(&url, fast_retries(1));
    arm.regenerate_key(&endpoint_name("ept"), KeyType::Secondary)
        .await
        .expect("regenerate");
    arm.scale_deployment(&endpoint_name("ept"), &deployment_name("blue"), 3)
        .await
        .expect("scale");
    arm.logs(&endpoint_name("ept"), &deployment_name("blue"), 50)
        .await
        .expect("logs");
    let workspace = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws";
    let sent: Vec<(String, String, Value)> = script
        .lock()
        .expect("script")
        .actions
        .iter()
        .map(|(method, path, body)| {
            let tail = path.strip_prefix(workspace).unwrap_or(path).to_owned();
            (method.clone(), tail, body.clone())
        })
        .collect();
    assert_eq!(
        sent,
        [
            (
                "POST".to_owned(),
                "/onlineEndpoints/ept/regenerateKeys".to_owned(),
                json!({ "keyType": "Secondary" })
            ),
            (
                "PATCH".to_owned(),
                "/onlineEndpoints/ept/deployments/blue".to_owned(),
                json!({ "sku": { "capacity": 3 } })
            ),
            (
                "POST".to_owned(),
                "/onlineEndpoints/ept/deployments/blue/getLogs".to_owned(),
                json!({ "containerType": "InferenceServer", "tail": 50 })
            ),
        ]
    );
}

#[tokio::test]
async fn throttling_is_waited_out_as_retry_after_says() {
    let (url, script) = fault_server(Script {
        faults: vec![(429, Some(1))],
        ..Script::default()
    })
    .await;
    let arm = client(&url, fast_retries(3));
    let started = std::time::Instant::now();
    arm.get_endpoint(&endpoint_name("ept"))
        .await
        .expect("succeeds after the throttle");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(script.lock().expect("script").hits, 2);
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let (url, script) = fault_server(Script {
        faults: vec![(503, None); 10],
        ..Script::default()
    })
    .await;
    let arm = client(&url, fast_retries(3));
    match arm.get_endpoint(&endpoint_name("ept")).await {
        Err(WorkspaceError::Arm {
            status: 503, code, ..
        }) => assert_eq!(code, "Throttled"),
        other => panic!("expected the last 503, got {other:?}"),
    }
    assert_eq!(script.lock().expect("script").hits, 3);
    // A 4xx is not retried.
    let (url, script) = fault_server(Script {
        faults: vec![(404, None)],
        ..Script::default()
    })
    .await;
    assert!(client(&url, fast_retries(3))
        .get_endpoint(&endpoint_name("ept"))
        .await
        .is_err());
    assert_eq!(script.lock().expect("script").hits, 1);
}

#[tokio::test]
async fn a_workspace_that_does_not_answer_times_out_clearly() {
    let (url, _script) = fault_server(Script {
        delay: Some(Duration::from_secs(5)),
        ..Script::default()
    })
    .await;
    let mut retry = fast_retries(2);
    retry.request_timeout = Duration::from_millis(200);
    match client(&url, retry)
        .get_endpoint(&endpoint_name("ept"))
        .await
    {
        Err(err @ WorkspaceError::Timeout(_)) => {
            assert!(err.to_string().contains("did not answer"))
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}
