//! The data plane answers as Azure's scoring URIs do: 404 without live traffic, 424 for a model
//! error, 408 past the request timeout, 413 for a body too large, 400 for one cut off, 429 past
//! the queue, the same through its hot path and through its router, and
//! raw traffic samples per endpoint (for the endpoint's key or token) and counters for
//! Prometheus (for the workspace's token).

use crate::helpers::{deployment_body, endpoint_path, sample_request, start, TOKEN};
use reqwest::{Method, StatusCode};
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
    assert_eq!(cut_off_request(&local.score_url("codes"), &key).await, 400);

    // The hot path takes plain scoring URIs; an encoded name and other methods go through the
    // router, to the same scoring code.
    let (status, by, _) = local.score("cod%65s", &key, Some("failing")).await;
    assert_eq!(status, StatusCode::FAILED_DEPENDENCY);
    assert_eq!(by.as_deref(), Some("failing"));
    let status = status_of(&local, &local.score_url("codes"), Some(&key)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

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

    // Samples: JSON per endpoint, each request with its status; Prometheus text for all.
    let window: Value = local
        .http
        .get(format!(
            "{}/endpoints/codes/samples",
            local.emulator.scoring_url
        ))
        .bearer_auth(&key)
        .send()
        .await
        .expect("samples")
        .json()
        .await
        .expect("json");
    let failing = &window["deployments"]["failing"]["live"];
    assert_eq!(failing["granularity"], "per_request", "{window}");
    let statuses: Vec<&Value> = failing["samples"]
        .as_array()
        .map(|samples| samples.iter().map(|s| &s["status"]).collect())
        .unwrap_or_default();
    assert_eq!(statuses, vec![&json!(424); 2], "{window}");
    let bad = local
        .http
        .get(format!(
            "{}/endpoints/codes/samples?start_ms=yesterday",
            local.emulator.scoring_url
        ))
        .bearer_auth(&key)
        .send()
        .await
        .expect("samples");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let refusal: Value = bad.json().await.expect("json");
    assert!(
        refusal["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("start_ms ")),
        "{refusal}"
    );
    let text = local
        .http
        .get(format!("{}/metrics", local.emulator.scoring_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("prometheus")
        .text()
        .await
        .expect("text");
    assert!(text.contains(r#"greenlight_scoring_requests_total{endpoint="codes",deployment="failing",traffic="live",status="424"} 2"#), "{text}");
    local.emulator.shutdown().await;
}

/// The status of a GET of `url` with `credential` as bearer token (none when `None`).
async fn status_of(
    local: &crate::helpers::Local,
    url: &str,
    credential: Option<&str>,
) -> StatusCode {
    local.send(Method::GET, url, None, credential).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoring_samples_need_the_endpoint_key() {
    let local = start().await;
    local.create_endpoint("keyed").await;
    local.create_endpoint_with_auth("tokened", "AMLToken").await;
    let keys = local
        .arm(
            Method::POST,
            &format!("{}/listKeys", endpoint_path("keyed")),
            None,
        )
        .await;
    let other = local.key("keyed").await;
    let url = |endpoint: &str| {
        format!(
            "{}/endpoints/{endpoint}/samples",
            local.emulator.scoring_url
        )
    };

    for refused in [None, Some("made-up-key"), Some(TOKEN)] {
        assert_eq!(
            status_of(&local, &url("keyed"), refused).await,
            StatusCode::UNAUTHORIZED,
            "{refused:?} may not read the samples"
        );
    }
    for key in ["primaryKey", "secondaryKey"] {
        let key = keys.body[key].as_str().expect("a key");
        let reply = local
            .send(Method::GET, &url("keyed"), None, Some(key))
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body["deployments"].is_object(), "{}", reply.body);
    }

    // An AMLToken endpoint takes its issued tokens, and not another endpoint's key.
    let token = local
        .arm(
            Method::POST,
            &format!("{}/token", endpoint_path("tokened")),
            None,
        )
        .await;
    let access = token.body["accessToken"].as_str().expect("a token");
    assert_eq!(
        status_of(&local, &url("tokened"), Some(access)).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&local, &url("tokened"), Some(&other)).await,
        StatusCode::UNAUTHORIZED
    );
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_metrics_need_the_token() {
    let local = start().await;
    local.create_endpoint("scraped").await;
    let key = local.key("scraped").await;
    let url = format!("{}/metrics", local.emulator.scoring_url);
    for refused in [None, Some("made-up-token"), Some(key.as_str())] {
        assert_eq!(
            status_of(&local, &url, refused).await,
            StatusCode::UNAUTHORIZED,
            "{refused:?} may not scrape every endpoint"
        );
    }
    let response = local
        .http
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("prometheus");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("text");
    assert!(
        text.starts_with("# HELP greenlight_scoring_requests_total"),
        "{text}"
    );
    local.emulator.shutdown().await;
}

/// The status of a scoring request whose body stops after 10 of the 100 bytes its
/// `Content-Length` announces (the caller shuts its side of the connection).
async fn cut_off_request(url: &str, key: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = reqwest::Url::parse(url).expect("scoring url");
    let address = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().expect("port")
    );
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let head = format!(
        "POST {} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"data\": [",
        url.path()
    );
    stream.write_all(head.as_bytes()).await.expect("send");
    stream.shutdown().await.expect("shut the writing side");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("read the answer");
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"))
}
