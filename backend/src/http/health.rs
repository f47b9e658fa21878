//! `GET /api/v1/health`: is this instance able to serve?

use super::AppState;
use crate::store;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use shared::api::Health;

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
    let database_ok = store::ping(&state.pool)
        .await
        .inspect_err(|err| tracing::warn!(%err, "health check: database unavailable"))
        .is_ok();
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
