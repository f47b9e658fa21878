//! The HTTP surface: REST API under `/api/v1`, the OpenAPI document, and the static console.

mod about;
mod assets;
mod audit_export;
mod audit_log;
mod change_requests;
mod deployments;
mod endpoints;
pub mod error;
mod events;
mod freeze;
mod headers;
mod health;
pub mod json;
mod keys;
pub mod middleware;
mod observe;
mod oidc;
mod openapi;
mod operations;
mod passwords;
mod paths;
mod policy;
mod prometheus;
mod query;
mod rollouts;
mod scoring;
mod session;
mod static_files;
mod tokens;
mod traffic;
mod users;
mod webhooks;
mod workspace_access;

use crate::auth::{RateLimits, SessionSettings};
use axum::routing::get;
use axum::{Json, Router};
use error::ApiError;
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use middleware::PUBLIC_WRITES;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub sessions: SessionSettings,
    pub rate_limits: RateLimits,
    /// The embedded local workspace's addresses, when there is one.
    pub local_workspace: Option<shared::api::LocalWorkspaceInfo>,
    /// The one way to the workspace (Azure ML or the local one).
    pub workspace: Option<std::sync::Arc<crate::workspace::ArmClient>>,
    /// The live feed SSE streams follow.
    pub events: Arc<crate::events::EventHub>,
    /// Runs long workspace calls and records their end; owned by the app, drained when it stops.
    pub operations: crate::operations::OperationRunner,
    /// `scheme://host[:port]` of `--public-url`: the only `Origin` a write may come from.
    pub public_origin: Option<String>,
    /// How far the audit chain is verified, extended on each look.
    pub audit_chain: Arc<crate::audit::ChainWatch>,
    /// Requests counted per route, for `/metrics`.
    pub http_metrics: Arc<crate::prometheus::HttpMetrics>,
    /// Local accounts and / or single sign-on.
    pub sign_in: crate::auth::oidc::SignInConfig,
}

/// Where the built console lives.
#[derive(Debug, Clone)]
pub struct UiConfig {
    pub dir: PathBuf,
}

/// Every API route, each registered together with its OpenAPI description so the document
/// cannot miss one.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(about::about))
        .routes(routes!(endpoints::list, endpoints::create))
        .routes(routes!(endpoints::get, endpoints::delete))
        .routes(routes!(deployments::list, deployments::create))
        .routes(routes!(
            deployments::get,
            deployments::scale,
            deployments::delete
        ))
        .routes(routes!(traffic::get, traffic::change))
        .routes(routes!(scoring::invoke))
        .routes(routes!(keys::masked))
        .routes(routes!(keys::reveal))
        .routes(routes!(keys::regenerate))
        .routes(routes!(observe::logs))
        .routes(routes!(deployments::sample_request))
        .routes(routes!(observe::metrics))
        .routes(routes!(assets::list))
        .routes(routes!(operations::list))
        .routes(routes!(operations::get))
        .routes(routes!(audit_log::list))
        .routes(routes!(audit_log::chain))
        .routes(routes!(audit_export::export))
        .routes(routes!(change_requests::list))
        .routes(routes!(change_requests::get))
        .routes(routes!(change_requests::approve))
        .routes(routes!(change_requests::reject))
        .routes(routes!(policy::get, policy::set))
        .routes(routes!(rollouts::start, rollouts::list))
        .routes(routes!(rollouts::get))
        .routes(routes!(rollouts::pause))
        .routes(routes!(rollouts::resume))
        .routes(routes!(rollouts::abort))
        .routes(routes!(rollouts::rollback))
        .routes(routes!(freeze::list, freeze::create))
        .routes(routes!(freeze::delete))
        .routes(routes!(freeze::endpoint))
        .routes(routes!(events::stream))
        .routes(routes!(
            session::current,
            session::sign_in,
            session::sign_out
        ))
        .routes(routes!(oidc::methods))
        .routes(routes!(oidc::start))
        .routes(routes!(oidc::callback))
        .routes(routes!(passwords::change_own))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::update))
        .routes(routes!(passwords::reset))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::test))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
}

/// Every route template the router matches, for counting requests per route.
pub fn route_templates() -> Vec<String> {
    let mut routes: Vec<String> = openapi_document().paths.paths.into_keys().collect();
    routes.extend(["/api/openapi.json", "/api/{*rest}", prometheus::PATH].map(str::to_owned));
    routes
}

/// The API's routes and their OpenAPI document, which also lists the error statuses the shared
/// extractors and middleware answer.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut document) = api_routes().split_for_parts();
    openapi::document_shared_errors(&mut document);
    (routes, document)
}

/// The OpenAPI document of [`router`]'s API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api().1
}

/// The whole application.
pub fn router(state: AppState, ui: &UiConfig) -> Router {
    let (api, document) = api();
    let document = Arc::new(document);
    Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            get(move || {
                let document = Arc::clone(&document);
                async move { Json(document) }
            }),
        )
        .route(prometheus::PATH, get(prometheus::scrape))
        // Unknown API paths answer in the error envelope rather than with the console's HTML.
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { ApiError::UnknownPath }),
        )
        .fallback_service(static_files::service(&ui.dir))
        .layer(axum::extract::DefaultBodyLimit::max(error::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::load_session,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            prometheus::count,
        ))
        .layer(axum::middleware::from_fn(middleware::request_id))
        .layer(axum::middleware::from_fn(headers::security_headers))
        .with_state(state)
}
