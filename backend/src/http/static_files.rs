//! The built console: hashed assets cached for a year, everything else revalidated, and
//! `index.html` for every client-side route — but a 404 for a missing asset, so a tab still
//! running an older build gets a clear failure for a chunk that is gone (and reloads, see
//! frontend/src/chunks.rs) instead of a page of HTML cached for a year under the chunk's name.
//! Each file is sent as the brotli (`.br`) or gzip (`.gz`) sibling the build writes, whichever
//! the browser accepts (brotli first), else as is.

use axum::extract::Request;
use axum::handler::HandlerWithoutStateExt;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use std::path::Path;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// Folder (under the UI dir) whose file names carry a content hash, so they never change.
const IMMUTABLE_PREFIX: &str = "/assets/";

/// Serves `ui_dir`, preferring the `.br`, then the `.gz` siblings the build writes when the
/// browser accepts that encoding; unknown paths outside `assets/` get `index.html` so the client
/// router can take them.
pub fn service<S: Clone + Send + Sync + 'static>(ui_dir: &Path) -> MethodRouter<S> {
    let index = ServeFile::new(ui_dir.join("index.html"))
        .precompressed_br()
        .precompressed_gzip();
    let client_route = move |request: Request| {
        let index = index.clone();
        async move {
            if request.uri().path().starts_with(IMMUTABLE_PREFIX) {
                return StatusCode::NOT_FOUND.into_response();
            }
            match index.oneshot(request).await {
                Ok(response) => response.into_response(),
                Err(never) => match never {},
            }
        }
    };
    let files = ServeDir::new(ui_dir)
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(true)
        .fallback(client_route.into_service());
    axum::routing::get_service(files).layer(middleware::from_fn(caching_headers))
}

/// `Cache-Control` by path, and `Vary: Accept-Encoding`: the same URL has a body per encoding,
/// so a cache must not hand the brotli one to a client that asked for gzip.
async fn caching_headers(request: Request, next: Next) -> Response {
    let immutable = request.uri().path().starts_with(IMMUTABLE_PREFIX);
    let mut response = next.run(request).await;
    let value = if immutable && response.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}
