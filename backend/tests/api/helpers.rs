//! `spawn_app()` and a typed client with one method per endpoint.

use crate::common::{fresh_database, TestDatabase};
use backend::app::{App, AppSettings};
use backend::auth::oidc::SignInOptions;
use backend::auth::{password, RateLimits, SessionSettings};
use backend::http::UiConfig;
use backend::secret::Secret;
use backend::store::users::{self, PasswordOrigin};
use backend::workspace::{ArmClient, ArmClientConfig, StaticToken};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::api::CSRF_HEADER;
use shared::{Role, Username};
use std::time::Duration;

pub const PASSWORD: &str = "a-long-enough-password";

/// The bearer token of the local workspace behind [`spawn_app_with_workspace`].
pub const WORKSPACE_TOKEN: &str = "api-test-token";

/// Scoring code whose `init()` raises: a deployment of it can't start.
pub const CORRUPT_MODEL: &str =
    "def init():\n    raise ValueError('model file is corrupt')\n\ndef run(raw):\n    return raw\n";

pub struct TestApp {
    pub url: String,
    pub db: TestDatabase,
}

pub fn default_sessions() -> SessionSettings {
    SessionSettings {
        idle: Duration::from_secs(3600),
        absolute: Duration::from_secs(12 * 3600),
        secure_cookie: false,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(RateLimits::default()).await
}

/// An app connected to a real local workspace (returned too, to be read directly).
pub async fn spawn_app_with_workspace() -> (TestApp, LocalWorkspace) {
    spawn_app_with_workspace_tuned(|_| {}).await
}

/// [`spawn_app_with_workspace`] with settings changed by `tune` first.
pub async fn spawn_app_with_workspace_tuned(
    tune: impl FnOnce(&mut AppSettings),
) -> (TestApp, LocalWorkspace) {
    let state = tempfile::tempdir().expect("workspace state");
    let token = WORKSPACE_TOKEN;
    let emulator = crate::common::start_local_workspace(crate::common::local_workspace_config(
        state.path(),
        token,
        false,
    ))
    .await;
    let client = std::sync::Arc::new(
        ArmClient::new(
            ArmClientConfig::local(&emulator.control_url),
            std::sync::Arc::new(StaticToken(Secret::new(token))),
        )
        .expect("ARM client"),
    );
    let info = shared::api::LocalWorkspaceInfo {
        arm_url: emulator.control_url.clone(),
        scoring_url: emulator.scoring_url.clone(),
    };
    let app = spawn_tuned(
        RateLimits::default(),
        Some(std::sync::Arc::clone(&client)),
        Some(info),
        tune,
    )
    .await;
    (
        app,
        LocalWorkspace {
            emulator,
            client,
            _state: state,
        },
    )
}

/// An app with a local workspace, and operator `olga` signed in, who has set up `endpoint` with
/// blue (v1) at 100 % and green (v2) at 0 % live, and `mirror` as its mirrored split.
pub async fn blue_and_green(endpoint: &str, mirror: Value) -> (TestApp, LocalWorkspace, Client) {
    let (app, workspace) = spawn_app_with_workspace().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    operator
        .create_endpoint_with(
            endpoint,
            &[
                deployment_request("blue", "regression-v1"),
                deployment_request("green", "regression-v2"),
            ],
        )
        .await;
    let path = format!("/api/v1/endpoints/{endpoint}/traffic");
    let (status, current) = operator.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{current}");
    let change = json!({
        "traffic": { "blue": 100 },
        "mirror_traffic": mirror,
        "version": current["version"],
    });
    app.approved(&operator, Method::PUT, &path, Some(change))
        .await;
    (app, workspace, operator)
}

/// The approver every test app has on call: `abby` (created on first use).
pub const APPROVER: &str = "abby";

/// A reason for changes that tests ask for.
pub const REASON: &str = "test change";

/// `body` with a `reason`, and `path` with `?reason=` for a delete, as change requests need.
fn with_reason(method: &Method, path: &str, body: Option<Value>) -> (String, Option<Value>) {
    if *method == Method::DELETE && !path.contains('?') {
        return (format!("{path}?reason=test%20change"), body);
    }
    let body = body.map(|mut body| {
        if body.get("reason").is_none() {
            body["reason"] = json!(REASON);
        }
        body
    });
    (path.to_owned(), body)
}

impl TestApp {
    /// Has `client` create `endpoint` with blue (v1) alone, and all live traffic on blue
    /// (approved): where a rollout starts from.
    pub async fn blue_takes_all(&self, client: &Client, endpoint: &str) {
        self.blue_takes_all_with(
            client,
            endpoint,
            deployment_request("blue", "regression-v1"),
        )
        .await;
    }

    /// [`Self::blue_takes_all`] with `blue` as the deployment's API body.
    pub async fn blue_takes_all_with(&self, client: &Client, endpoint: &str, blue: Value) {
        client.create_endpoint_with(endpoint, &[blue]).await;
        let path = format!("/api/v1/endpoints/{endpoint}/traffic");
        let (_, current) = client.get(&path).await;
        let change = json!({ "traffic": { "blue": 100 }, "version": current["version"] });
        self.approved(client, Method::PUT, &path, Some(change))
            .await;
    }

    /// A client signed in as the approver [`APPROVER`].
    pub async fn approver(&self) -> Client {
        let exists: bool =
            sqlx::query_scalar("select exists(select 1 from users where username = $1)")
                .bind(APPROVER)
                .fetch_one(&self.db.pool)
                .await
                .expect("look up the approver");
        if !exists {
            self.add_user(APPROVER, Role::Approver).await;
        }
        let mut client = self.client();
        let (status, _) = client.sign_in(APPROVER, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "sign-in as {APPROVER}");
        client
    }

    /// Asks for a change as `requester` (a traffic change or a delete, with a reason added),
    /// which must answer `202` with a pending change request; has [`APPROVER`] approve it; and
    /// waits for the operation that applies it to succeed. Returns the ended operation.
    pub async fn approved(
        &self,
        requester: &Client,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (path, body) = with_reason(&method, path, body);
        let (status, request) = requester.send(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{method} {path}: {request}");
        assert_eq!(request["state"], "pending", "{request}");
        let id = request["id"].as_str().expect("a change request id");
        let (status, decided) = self
            .approver()
            .await
            .send(
                Method::POST,
                &format!("/api/v1/change-requests/{id}/approve"),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "approve {id}: {decided}");
        assert_eq!(decided["state"], "approved", "{decided}");
        let operation = json!({ "id": decided["operation_id"] });
        let ended = requester.finish(&operation).await;
        assert_eq!(ended["status"], "succeeded", "{ended}");
        ended
    }
}

/// The local workspace behind an app, and a client that reads it directly.
pub struct LocalWorkspace {
    pub emulator: backend::emulator::Emulator,
    pub client: std::sync::Arc<ArmClient>,
    _state: tempfile::TempDir,
}

impl LocalWorkspace {
    /// `endpoint`'s scoring URI and primary key, as a caller of the endpoint would have them.
    pub async fn scoring_target(&self, endpoint: &str) -> (String, String) {
        let name = crate::common::endpoint_name(endpoint);
        let found = self.client.get_endpoint(&name).await.expect("endpoint");
        let uri = found.properties.scoring_uri.expect("scoring uri");
        let keys = self.client.list_keys(&name).await.expect("keys");
        (uri, keys.primary_key.expect("a primary key"))
    }

    /// Registers code version `<name>:1` in the workspace directly: a folder holding a
    /// `score.py` with `source`, which lives as long as the returned guard.
    pub async fn register_code(&self, name: &str, source: &str) -> tempfile::TempDir {
        let code = tempfile::tempdir().expect("code dir");
        std::fs::write(code.path().join("score.py"), source).expect("write score.py");
        let url = format!(
            "{}/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/\
             Microsoft.MachineLearningServices/workspaces/local/codes/{name}/versions/1?api-version=2024-04-01",
            self.emulator.control_url
        );
        let registered = reqwest::Client::new()
            .put(url)
            .bearer_auth(WORKSPACE_TOKEN)
            .json(&json!({ "properties": { "codeUri": format!("file://{}", code.path().display()) } }))
            .send()
            .await
            .expect("register code");
        assert!(registered.status().is_success());
        code
    }

    /// `deployment`'s live share of `endpoint`, read from the workspace itself (absent is 0).
    pub async fn live_share(&self, endpoint: &str, deployment: &str) -> i64 {
        let found = self
            .client
            .get_endpoint(&crate::common::endpoint_name(endpoint))
            .await
            .expect("endpoint");
        found
            .properties
            .traffic
            .and_then(|t| t.get(deployment).copied())
            .unwrap_or(0)
    }
}

/// An app whose workspace is reached through `client`, wherever that points (e.g. nowhere).
pub async fn spawn_app_with_client(client: std::sync::Arc<ArmClient>) -> TestApp {
    spawn(RateLimits::default(), Some(client), None).await
}

pub async fn spawn_app_with(rate_limits: RateLimits) -> TestApp {
    spawn(rate_limits, None, None).await
}

async fn spawn(
    rate_limits: RateLimits,
    workspace: Option<std::sync::Arc<ArmClient>>,
    local_workspace: Option<shared::api::LocalWorkspaceInfo>,
) -> TestApp {
    spawn_tuned(rate_limits, workspace, local_workspace, |_| {}).await
}

/// An app without a workspace, with settings changed by `tune` first.
pub async fn spawn_app_tuned(tune: impl FnOnce(&mut AppSettings)) -> TestApp {
    spawn_tuned(RateLimits::default(), None, None, tune).await
}

async fn spawn_tuned(
    rate_limits: RateLimits,
    workspace: Option<std::sync::Arc<ArmClient>>,
    local_workspace: Option<shared::api::LocalWorkspaceInfo>,
    tune: impl FnOnce(&mut AppSettings),
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let sign_in = SignInOptions::default();
    spawn_on(
        listener,
        rate_limits,
        workspace,
        local_workspace,
        sign_in,
        tune,
    )
    .await
}

/// An app with these sign-in options (single sign-on, local accounts off), on `listener`:
/// a provider needs the redirect URI, hence the address, before the app starts.
pub async fn spawn_app_with_sign_in(
    listener: tokio::net::TcpListener,
    sign_in: SignInOptions,
) -> TestApp {
    spawn_on(listener, RateLimits::default(), None, None, sign_in, |_| {}).await
}

async fn spawn_on(
    listener: tokio::net::TcpListener,
    rate_limits: RateLimits,
    workspace: Option<std::sync::Arc<ArmClient>>,
    local_workspace: Option<shared::api::LocalWorkspaceInfo>,
    sign_in: SignInOptions,
    tune: impl FnOnce(&mut AppSettings),
) -> TestApp {
    let db = fresh_database().await;
    // Exactly what `greenlight serve` builds and runs, on a fresh database.
    let mut settings = AppSettings {
        pool: db.pool.clone(),
        workspace,
        local_workspace,
        sessions: default_sessions(),
        rate_limits,
        ui: UiConfig {
            dir: std::env::temp_dir().join("greenlight-tests-no-ui"),
        },
        public_url: None,
        audit_anchor: None,
        sign_in,
        webhooks: backend::webhooks::NotifierSettings::default(),
    };
    tune(&mut settings);
    let app = App::build(settings, listener).await.expect("build the app");
    let url = format!("http://{}", app.address());
    tokio::spawn(app.run(std::future::pending()));
    TestApp { url, db }
}

/// The API body of a one-instance deployment of demo model `model` (`azureml:<model>:1`) with a
/// readiness probe every second.
pub fn deployment_request(name: &str, model: &str) -> Value {
    json!({
        "name": name,
        "model": format!("azureml:{model}:1"),
        "instance_type": "Standard_DS3_v2",
        "instance_count": 1,
        "readiness_probe": { "period_s": 1 },
    })
}

/// A browser-like client: its own cookie jar, and the CSRF token of its session.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: Option<String>,
}

impl TestApp {
    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("build client"),
            base: self.url.clone(),
            csrf: None,
        }
    }

    /// A sign-in request as the browser sends it, for tests that need the raw response.
    pub fn sign_in_request(&self, name: &str, password: &str) -> reqwest::RequestBuilder {
        self.client()
            .http
            .post(format!("{}/api/v1/session", self.url))
            .header(CSRF_HEADER, "sign-in")
            .json(&json!({ "username": name, "password": password }))
    }

    /// Creates a user straight in the store, as `greenlight user add --password-stdin` would
    /// (a password of its own, not one-time).
    pub async fn add_user(&self, name: &str, role: Role) {
        let hash = password::hash(&Secret::new(PASSWORD)).expect("hash");
        let username = Username::parse(name).expect("valid name");
        users::create(
            &self.db.pool,
            "test",
            &username,
            role,
            &hash,
            PasswordOrigin::Owner,
        )
        .await
        .expect("create user");
    }

    /// A client signed in as a new user with `role`.
    pub async fn signed_in(&self, name: &str, role: Role) -> Client {
        self.add_user(name, role).await;
        let mut client = self.client();
        let (status, _) = client.sign_in(name, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "sign-in as {name}");
        client
    }

    pub async fn audit_actions(&self) -> Vec<(String, String, Value)> {
        sqlx::query_as("select action, target, details from audit_events order by id")
            .fetch_all(&self.db.pool)
            .await
            .expect("read audit log")
    }
}

