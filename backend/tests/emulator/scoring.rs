//! The data plane answers as Azure's scoring URIs do: 404 without live traffic, 424 for a model
//! error, 408 past the request timeout, 413 for a body too large, 429 past the queue, and
//! metrics per endpoint and for Prometheus.

use crate::helpers::{deployment_body, sample_request, start};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoring_answers_with_azures_status_codes() {
    let local = start().await;
    local.create_endpoint("codes").await;
    // Always failing, and too slow for a 1 s timeout: the faulty model, tuned by environment.
    let mut failing = deployment_body("regression-v3-faulty", 1);
    failing["properties"]["environmentVariables"] =
        json!({ "FAULTY_FAILURE_RATE": "1", "FAULTY_DELAY_MS": "0" });
    let mut slow = deployment_body("regression-v3-faulty", 1);
    slow["properties"]["environmentVariables"] =
        json!({ "FAULTY_FAILURE_RATE": "0", "FAULTY_DELAY_MS": "1500" });
    slow["properties"]["requestSettings"]["requestTimeout"] = json!("PT1S");
    for (name, body) in [("failing", failing), ("slow", slow)] {
        let outcome = local.create_deployment_from("codes", name, body).await;
        assert_eq!(outcome["status"], "Succeeded");
    }
    let key = local.key("codes").await;

    let (status, _, _) = local.score("codes", &key, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no deployment has live traffic"
    );

    let response = local
        .http
        .post(local.score_url("codes"))
        .bearer_auth(&key)
        .header("azureml-model-deployment", "failing")
        .header("x-ms-client-request-id", "client-id-1")
        .json(&sample_request())
        .send()
        .await
        .expect("score");
    assert_eq!(response.status(), StatusCode::FAILED_DEPENDENCY);
    assert_eq!(response.headers()["x-request-id"], "client-id-1");
    let reason = response.headers()["ms-azureml-model-error-reason"]
        .to_str()
        .expect("ascii");
    assert!(reason.contains("simulated model failure"), "{reason}");

    let (status, by, _) = local.score("codes", &key, Some("slow")).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(by.as_deref(), Some("slow"));

    let too_big = vec![b' '; backend::emulator::scoring::MAX_BODY_BYTES + 1];
    let response = local
        .http
        .post(local.score_url("codes"))
        .bearer_auth(&key)
        .header("azureml-model-deployment", "failing")
        .body(too_big)
        .send()
        .await
        .expect("score");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // More than 2 × maxConcurrentRequestsPerInstance × instances pending: 429.
    let requests = (0..6).map(|_| {
        let http = local.http.clone();
        let url = local.score_url("codes");
        let key = key.clone();
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(key)
                .header("azureml-model-deployment", "slow")
                .json(&sample_request())
                .send()
                .await
                .map(|r| r.status())
        })
    });
    let mut statuses = Vec::new();
    for request in requests.collect::<Vec<_>>() {
        statuses.push(request.await.expect("task").expect("answer"));
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );

    // Metrics: JSON per endpoint and Prometheus text for all.
    let metrics: Value = local
        .http
        .get(format!(
            "{}/endpoints/codes/metrics",
            local.emulator.scoring_url
        ))
        .send()
        .await
        .expect("metrics")
        .json()
        .await
        .expect("json");
    assert_eq!(
        metrics["deployments"]["failing"]["live"]["statuses"]["424"],
        1
    );
    let text = local
        .http
        .get(format!("{}/metrics", local.emulator.scoring_url))
        .send()
        .await
        .expect("prometheus")
        .text()
        .await
        .expect("text");
    assert!(text.contains(r#"greenlight_scoring_requests_total{endpoint="codes",deployment="failing",traffic="live",status="424"} 1"#), "{text}");
    local.emulator.shutdown().await;
}
