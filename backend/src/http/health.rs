//! `GET /api/v1/health`: is this instance able to serve?

use super::AppState;
use crate::store;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use shared::api::Health;

/// How long health waits for the database before calling it unavailable.
const PING_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Reports whether the database answers. 503 when it does not, so a load balancer stops
/// sending traffic here.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    operation_id = "get_health",
    tag = "health",
    responses(
        (status = 200, description = "Every check passed", body = Health),
        (status = 503, description = "The database did not answer", body = Health),
    )
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    // A database that is down makes the pool keep trying to connect; health answers at once
    // that it is degraded rather than waiting with it.
    let database_ok = match tokio::time::timeout(PING_LIMIT, store::ping(&state.pool)).await {
        Ok(Ok(())) => true,
        Ok(Err(err)) => {
            tracing::warn!(%err, "health check: database unavailable");
            false
        }
        Err(_) => {
            tracing::warn!(
                limit_ms = PING_LIMIT.as_millis(),
                "health check: the database did not answer in time"
            );
            false
        }
    };
    let status = if database_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool, bad: &str| if ok { "ok".to_owned() } else { bad.to_owned() };
    (
        status,
        Json(Health {
            status: word(database_ok, "degraded"),
            database: word(database_ok, "unavailable"),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }),
    )
}
