//! A typed client for the backend's REST API: one function per route, the request and response
//! types from `shared::api`, and every failure as an [`ApiError`] carrying the API's own message.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use shared::api::change_requests::{
    ApproveRequest, ChangeRequestDetail, ChangeRequestList, EndpointPolicy, RejectRequest,
    TrafficChangeRequest,
};
use shared::api::{
    About, AssetKind, AssetList, CreateDeploymentRequest, CreateEndpointRequest, DeploymentList,
    DeploymentLogs, EndpointKeys, EndpointList, EndpointMetricsSummary, EndpointSummary, Health,
    InvokeRequest, InvokeResult, KeyName, Operation, OperationList, RegenerateKeyRequest,
    ScaleRequest, SessionInfo, SignInRequest, TrafficState, CSRF_HEADER,
};
use shared::api::{
    ChangePasswordRequest, CreateUserRequest, ResetPasswordRequest, UpdateUserRequest, UserInfo,
    UserList,
};
use shared::rollout::ChangeRequestState;
use shared::{ErrorEnvelope, FieldError};
use std::cell::RefCell;
use std::fmt;

mod audit;
mod rollouts;
mod tokens;
mod webhooks;
pub use audit::*;
pub use rollouts::*;
pub use tokens::*;
pub use webhooks::*;

/// What went wrong talking to the backend, as the user should read it. (The texts only some
/// errors have are boxed `str`s: every `Result` here carries an `ApiError`, so it stays small.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Each broken rule, when the API refused input (422).
    pub fields: Vec<FieldError>,
    /// Azure's own message, when the workspace caused the error.
    pub workspace_message: Option<Box<str>>,
    /// On a 409 about traffic: the split as it is now.
    pub current: Option<Box<TrafficState>>,
    /// The id the server gave the request; it logged the real cause of a 5xx under it.
    pub request_id: Option<Box<str>>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.workspace_message {
            Some(azure) if !self.message.contains(&**azure) => {
                write!(f, " — Azure: {azure}")
            }
            _ => Ok(()),
        }
    }
}

impl ApiError {
    fn network(err: impl fmt::Display) -> Self {
        Self::local(format!("cannot reach the Greenlight server: {err}"))
    }

    /// An error found in the browser before anything was sent.
    pub fn local(message: impl Into<String>) -> Self {
        Self {
            status: 0,
            code: "network".into(),
            message: message.into(),
            fields: Vec::new(),
            workspace_message: None,
            current: None,
            request_id: None,
        }
    }

    /// The request id to show with the message: a server error (5xx) says only that something
    /// failed and asks people to quote this id, under which the server logged the cause.
    pub fn request_id_to_quote(&self) -> Option<&str> {
        self.request_id.as_deref().filter(|_| self.status >= 500)
    }
}

thread_local! {
    /// The signed-in session's CSRF token, sent with every write. Kept here rather than passed
    /// around so no caller can forget it.
    static CSRF: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn remember_csrf(token: Option<String>) {
    CSRF.with(|csrf| *csrf.borrow_mut() = token);
}

/// Value of the CSRF header before sign-in, when no session token exists yet. The server only
/// requires the header's presence there: a cross-site form cannot set it.
const SIGN_IN_CSRF: &str = "sign-in";

/// The response header with the id the server gave the request.
const REQUEST_ID_HEADER: &str = "x-request-id";

fn with_csrf(builder: RequestBuilder) -> RequestBuilder {
    let token = CSRF.with(|csrf| csrf.borrow().clone());
    builder.header(CSRF_HEADER, token.as_deref().unwrap_or(SIGN_IN_CSRF))
}

async fn send(builder: RequestBuilder, body: Option<String>) -> Result<Response, ApiError> {
    let request = match body {
        Some(json) => builder
            .header("content-type", "application/json")
            .body(json)
            .map_err(ApiError::network)?,
        None => builder.build().map_err(ApiError::network)?,
    };
    let response = request.send().await.map_err(ApiError::network)?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    // Every answer carries it, even one that is not our envelope (e.g. a proxy's error page).
    let header_id = response
        .headers()
        .get(REQUEST_ID_HEADER)
        .map(String::into_boxed_str);
    Err(match response.json::<ErrorEnvelope>().await {
        Ok(envelope) => ApiError {
            status,
            code: envelope.error.code,
            message: envelope.error.message,
            fields: envelope.error.fields,
            workspace_message: envelope.error.details.map(|d| d.message.into()),
            current: envelope
                .error
                .current
                .and_then(|v| serde_json::from_value(v).ok())
                .map(Box::new),
            request_id: envelope
                .error
                .request_id
                .map(String::into_boxed_str)
                .or(header_id),
        },
        Err(_) => ApiError {
            status,
            code: "unexpected".into(),
            message: format!("the server answered {status}"),
            fields: Vec::new(),
            workspace_message: None,
            current: None,
            request_id: header_id,
        },
    })
}

/// Sends the request and reads the answer's body: one future for every route, so that only the
/// decoding ([`decode`]) is compiled once per answer type.
async fn send_for_text(builder: RequestBuilder, body: Option<String>) -> Result<String, ApiError> {
    let response = send(builder, body).await?;
    response.text().await.map_err(ApiError::network)
}

fn decode<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(ApiError::network)
}

