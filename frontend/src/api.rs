//! A typed client for the backend's REST API.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use shared::api::{About, Health, SessionInfo, SignInRequest, CSRF_HEADER};
use shared::ErrorEnvelope;
use std::fmt;

/// What went wrong talking to the backend, as the user should read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl ApiError {
    fn network(err: impl fmt::Display) -> Self {
        Self {
            status: 0,
            code: "network".into(),
            message: format!("cannot reach the Greenlight server: {err}"),
        }
    }
}

/// Value of the CSRF header before sign-in, when no session token exists yet. The server only
/// requires the header's presence there: a cross-site form cannot set it.
const SIGN_IN_CSRF: &str = "sign-in";

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
    Err(match response.json::<ErrorEnvelope>().await {
        Ok(envelope) => ApiError {
            status,
            code: envelope.error.code,
            message: envelope.error.message,
        },
        Err(_) => ApiError {
            status,
            code: "unexpected".into(),
            message: format!("the server answered {status}"),
        },
    })
}

async fn json<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    response.json::<T>().await.map_err(ApiError::network)
}

pub async fn health() -> Result<Health, ApiError> {
    json(send(Request::get("/api/v1/health"), None).await?).await
}

pub async fn about() -> Result<About, ApiError> {
    json(send(Request::get("/api/v1/about"), None).await?).await
}

/// The current session, or `None` when nobody is signed in.
pub async fn current_session() -> Result<Option<SessionInfo>, ApiError> {
    match send(Request::get("/api/v1/session"), None).await {
        Ok(response) => json(response).await.map(Some),
        Err(err) if err.status == 401 => Ok(None),
        Err(err) => Err(err),
    }
}

pub async fn sign_in(username: String, password: String) -> Result<SessionInfo, ApiError> {
    let body =
        serde_json::to_string(&SignInRequest { username, password }).map_err(ApiError::network)?;
    let request = Request::post("/api/v1/session").header(CSRF_HEADER, SIGN_IN_CSRF);
    json(send(request, Some(body)).await?).await
}

pub async fn sign_out(session: &SessionInfo) -> Result<(), ApiError> {
    let request = Request::delete("/api/v1/session").header(CSRF_HEADER, &session.csrf_token);
    send(request, None).await.map(|_| ())
}
