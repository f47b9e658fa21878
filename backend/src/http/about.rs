//! `GET /api/v1/about`: what this instance is connected to, for the console's about box.

use super::AppState;
use crate::auth::Authenticated;
use axum::extract::State;
use axum::Json;
use shared::api::About;
use shared::ErrorEnvelope;

/// The version and the local workspace's addresses (signed-in users only: addresses of
/// internal services are not for anonymous visitors).
#[utoipa::path(
    get,
    path = "/api/v1/about",
    operation_id = "get_about",
    tag = "health",
    responses(
        (status = 200, body = About),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    )
)]
pub async fn about(State(state): State<AppState>, _auth: Authenticated) -> Json<About> {
    Json(About {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        local_workspace: state.local_workspace.clone(),
    })
}
