//! `/api/v1/session`: sign in, see who is signed in, sign out.

use super::error::ApiError;
use super::json::AppJson;
use super::AppState;
use crate::auth::session::{self, COOKIE_NAME};
use crate::auth::{sign_in, Anyone, Authenticated, SessionSettings, SignInOutcome};
use crate::secret::Secret;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use shared::api::{SessionInfo, SignInRequest};
use shared::ErrorEnvelope;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The signed-in user and the CSRF token to send with writes.
#[utoipa::path(
    get,
    path = "/api/v1/session",
    operation_id = "get_session",
    tag = "session",
    responses(
        (status = 200, body = SessionInfo),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    )
)]
pub async fn current(auth: Authenticated<Anyone>) -> AppJson<SessionInfo> {
    AppJson(auth.session.info())
}

/// Signs in with a local account and sets the session cookie.
#[utoipa::path(
    post,
    path = "/api/v1/session",
    operation_id = "sign_in",
    tag = "session",
    request_body = SignInRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = SessionInfo),
        (status = 401, description = "Wrong user name or password", body = ErrorEnvelope),
        (status = 403, description = "Missing x-csrf-token header, or local accounts are switched off (`local_accounts_disabled`)", body = ErrorEnvelope),
        (status = 429, description = "Too many failed sign-ins", body = ErrorEnvelope),
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    AppJson(request): AppJson<SignInRequest>,
) -> Result<Response, ApiError> {
    if !state.sign_in.local_accounts {
        return Err(ApiError::LocalAccountsDisabled);
    }
    let client = connect_info.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0 .0.ip());
    let outcome = sign_in::sign_in(
        &state.pool,
        &request.username,
        Secret::new(request.password),
        client,
        &state.sessions,
        &state.rate_limits,
    )
    .await?;
    match outcome {
        SignInOutcome::SignedIn { cookie, session } => {
            let set_cookie = session_cookie(&cookie, &state.sessions);
            Ok(([(header::SET_COOKIE, set_cookie)], AppJson(session.info())).into_response())
        }
        SignInOutcome::Refused => Err(ApiError::InvalidCredentials),
        SignInOutcome::RateLimited { retry_after } => Err(ApiError::RateLimited(retry_after)),
    }
}

/// Ends the current session and clears the cookie.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    operation_id = "sign_out",
    tag = "session",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    )
)]
pub async fn sign_out(
    State(state): State<AppState>,
    auth: Authenticated<Anyone>,
) -> Result<Response, ApiError> {
    session::end(&state.pool, &auth.session).await?;
    let expired = cookie_header("", Duration::ZERO, &state.sessions);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, expired)]).into_response())
}

pub(super) fn session_cookie(value: &Secret, settings: &SessionSettings) -> HeaderValue {
    cookie_header(value.expose(), settings.absolute, settings)
}

/// The session cookie with `value` for `lifetime`; setting and clearing it carry the same flags,
/// so a browser treats them as the same cookie.
fn cookie_header(value: &str, lifetime: Duration, settings: &SessionSettings) -> HeaderValue {
    scoped_cookie((COOKIE_NAME, "/"), value, lifetime, settings)
}

/// An HttpOnly, SameSite=Lax cookie `name` sent to `path` and below, `Secure` when the console
/// is served over https.
pub(super) fn scoped_cookie(
    (name, path): (&str, &str),
    value: &str,
    lifetime: Duration,
    settings: &SessionSettings,
) -> HeaderValue {
    let secure = if settings.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        lifetime.as_secs()
    );
    // The value is hex and the rest is ours, so this cannot fail; stay total anyway.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secure_cookie: bool) -> SessionSettings {
        SessionSettings {
            idle: Duration::from_secs(60),
            absolute: Duration::from_secs(3600),
            secure_cookie,
        }
    }

    #[test]
    fn the_cookie_is_secure_only_when_served_over_https() {
        let value = Secret::new("abc");
        let plain = session_cookie(&value, &settings(false));
        let secure = session_cookie(&value, &settings(true));
        for cookie in [&plain, &secure] {
            let text = cookie.to_str().expect("ascii");
            assert!(text.contains("HttpOnly") && text.contains("SameSite=Lax"));
            assert!(text.contains("Max-Age=3600"));
        }
        assert!(!plain.to_str().expect("ascii").contains("Secure"));
        assert!(secure.to_str().expect("ascii").ends_with("; Secure"));
    }

    #[test]
    fn the_sign_out_cookie_carries_the_sign_in_cookies_flags() {
        for secure in [false, true] {
            let settings = settings(secure);
            let set = session_cookie(&Secret::new("abc"), &settings);
            let cleared = cookie_header("", Duration::ZERO, &settings);
            let flags = |h: &HeaderValue| -> Vec<String> {
                h.to_str()
                    .expect("ascii")
                    .split("; ")
                    .skip(1)
                    .filter(|part| !part.starts_with("Max-Age="))
                    .map(str::to_owned)
                    .collect()
            };
            assert_eq!(flags(&set), flags(&cleared), "secure = {secure}");
            assert!(cleared.to_str().expect("ascii").contains("Max-Age=0"));
        }
    }
}