impl Client {
    /// Sends a request; on a write, adds the CSRF header with the session's token (or, before
    /// sign-in, any value).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if method != Method::GET {
            request = request.header(CSRF_HEADER, self.csrf.as_deref().unwrap_or("sign-in"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Like [`Client::send`], with the answer's `Location` header too.
    pub async fn send_for_location(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(CSRF_HEADER, self.csrf.as_deref().unwrap_or("sign-in"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("body");
        (
            status,
            location,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    pub async fn sign_in(&mut self, name: &str, password: &str) -> (StatusCode, Value) {
        let (status, body) = self
            .send(
                Method::POST,
                "/api/v1/session",
                Some(json!({ "username": name, "password": password })),
            )
            .await;
        if status == StatusCode::OK {
            self.csrf = body["csrf_token"].as_str().map(str::to_owned);
        }
        (status, body)
    }

    /// Creates `endpoint` and each of `deployments` (API bodies) on it, waiting for each.
    pub async fn create_endpoint_with(&self, endpoint: &str, deployments: &[Value]) {
        self.run(
            Method::POST,
            "/api/v1/endpoints",
            Some(json!({ "name": endpoint })),
        )
        .await;
        for deployment in deployments {
            self.run(
                Method::POST,
                &format!("/api/v1/endpoints/{endpoint}/deployments"),
                Some(deployment.clone()),
            )
            .await;
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    /// Follows an operation (a `202`'s body) until it ends; returns it as it ended.
    pub async fn finish(&self, started: &Value) -> Value {
        let id = started["id"].as_str().expect("an operation id");
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let (status, operation) = self.get(&format!("/api/v1/operations/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{operation}");
            if operation["status"] != "running" {
                return operation;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "operation {id} still running: {operation}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends a long-running request, checks the `202` and its `Location`, and waits for the
    /// operation to succeed; returns the ended operation.
    pub async fn run(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header(CSRF_HEADER, self.csrf.as_deref().unwrap_or("none"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let started: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::ACCEPTED, "{method} {path}: {started}");
        let id = started["id"].as_str().expect("operation id");
        assert_eq!(location, Some(format!("/api/v1/operations/{id}")));
        let ended = self.finish(&started).await;
        assert_eq!(ended["status"], "succeeded", "{method} {path}: {ended}");
        ended
    }
}