fn to_body(body: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(|e| ApiError::local(e.to_string()))
}

async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    decode(&send_for_text(Request::get(path), None).await?)
}

/// A write; `body` is sent as JSON. The answer is decoded as `T`.
async fn write<T: DeserializeOwned>(
    builder: RequestBuilder,
    body: Option<&impl Serialize>,
) -> Result<T, ApiError> {
    let body = body.map(to_body).transpose()?;
    decode(&send_for_text(with_csrf(builder), body).await?)
}

/// A path segment, escaped: names come from the URL bar and may hold anything.
fn seg(name: &str) -> String {
    String::from(js_sys::encode_uri_component(name))
}

fn endpoint_path(endpoint: &str) -> String {
    format!("/api/v1/endpoints/{}", seg(endpoint))
}

fn deployment_path(endpoint: &str, deployment: &str) -> String {
    format!(
        "{}/deployments/{}",
        endpoint_path(endpoint),
        seg(deployment)
    )
}

const NO_BODY: Option<&()> = None;

// ------------------------------------------------------------------------------ session

pub async fn health() -> Result<Health, ApiError> {
    get("/api/v1/health").await
}

pub async fn about() -> Result<About, ApiError> {
    get("/api/v1/about").await
}

/// The current session, or `None` when nobody is signed in.
pub async fn current_session() -> Result<Option<SessionInfo>, ApiError> {
    match get::<SessionInfo>("/api/v1/session").await {
        Ok(info) => {
            remember_csrf(Some(info.csrf_token.clone()));
            Ok(Some(info))
        }
        Err(err) if err.status == 401 => Ok(None),
        Err(err) => Err(err),
    }
}

pub async fn sign_in(username: String, password: String) -> Result<SessionInfo, ApiError> {
    remember_csrf(None);
    let request = SignInRequest { username, password };
    let info: SessionInfo = write(Request::post("/api/v1/session"), Some(&request)).await?;
    remember_csrf(Some(info.csrf_token.clone()));
    Ok(info)
}

/// The ways to sign in here (anonymous): local accounts, single sign-on.
pub async fn sign_in_methods() -> Result<shared::api::SignInMethods, ApiError> {
    get("/api/v1/session/methods").await
}

pub async fn sign_out() -> Result<(), ApiError> {
    let result = send(with_csrf(Request::delete("/api/v1/session")), None).await;
    remember_csrf(None);
    result.map(|_| ())
}

/// Changes the signed-in user's own password (their other sessions end).
pub async fn change_password(request: &ChangePasswordRequest) -> Result<(), ApiError> {
    let body = Some(to_body(request)?);
    send(with_csrf(Request::put("/api/v1/session/password")), body)
        .await
        .map(drop)
}

// -------------------------------------------------------------------------------- users

fn user_path(username: &str) -> String {
    format!("/api/v1/users/{}", seg(username))
}

pub async fn users() -> Result<UserList, ApiError> {
    get("/api/v1/users").await
}

pub async fn create_user(request: &CreateUserRequest) -> Result<UserInfo, ApiError> {
    write(Request::post("/api/v1/users"), Some(request)).await
}

