//! Middleware every request passes: request ids and logging, session (or API token) loading,
//! and the guard that refuses state-changing requests without a session and a CSRF token.
//!
//! One rule decides who asks: a request with an `Authorization` header is authenticated by
//! that header alone (an API token; anything else there is refused with 401), and any session
//! cookie beside it is ignored. Only a request without one is a browser session's.

use super::error::{ApiError, REQUEST_ID};
use super::AppState;
use crate::audit::attribution;
use crate::auth::session::{self, COOKIE_NAME};
use crate::auth::tokens::{self, TokenRefused};
use crate::auth::CurrentSession;
use crate::secret::{constant_time_eq, Secret};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use shared::api::CSRF_HEADER;
use std::time::Instant;
use tracing::Instrument;

const REQUEST_ID_HEADER: &str = "x-request-id";

/// State-changing requests that need no session: signing in.
pub const PUBLIC_WRITES: &[(Method, &str)] = &[(Method::POST, "/api/v1/session")];

/// Gives each request an id (the caller's `x-request-id` when sane), a tracing span carrying
/// it, a closing log line, and the id on the response.
pub async fn request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request).instrument(span.clone()))
        .await;
    span.in_scope(|| {
        let status = response.status().as_u16();
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if is_api {
            tracing::info!(status, latency_ms, "request finished");
        } else {
            tracing::debug!(status, latency_ms, "request finished");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Loads who is asking into the API request's extensions: the API token of the
/// `Authorization` header (the request then runs as done with it, for the audit log), else
/// the session named by the cookie, if any. `/metrics` takes a token too.
pub async fn load_session(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    // Static assets need no session; sparing them the lookup keeps page loads off the database.
    let path = request.uri().path();
    let is_api = path.starts_with("/api/") || path == super::prometheus::PATH;
    if !is_api {
        return Ok(next.run(request).await);
    }
    if let Some(value) = request.headers().get(header::AUTHORIZATION) {
        let secret = value
            .to_str()
            .map_err(|_| TokenRefused::Malformed)
            .and_then(tokens::bearer)
            .map_err(ApiError::TokenRefused)?;
        let (current, token) = tokens::authenticate(&state.pool, &secret)
            .await?
            .map_err(ApiError::TokenRefused)?;
        request.extensions_mut().insert(current);
        return Ok(attribution::acting_with(token, next.run(request)).await);
    }
    if let Some(cookie) = session_cookie(request.headers()) {
        if let Some(current) = session::load(&state.pool, &cookie, &state.sessions).await? {
            request.extensions_mut().insert(current);
        }
    }
    Ok(next.run(request).await)
}

/// Default-deny for writes: every request that is not GET/HEAD/OPTIONS must come from our own
/// origin and either carry an API token, or carry the CSRF header and — unless it is a listed
/// public write — a session whose CSRF token matches. Applied to the whole router, so a route added later is
/// covered without anyone remembering to.
pub async fn guard(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let method = request.method();
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(next.run(request).await);
    }
    check_origin(request.headers(), state.public_origin.as_deref())?;
    // An API token rides in a header no other site can make a browser send (that would need a
    // CORS preflight, which Greenlight never grants), and no cookie is involved: nothing to
    // forge, so no CSRF header either.
    let with_token = request
        .extensions()
        .get::<CurrentSession>()
        .is_some_and(|current| current.token.is_some());
    if with_token {
        return Ok(next.run(request).await);
    }
    let token = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::CsrfFailed(
            "this request needs the x-csrf-token header",
        ))?;
    let path = request.uri().path();
    let public = PUBLIC_WRITES.iter().any(|(m, p)| m == method && *p == path);
    if !public {
        let current = request
            .extensions()
            .get::<CurrentSession>()
            .ok_or(ApiError::Unauthenticated)?;
        if !constant_time_eq(token.as_bytes(), current.csrf_token.as_bytes()) {
            return Err(ApiError::CsrfFailed(
                "the x-csrf-token header does not match this session",
            ));
        }
    }
    Ok(next.run(request).await)
}

/// A browser always sends `Origin` on cross-site writes; when present it must be ours: with
/// `--public-url` set, exactly its scheme, host and port; otherwise this request's own host.
fn check_origin(headers: &HeaderMap, public_origin: Option<&str>) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().ok().map(|o| o.trim_end_matches('/'));
    let ours = match (origin, public_origin) {
        (Some(origin), Some(public)) => origin.eq_ignore_ascii_case(public),
        (Some(origin), None) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin_host = origin.split_once("://").map(|(_, rest)| rest);
            matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
        }
        (None, _) => false,
    };
    if ours {
        Ok(())
    } else {
        Err(ApiError::CsrfFailed(
            "cross-origin requests may not change anything",
        ))
    }
}

/// The origin (`scheme://host[:port]`) of a public URL, as browsers send it in `Origin`.
pub fn origin_of(public_url: &str) -> Option<String> {
    let (scheme, rest) = public_url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| {
        format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase()
        )
    })
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<Secret> {
    cookie(headers, COOKIE_NAME)
}

/// The value of the cookie called `wanted`, if the request carries it.
pub fn cookie(headers: &HeaderMap, wanted: &str) -> Option<Secret> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; greenlight_session=abc123; x=y"),
        );
        assert_eq!(
            session_cookie(&headers).map(|s| s.expose().to_owned()),
            Some("abc123".into())
        );
    }

    #[test]
    fn a_foreign_origin_is_refused_and_our_own_accepted() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(check_origin(&headers, None).is_ok());
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(check_origin(&headers, None).is_err());
    }

    #[test]
    fn with_a_public_url_the_origin_must_match_its_scheme_and_host() {
        let public = origin_of("https://greenlight.example.com/console/").expect("an origin");
        assert_eq!(public, "https://greenlight.example.com");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            HeaderValue::from_static("greenlight.example.com"),
        );
        for (origin, ok) in [
            ("https://greenlight.example.com", true),
            ("http://greenlight.example.com", false),
            ("https://greenlight.example.com:8443", false),
            ("https://evil.example", false),
        ] {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
            assert_eq!(
                check_origin(&headers, Some(&public)).is_ok(),
                ok,
                "{origin}"
            );
        }
    }
}
