//! Metrics as they are, not as a histogram rounds them: a faulty green's real latency and
//! failure share over a window, its model errors (424) told from throttling (429); Azure
//! Monitor's route on the local workspace read back through the ARM client agreeing with the
//! requests actually sent; a window's raw samples with the answers of mirrored requests.

use crate::helpers::{
    blue_and_green, deployment_request, spawn_app, spawn_app_with_client, spawn_app_with_workspace,
    Client,
};
use backend::secret::Secret;
use backend::workspace::{ArmClient, ArmClientConfig, StaticToken};
use chrono::{Duration as Span, Utc};
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::api::EndpointMetricsSummary;
use shared::gates::{MinuteSample, TrafficSamples, WindowSamples};
use shared::{EndpointName, Role};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The endpoint's scoring URI and primary key, to send load straight to it.
async fn scoring(
    client: &backend::workspace::ArmClient,
    endpoint: &EndpointName,
) -> (String, String) {
    let found = client.get_endpoint(endpoint).await.expect("endpoint");
    let keys = client.list_keys(endpoint).await.expect("keys");
    (
        found.properties.scoring_uri.expect("a scoring URI"),
        keys.primary_key.expect("a key"),
    )
}

/// Sends `n` scoring requests, `at_once` at a time; returns each answer's status.
async fn load(uri: &str, key: &str, n: usize, at_once: usize) -> Vec<u16> {
    let http = reqwest::Client::new();
    let body = json!({ "data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]] });
    let mut statuses = Vec::new();
    for _ in 0..n.div_ceil(at_once) {
        let batch = (0..at_once).map(|_| http.post(uri).bearer_auth(key).json(&body).send());
        for answer in join_all(batch).await {
            statuses.push(answer.expect("an answer").status().as_u16());
        }
    }
    statuses
}

/// Azure Monitor's minutes of `endpoint` since `started`, read through the ARM client.
async fn monitor_since(
    client: &backend::workspace::ArmClient,
    endpoint: &EndpointName,
    started: chrono::DateTime<Utc>,
) -> BTreeMap<String, Vec<MinuteSample>> {
    let (start, end) = (started - Span::minutes(1), Utc::now() + Span::minutes(1));
    client
        .monitor_metrics(endpoint, start, end)
        .await
        .expect("Monitor's metrics")
}

/// The endpoint's metrics over the last five minutes, as `client` reads them from the API.
async fn last_five_minutes(client: &Client, endpoint: &str) -> EndpointMetricsSummary {
    let (status, body) = client
        .get(&format!("/api/v1/endpoints/{endpoint}/metrics?minutes=5"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).expect("a summary")
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faulty_green_shows_its_real_latency_and_failure_share_with_429s_apart() {
    const ENDPOINT: &str = "faulty-metrics";
    let (app, workspace) = spawn_app_with_workspace().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    let mut green = deployment_request("green", "regression-v3-faulty");
    green["environment_variables"] = json!({ "FAULTY_SEED": "12" });
    // Two instances, one request each at a time: the steady load never queues.
    green["instance_count"] = json!(2);
    operator.create_endpoint_with(ENDPOINT, &[green]).await;
    let path = format!("/api/v1/endpoints/{ENDPOINT}/traffic");
    let (_, current) = operator.get(&path).await;
    let change =
        json!({ "traffic": { "green": 100 }, "mirror_traffic": {}, "version": current["version"] });
    app.approved(&operator, Method::PUT, &path, Some(change))
        .await;
    let endpoint = EndpointName::parse(ENDPOINT).expect("a name");
    let started = Utc::now();
    let (uri, key) = scoring(&workspace.client, &endpoint).await;

    // Steady load within the deployment's queue, then a burst past it.
    let mut sent = load(&uri, &key, 50, 2).await;
    sent.extend(load(&uri, &key, 12, 12).await);
    let (failed, throttled) = (count(&sent, 424), count(&sent, 429));
    assert!(throttled > 0, "the burst is throttled: {sent:?}");

    let metrics = last_five_minutes(&operator, ENDPOINT).await;
    let live = &metrics.deployments["green"].live;
    assert_eq!(live.requests, sent.len() as u64);
    assert_eq!(live.model_errors(), failed as u64, "424s are the model's");
    assert_eq!(live.throttled(), throttled as u64, "429s are counted apart");
    let share = failed as f64 / (sent.len() - throttled) as f64;
    let rate = live.model_error_rate().expect("a rate");
    assert!(
        (rate - share).abs() < 1e-12,
        "of those that reached the model"
    );
    assert!((0.15..=0.45).contains(&share), "about 30 % fail: {share}");
    let p50 = live.p50_ms.expect("a median");
    let p95 = live.p95_ms.expect("a p95");
    println!("faulty green: p50 {p50:.1} ms, p95 {p95:.1} ms, failure share {share:.3}, {throttled} throttled of {}", sent.len());
    assert!(
        (195.0..280.0).contains(&p50),
        "near the model's 200 ms, not a bucket's bound: {p50}"
    );
    assert!(p95 >= p50 && p95 < 1_000.0, "{p95}");
    let minutes: f64 = live.minutes.iter().map(|m| m.requests).sum();
    assert_eq!(
        minutes,
        sent.len() as f64,
        "the history adds up: {:?}",
        live.minutes
    );
    assert_eq!(metrics.deployments["green"].ready_instances, Some(2));

    // Azure Monitor's route, read through the ARM client, agrees with what was sent.
    let minutes = monitor_since(&workspace.client, &endpoint, started).await;
    let green = &minutes["green"];
    let sum = |pick: fn(&MinuteSample) -> f64| green.iter().map(pick).sum::<f64>();
    assert_eq!(sum(|m| m.requests), sent.len() as f64, "{green:?}");
    assert_eq!(sum(|m| m.errors), failed as f64, "{green:?}");
    assert_eq!(sum(|m| m.throttled), throttled as f64, "{green:?}");
    assert!(
        green.iter().all(|m| m.p50_ms.is_some_and(|p| p > 150.0)),
        "{green:?}"
    );

    // The Azure path: a client that reads Monitor only, and an app on it.
    let config = ArmClientConfig {
        raw_samples: false,
        ..ArmClientConfig::local(&workspace.emulator.control_url)
    };
    let token = Arc::new(StaticToken(Secret::new("api-test-token")));
    let azure = Arc::new(ArmClient::new(config, token).expect("ARM client"));
    let window = azure
        .window_samples(&endpoint, started - Span::minutes(1), Utc::now())
        .await
        .expect("the window");
    assert_eq!(window.pairs, None, "Azure keeps no answers");
    let samples = &window.deployments["green"];
    assert_eq!(samples.mirrored, TrafficSamples::PerMinute(Vec::new()));
    let TrafficSamples::PerMinute(minutes) = &samples.live else {
        panic!("Monitor's samples are per minute: {samples:?}");
    };
    assert_eq!(
        minutes.iter().map(|m| m.requests).sum::<f64>(),
        sent.len() as f64
    );
    let azure_app = spawn_app_with_client(azure).await;
    let viewer = azure_app.signed_in("vera", Role::Viewer).await;
    let metrics = last_five_minutes(&viewer, ENDPOINT).await;
    let live = &metrics.deployments["green"].live;
    assert_eq!(live.requests, sent.len() as u64);
    assert_eq!(
        (live.model_errors(), live.throttled()),
        (failed as u64, throttled as u64)
    );
    assert!(
        live.p50_ms.is_some_and(|p| (150.0..400.0).contains(&p)),
        "{live:?}"
    );
    assert_eq!(metrics.deployments["green"].ready_instances, None);
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_samples_hold_every_request_and_the_answers_of_mirrored_ones() {
    const ENDPOINT: &str = "mirrored-samples";
    let (_app, workspace, _operator) = blue_and_green(ENDPOINT, json!({ "green": 50 })).await;
    let endpoint = EndpointName::parse(ENDPOINT).expect("a name");
    let started = Utc::now();
    let (uri, key) = scoring(&workspace.client, &endpoint).await;
    let sent = load(&uri, &key, 30, 1).await;
    assert_eq!(count(&sent, 200), 30, "{sent:?}");

    // Mirrored copies are answered in the background: wait until every one is paired and no
    // more come in. The window reaches a minute ahead: a clock step back must not hide one.
    let mut window = WindowSamples::default();
    let mut seen = (0, None);
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        window = workspace
            .client
            .window_samples(
                &endpoint,
                started - Span::minutes(1),
                Utc::now() + Span::minutes(1),
            )
            .await
            .expect("the window");
        let now = (
            per_request(&window, "green", false).len(),
            window.pairs.as_ref().map(Vec::len),
        );
        if now == seen && now.1 == Some(now.0) {
            break;
        }
        seen = now;
    }
    assert_eq!(
        per_request(&window, "blue", true).len(),
        30,
        "every live request"
    );
    assert!(
        per_request(&window, "green", true).is_empty(),
        "green takes no live traffic"
    );
    let mirrored = per_request(&window, "green", false);
    assert!(
        (5..=25).contains(&mirrored.len()),
        "about half mirrored: {}",
        mirrored.len()
    );
    let pairs = window
        .pairs
        .clone()
        .expect("the local workspace keeps answers");
    assert_eq!(pairs.len(), mirrored.len());
    for pair in &pairs {
        assert_eq!(
            (
                pair.live_deployment.as_str(),
                pair.mirror_deployment.as_str()
            ),
            ("blue", "green")
        );
        let live: Value = serde_json::from_str(&pair.live).expect("v1 answers JSON");
        let green: Value = serde_json::from_str(&pair.mirrored).expect("v2 answers JSON");
        assert_ne!(live, green, "v1 and v2 predict differently");
        assert!(
            pair.request.starts_with(r#"{"data":[[1,2,3"#),
            "{}",
            pair.request
        );
    }

    // Monitor counts each deployment's requests, a mirror's copies included.
    let minutes = monitor_since(&workspace.client, &endpoint, started).await;
    let requests = |name: &str| {
        minutes
            .get(name)
            .map_or(0.0, |m| m.iter().map(|m| m.requests).sum())
    };
    let errors: f64 = minutes.values().flatten().map(|m| m.errors).sum();
    assert_eq!(requests("blue"), 30.0);
    assert_eq!(requests("green"), mirrored.len() as f64);
    assert_eq!(errors, 0.0);
    workspace.emulator.shutdown().await;
}

fn per_request(
    window: &WindowSamples,
    deployment: &str,
    live: bool,
) -> Vec<shared::gates::RequestSample> {
    let Some(samples) = window.deployments.get(deployment) else {
        return Vec::new();
    };
    match if live {
        &samples.live
    } else {
        &samples.mirrored
    } {
        TrafficSamples::PerRequest(samples) => samples.clone(),
        TrafficSamples::PerMinute(_) => panic!("the local workspace keeps every request"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_window_outside_one_to_sixty_minutes_is_refused_naming_minutes() {
    let app = spawn_app().await;
    let viewer = app.signed_in("vera", Role::Viewer).await;
    for minutes in ["0", "61", "abc", "-1", "1.5"] {
        let (status, body) = viewer
            .get(&format!(
                "/api/v1/endpoints/any-endpoint/metrics?minutes={minutes}"
            ))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{minutes}: {body}"
        );
        assert_eq!(body["error"]["code"], "validation_failed", "{body}");
        assert_eq!(body["error"]["fields"][0]["field"], "minutes", "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_refuses_an_unknown_metric_as_azure_does() {
    let (_app, workspace) = spawn_app_with_workspace().await;
    let url = format!(
        "{}/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/none/providers/Microsoft.Insights/metrics",
        workspace.emulator.control_url
    );
    let answer = reqwest::Client::new()
        .get(&url)
        .query(&[
            ("api-version", "2023-10-01"),
            ("metricnames", "RequestsPerHour"),
        ])
        .bearer_auth("api-test-token")
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "BadRequest", "{body}");
    assert_eq!(body["error"]["target"], "metricnames", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("metric: RequestsPerHour") && message.contains("RequestLatency_P99"),
        "{message}"
    );
    workspace.emulator.shutdown().await;
}
