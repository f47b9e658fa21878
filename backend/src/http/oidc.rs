//! `/api/v1/session/methods` and `/api/v1/session/oidc/*`: which sign-in methods there are, and
//! single sign-on's two browser legs. Both legs are top-level navigations, so they answer with
//! redirects: to the provider, then to the console (or to its sign-in page with `?sso_error=`).

use super::session::{scoped_cookie, session_cookie};
use super::AppState;
use crate::auth::oidc::{Answer, Callback, BINDING_COOKIE, LOGIN_TTL};
use crate::auth::SessionSettings;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::{Extension, Json};
use shared::api::{SignInMethods, SsoError, SSO_ERROR_PARAM};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The ways to sign in here, for the sign-in page (no session needed).
#[utoipa::path(
    get,
    path = "/api/v1/session/methods",
    operation_id = "get_sign_in_methods",
    tag = "session",
    responses((status = 200, body = SignInMethods))
)]
pub async fn methods(State(state): State<AppState>) -> Json<SignInMethods> {
    Json(SignInMethods {
        local_accounts: state.sign_in.local_accounts,
        sso: state.sign_in.oidc.as_ref().map(|oidc| oidc.info()),
    })
}

/// Starts a single sign-on: redirects to the provider's authorization endpoint (PKCE S256,
/// `state`, `nonce`) and sets a short-lived cookie binding the sign-in to this browser.
#[utoipa::path(
    get,
    path = "/api/v1/session/oidc/start",
    operation_id = "start_sso",
    tag = "session",
    responses(
        (status = 302, description = "To the provider; or to /signin?sso_error=<code> when single sign-on is not configured or the provider cannot be reached"),
    )
)]
pub async fn start(State(state): State<AppState>) -> Response {
    let Some(oidc) = &state.sign_in.oidc else {
        return to_sign_in_page(SsoError::NotConfigured, &state.sessions);
    };
    match oidc.begin(&state.pool).await {
        Ok((url, binding)) => {
            let cookie = binding_cookie(binding.expose(), LOGIN_TTL.as_secs(), &state.sessions);
            redirect(&url, [cookie])
        }
        Err(refusal) => {
            tracing::warn!(reason = %refusal.kind, detail = %refusal.detail, "single sign-on could not start");
            to_sign_in_page(refusal.kind, &state.sessions)
        }
    }
}

/// Where the provider sends the browser back: checks the `state` (once) against this browser,
/// exchanges the code, verifies the id_token, maps the groups to a role, and opens a session.
#[utoipa::path(
    get,
    path = "/api/v1/session/oidc/callback",
    operation_id = "finish_sso",
    tag = "session",
    params(Callback),
    responses(
        (status = 302, description = "Signed in: to the console with the session cookie set; refused: to /signin?sso_error=<code>"),
    )
)]
pub async fn callback(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    query: Result<Query<Callback>, QueryRejection>,
) -> Response {
    let Some(oidc) = &state.sign_in.oidc else {
        return to_sign_in_page(SsoError::NotConfigured, &state.sessions);
    };
    let client = connect_info.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0 .0.ip());
    let callback = query.map(|q| q.0).unwrap_or_default();
    let binding = super::middleware::cookie(&headers, BINDING_COOKIE);
    let answer = Answer {
        callback: &callback,
        binding: binding.as_ref(),
        client_addr: &client.to_string(),
    };
    let outcome = oidc.finish(&state.pool, &answer, &state.sessions).await;
    match outcome {
        Ok((cookie, _session)) => redirect(
            "/",
            [
                session_cookie(&cookie, &state.sessions),
                binding_cookie("", 0, &state.sessions),
            ],
        ),
        Err(refusal) => to_sign_in_page(refusal.kind, &state.sessions),
    }
}

fn redirect<const N: usize>(location: &str, cookies: [HeaderValue; N]) -> Response {
    let location =
        HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (
        StatusCode::FOUND,
        [(header::LOCATION, location)],
        AppendHeaders(cookies.map(|c| (header::SET_COOKIE, c))),
    )
        .into_response()
}

/// The sign-in page, naming why single sign-on did not sign the user in.
fn to_sign_in_page(error: SsoError, settings: &SessionSettings) -> Response {
    redirect(
        &format!("/signin?{SSO_ERROR_PARAM}={}", error.as_str()),
        [binding_cookie("", 0, settings)],
    )
}

/// The binding cookie: sent only to the single sign-on paths, gone after `max_age` seconds.
fn binding_cookie(value: &str, max_age: u64, settings: &SessionSettings) -> HeaderValue {
    scoped_cookie(
        (BINDING_COOKIE, "/api/v1/session/oidc"),
        value,
        std::time::Duration::from_secs(max_age),
        settings,
    )
}
