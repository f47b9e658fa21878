//! The rollout routes: start one on an endpoint, read an endpoint's history and one rollout, and
//! steer it (pause, resume, abort, roll back). A submodule of [`crate::api`] so it shares the
//! client's error handling and CSRF header without widening what that module exports.

use super::{endpoint_path, get, write, ApiError};
use gloo_net::http::Request;
use shared::api::rollouts::{
    RolloutActionRequest, RolloutDetail, RolloutList, StartRolloutRequest,
};
use shared::rollout::RolloutEvent;
use uuid::Uuid;

fn rollout_path(id: Uuid) -> String {
    format!("/api/v1/rollouts/{id}")
}

/// Starts a rollout on `endpoint` (201 with the rollout; 409 when one is active already or the
/// endpoint has no single live deployment; 422 naming `deployment.*` / `plan.steps[i].*`).
pub async fn start_rollout(
    endpoint: &str,
    request: &StartRolloutRequest,
) -> Result<RolloutDetail, ApiError> {
    let path = format!("{}/rollouts", endpoint_path(endpoint));
    write(Request::post(&path), Some(request)).await
}

/// The endpoint's rollouts, newest first.
pub async fn rollouts(endpoint: &str) -> Result<RolloutList, ApiError> {
    get(&format!("{}/rollouts", endpoint_path(endpoint))).await
}

pub async fn rollout(id: Uuid) -> Result<RolloutDetail, ApiError> {
    get(&rollout_path(id)).await
}

/// Sends a person's `action` (one of [`RolloutEvent::is_action`]); abort and rollback need a
/// reason. Answers with the rollout as it is after the action.
pub async fn steer_rollout(
    id: Uuid,
    action: RolloutEvent,
    reason: Option<String>,
) -> Result<RolloutDetail, ApiError> {
    if !action.is_action() {
        return Err(ApiError::local(format!(
            "{action} is not something a person does"
        )));
    }
    let path = format!("{}/{}", rollout_path(id), action.as_str());
    write(Request::post(&path), Some(&RolloutActionRequest { reason })).await
}
