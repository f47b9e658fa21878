//! Who may call the workspace: issued AML tokens (and no keys) for an AMLToken endpoint, and
//! HTTPS on both planes with a certificate a client can choose to trust.

use crate::common::{local_workspace_config, start_local_workspace};
use crate::helpers::{endpoint_path, start, Local, API, TOKEN, WORKSPACE};
use reqwest::{Method, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aml_token_endpoint_takes_issued_tokens_only() {
    let local = start().await;
    let path = endpoint_path("tokens");
    local.create_endpoint_with_auth("tokens", "AMLToken").await;
    local.blue_takes_all_traffic("tokens").await;
    let keys = local
        .arm(Method::POST, &format!("{path}/listKeys"), None)
        .await;
    assert_eq!(
        keys.status,
        StatusCode::BAD_REQUEST,
        "no keys for AMLToken endpoints"
    );
    let token = local
        .arm(Method::POST, &format!("{path}/token"), None)
        .await;
    assert_eq!(token.status, StatusCode::OK);
    let expiry = token.body["expiryTimeUtc"].as_i64().expect("expiry");
    assert!(expiry > chrono::Utc::now().timestamp());
    let access = token.body["accessToken"].as_str().expect("token");
    let (status, _, _) = local.score("tokens", access, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = local.score("tokens", "made-up-token", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_both_planes_serve_https_with_a_certificate_clients_can_trust() {
    let state = tempfile::tempdir().expect("state dir");
    let mut config = local_workspace_config(state.path(), TOKEN, true);
    config.examples_dir = None;
    let emulator = start_local_workspace(config).await;
    assert!(emulator.control_url.starts_with("https://127.0.0.1:"));
    assert!(emulator.scoring_url.starts_with("https://127.0.0.1:"));
    let pem =
        std::fs::read(emulator.certificate.as_ref().expect("a certificate path")).expect("pem");
    let trusting = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("certificate"))
        .build()
        .expect("client");
    let local = Local::new(emulator, trusting, Some(state));
    let workspace = local.arm(Method::GET, WORKSPACE, None).await;
    assert_eq!(workspace.status, StatusCode::OK);
    local.create_endpoint("secure").await;
    let key = local.key("secure").await;
    let (status, _, body) = local.score("secure", &key, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "served over https: {body}");

    let untrusting = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let refused = untrusting
        .get(format!("{}{WORKSPACE}?{API}", local.emulator.control_url))
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a client that does not trust the certificate is refused"
    );
    local.emulator.shutdown().await;
}