pub async fn update_user(
    username: &str,
    request: &UpdateUserRequest,
) -> Result<UserInfo, ApiError> {
    write(Request::patch(&user_path(username)), Some(request)).await
}

pub async fn reset_password(
    username: &str,
    request: &ResetPasswordRequest,
) -> Result<UserInfo, ApiError> {
    write(
        Request::put(&format!("{}/password", user_path(username))),
        Some(request),
    )
    .await
}

// ---------------------------------------------------------------------------- endpoints

pub async fn endpoints() -> Result<EndpointList, ApiError> {
    get("/api/v1/endpoints").await
}

pub async fn endpoint(name: &str) -> Result<EndpointSummary, ApiError> {
    get(&endpoint_path(name)).await
}

pub async fn create_endpoint(request: &CreateEndpointRequest) -> Result<Operation, ApiError> {
    write(Request::post("/api/v1/endpoints"), Some(request)).await
}

/// The query of a delete, which now asks first: the reason is required (the API answers 422
/// naming `reason` without one).
fn delete_query(reason: &str) -> String {
    format!("?reason={}", seg(reason))
}

/// Asks for the endpoint to be deleted: answers with the change request, applied once approved.
pub async fn delete_endpoint(name: &str, reason: &str) -> Result<ChangeRequestDetail, ApiError> {
    let path = format!("{}{}", endpoint_path(name), delete_query(reason));
    write(Request::delete(&path), NO_BODY).await
}

// -------------------------------------------------------------------------- deployments

pub async fn deployments(endpoint: &str) -> Result<DeploymentList, ApiError> {
    get(&format!("{}/deployments", endpoint_path(endpoint))).await
}

pub async fn create_deployment(
    endpoint: &str,
    request: &CreateDeploymentRequest,
) -> Result<Operation, ApiError> {
    let path = format!("{}/deployments", endpoint_path(endpoint));
    write(Request::post(&path), Some(request)).await
}

pub async fn scale(endpoint: &str, deployment: &str, count: i64) -> Result<Operation, ApiError> {
    let request = ScaleRequest {
        instance_count: count,
    };
    write(
        Request::patch(&deployment_path(endpoint, deployment)),
        Some(&request),
    )
    .await
}

/// Asks for the deployment to be deleted: answers with the change request, applied once approved.
pub async fn delete_deployment(
    endpoint: &str,
    deployment: &str,
    reason: &str,
) -> Result<ChangeRequestDetail, ApiError> {
    let path = format!(
        "{}{}",
        deployment_path(endpoint, deployment),
        delete_query(reason)
    );
    write(Request::delete(&path), NO_BODY).await
}

pub async fn logs(endpoint: &str, deployment: &str, tail: u32) -> Result<DeploymentLogs, ApiError> {
    get(&format!(
        "{}/logs?tail={tail}",
        deployment_path(endpoint, deployment)
    ))
    .await
}

/// The deployment's model's sample request, or `None` when the model has none.
pub async fn sample_request(endpoint: &str, deployment: &str) -> Result<Option<Value>, ApiError> {
    let path = format!("{}/sample-request", deployment_path(endpoint, deployment));
    match get::<Value>(&path).await {
        Ok(sample) => Ok(Some(sample)),
        Err(err) if err.status == 404 => Ok(None),
        Err(err) => Err(err),
    }
}

// ----------------------------------------------------------------------- traffic, invoke

/// Asks for a new split: answers `202` with the change request, applied once approved.
pub async fn change_traffic(
    endpoint: &str,
    change: &TrafficChangeRequest,
) -> Result<ChangeRequestDetail, ApiError> {
    let path = format!("{}/traffic", endpoint_path(endpoint));
    write(Request::put(&path), Some(change)).await
}

pub async fn invoke(endpoint: &str, request: &InvokeRequest) -> Result<InvokeResult, ApiError> {
    let path = format!("{}/invoke", endpoint_path(endpoint));
    write(Request::post(&path), Some(request)).await
}

// -------------------------------------------------------------------------- keys, metrics

pub async fn keys(endpoint: &str) -> Result<EndpointKeys, ApiError> {
    get(&format!("{}/keys", endpoint_path(endpoint))).await
}

