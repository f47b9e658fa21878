//! `GET /metrics`: Greenlight's own health in the Prometheus text format, for whoever runs it;
//! and the middleware that counts every request by route template, method and status.
//!
//! Scraping needs an API token (any role: a viewer service account is the natural scraper); a
//! browser session is not enough, so the console's cookie can't be used to poll it.

use super::error::ApiError;
use super::AppState;
use crate::auth::tokens::TokenRefused;
use crate::auth::Authenticated;
use crate::prometheus::text::{Exposition, CONTENT_TYPE};
use crate::store::gauges;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::rollout::RolloutState;

/// Where the metrics are served (outside `/api`, where scrapers look).
pub const PATH: &str = "/metrics";

/// Counts the request under its matched route template (never the raw path: ids and names
/// would make the label unbounded).
pub async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    state.http_metrics.count(
        route.as_deref(),
        method.as_str(),
        response.status().as_u16(),
    );
    response
}

/// Greenlight's own metrics in the Prometheus text exposition format 0.0.4. Not part of the
/// REST API (nor its OpenAPI document): it is served where scrapers look, at the root.
pub async fn scrape(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    if auth.session.token.is_none() {
        return Err(ApiError::TokenRefused(TokenRefused::Missing));
    }
    let mut page = Exposition::default();
    let requests = "greenlight_http_requests_total";
    page.family(
        requests,
        "counter",
        "HTTP requests served, by route template, method and status.",
    );
    for (route, method, status, n) in state.http_metrics.counted() {
        let labels = [("route", route), ("method", method), ("status", &status)];
        page.sample(requests, &labels, n as f64);
    }
    page.family(
        "greenlight_sse_subscribers",
        "gauge",
        "Live-feed (SSE) streams open on this instance.",
    )
    .sample(
        "greenlight_sse_subscribers",
        &[],
        state.events.subscribers() as f64,
    );
    let by_state = gauges::rollouts_by_state(&state.pool).await?;
    page.family("greenlight_rollouts", "gauge", "Rollouts by state.");
    for rollout_state in RolloutState::ALL {
        let name = rollout_state.as_str();
        let n = by_state
            .iter()
            .find(|(s, _)| s == name)
            .map_or(0, |(_, n)| *n);
        page.sample("greenlight_rollouts", &[("state", name)], n as f64);
    }
    let pending = gauges::pending_change_requests(&state.pool).await?;
    page.family(
        "greenlight_change_requests_pending",
        "gauge",
        "Change requests waiting for approval.",
    )
    .sample("greenlight_change_requests_pending", &[], pending as f64);
    let lag = gauges::executor_lag_seconds(&state.pool).await?;
    page.family(
        "greenlight_executor_lag_seconds",
        "gauge",
        "Seconds the most overdue active rollout has waited for the executor (0: none due).",
    )
    .sample("greenlight_executor_lag_seconds", &[], lag);
    if let Some(workspace) = &state.workspace {
        let calls = workspace.calls();
        let total = "greenlight_arm_requests_total";
        page.family(
            total,
            "counter",
            "ARM calls by final status (after retries; `error`: no answer).",
        );
        for (status, n) in calls.statuses.counted() {
            page.sample(total, &[("status", &status)], n as f64);
        }
        page.histogram(
            "greenlight_arm_request_duration_seconds",
            "ARM call latency, retries included.",
            &calls.latency,
        );
    }
    let chain = state.audit_chain.state(&state.pool).await?;
    page.family(
        "greenlight_audit_chain_length",
        "gauge",
        "Audit events verified in the hash chain.",
    )
    .sample(
        "greenlight_audit_chain_length",
        &[],
        chain.verified_events as f64,
    )
    .family(
        "greenlight_audit_chain_broken",
        "gauge",
        "1 when the audit chain is broken (see the console's audit page), else 0.",
    )
    .sample(
        "greenlight_audit_chain_broken",
        &[],
        if chain.broken.is_some() { 1.0 } else { 0.0 },
    );
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], page.finish()).into_response())
}