pub async fn reveal_keys(endpoint: &str) -> Result<EndpointKeys, ApiError> {
    let path = format!("{}/keys/reveal", endpoint_path(endpoint));
    write(Request::post(&path), NO_BODY).await
}

pub async fn regenerate_key(endpoint: &str, key: KeyName) -> Result<Operation, ApiError> {
    let path = format!("{}/keys/regenerate", endpoint_path(endpoint));
    write(Request::post(&path), Some(&RegenerateKeyRequest { key })).await
}

/// Each deployment's traffic over the last `minutes` (the backend serves at most an hour).
pub async fn metrics(endpoint: &str, minutes: u32) -> Result<EndpointMetricsSummary, ApiError> {
    get(&format!(
        "{}/metrics?minutes={minutes}",
        endpoint_path(endpoint)
    ))
    .await
}

// ------------------------------------------------------------------- assets, operations

pub async fn assets(kind: AssetKind) -> Result<AssetList, ApiError> {
    get(&format!("/api/v1/assets/{}", kind.as_str())).await
}

pub async fn operations(endpoint: &str, limit: u32) -> Result<OperationList, ApiError> {
    get(&format!(
        "/api/v1/operations?endpoint={}&limit={limit}",
        seg(endpoint)
    ))
    .await
}

pub async fn operation(id: uuid::Uuid) -> Result<Operation, ApiError> {
    get(&format!("/api/v1/operations/{id}")).await
}

// ----------------------------------------------------------------------- change requests

fn change_request_path(id: uuid::Uuid) -> String {
    format!("/api/v1/change-requests/{id}")
}

/// Change requests, newest first: in `state` if given, on `endpoint` if given.
pub async fn change_requests(
    state: Option<ChangeRequestState>,
    endpoint: Option<&str>,
    limit: u32,
) -> Result<ChangeRequestList, ApiError> {
    let mut path = format!("/api/v1/change-requests?limit={limit}");
    if let Some(state) = state {
        path.push_str(&format!("&state={}", state.as_str()));
    }
    if let Some(endpoint) = endpoint {
        path.push_str(&format!("&endpoint={}", seg(endpoint)));
    }
    get(&path).await
}

pub async fn change_request(id: uuid::Uuid) -> Result<ChangeRequestDetail, ApiError> {
    get(&change_request_path(id)).await
}

pub async fn approve(
    id: uuid::Uuid,
    request: &ApproveRequest,
) -> Result<ChangeRequestDetail, ApiError> {
    let path = format!("{}/approve", change_request_path(id));
    write(Request::post(&path), Some(request)).await
}

pub async fn reject(
    id: uuid::Uuid,
    request: &RejectRequest,
) -> Result<ChangeRequestDetail, ApiError> {
    let path = format!("{}/reject", change_request_path(id));
    write(Request::post(&path), Some(request)).await
}

pub async fn policy(endpoint: &str) -> Result<EndpointPolicy, ApiError> {
    get(&format!("{}/policy", endpoint_path(endpoint))).await
}

pub async fn set_policy(
    endpoint: &str,
    policy: &EndpointPolicy,
) -> Result<EndpointPolicy, ApiError> {
    let path = format!("{}/policy", endpoint_path(endpoint));
    write(Request::put(&path), Some(policy)).await
}

// ----------------------------------------------------------------------- freeze windows

pub async fn freeze_windows() -> Result<shared::api::freeze::FreezeWindowList, ApiError> {
    get("/api/v1/freeze-windows").await
}

pub async fn create_freeze_window(
    request: &shared::freeze::NewFreezeWindow,
) -> Result<shared::api::freeze::FreezeWindow, ApiError> {
    write(Request::post("/api/v1/freeze-windows"), Some(request)).await
}

pub async fn delete_freeze_window(id: uuid::Uuid) -> Result<(), ApiError> {
    let path = format!("/api/v1/freeze-windows/{id}");
    send(with_csrf(Request::delete(&path)), None)
        .await
        .map(drop)
}

/// The window in force on `endpoint` now, and the next one.
pub async fn endpoint_freeze(
    endpoint: &str,
) -> Result<shared::api::freeze::EndpointFreeze, ApiError> {
    get(&format!("{}/freeze", endpoint_path(endpoint))).await
}
