//! `/api/v1/endpoints/{endpoint}/rollouts` and `/api/v1/rollouts/{id}`: start a rollout, follow
//! it, and steer it (pause, resume, abort, roll back).

use super::change_requests::actor;
use super::error::ApiError;
use super::json::AppJson;
use super::paths::{EndpointPath, IdPath};
use super::AppState;
use crate::auth::{Authenticated, Operator};
use crate::rollouts::{self, RolloutError};
use crate::store::rollouts as store;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::api::rollouts::{
    GateCheck, RolloutActionRequest, RolloutDetail, RolloutList, StartRolloutRequest,
};
use shared::rollout::{RolloutEvent, RolloutState};
use shared::{ErrorEnvelope, Role};
use uuid::Uuid;

impl From<RolloutError> for ApiError {
    fn from(err: RolloutError) -> Self {
        match err {
            RolloutError::Invalid(fields) => Self::rejected(fields),
            RolloutError::Refused(message) => Self::Conflict {
                message,
                fields: Vec::new(),
                current: None,
            },
            RolloutError::NotFound => Self::NotFound,
            RolloutError::Store(err) => err.into(),
            RolloutError::Workspace(err) => err.into(),
        }
    }
}

/// Rollout `id` as `role` may see it: a gate's differing answers hold callers' requests, so
/// only operators and up see those samples (as with endpoint metrics); the rest see numbers.
async fn detail(state: &AppState, id: Uuid, role: Role) -> Result<RolloutDetail, ApiError> {
    let mut found = store::detail(&state.pool, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if matches!(
        found.summary.state,
        RolloutState::Running | RolloutState::WaitingForApproval
    ) {
        let s = &found.summary;
        let now = chrono::Utc::now();
        found.held_by_freeze = crate::freeze::status(&state.pool, &s.workspace, &s.endpoint, now)
            .await?
            .active;
    }
    if !role.allows(Role::Operator) {
        for step in &mut found.steps {
            step.gate = step.gate.take().map(|check| GateCheck {
                report: check.report.without_samples(),
                ..check
            });
        }
    }
    Ok(found)
}

/// Starts a rollout to a new deployment along a plan (the seed's seven steps when none is
/// given). The endpoint must have one deployment taking all live traffic and no mirror.
#[utoipa::path(
    post,
    path = "/api/v1/endpoints/{endpoint}/rollouts",
    operation_id = "start_rollout",
    tag = "rollouts",
    params(EndpointPath),
    request_body = StartRolloutRequest,
    responses(
        (status = 201, description = "Started; the executor walks the plan", body = RolloutDetail),
        (status = 403, description = "Needs the operator role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "Another rollout is active, or the endpoint can't start one", body = ErrorEnvelope),
        (status = 422, description = "The deployment or the plan breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    auth: Authenticated<Operator>,
    EndpointPath { endpoint }: EndpointPath,
    AppJson(request): AppJson<StartRolloutRequest>,
) -> Result<Response, ApiError> {
    let ctx = state.change_context()?;
    let id = rollouts::start(&ctx, &actor(&auth.session), &endpoint, request).await?;
    let location = format!("/api/v1/rollouts/{id}");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        AppJson(detail(&state, id, auth.session.user.role).await?),
    )
        .into_response())
}

/// The endpoint's rollouts, newest first: its rollout history.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}/rollouts",
    operation_id = "list_rollouts",
    tag = "rollouts",
    params(EndpointPath),
    responses(
        (status = 200, body = RolloutList),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authenticated,
    EndpointPath { endpoint }: EndpointPath,
) -> Result<AppJson<RolloutList>, ApiError> {
    let workspace = state.workspace()?.workspace_id();
    Ok(AppJson(
        store::list(&state.pool, &workspace, &endpoint, 100).await?,
    ))
}

/// One rollout: its plan, each step's state, the timeline and the pending request.
#[utoipa::path(
    get,
    path = "/api/v1/rollouts/{id}",
    operation_id = "get_rollout",
    tag = "rollouts",
    params(("id" = Uuid, Path, description = "The rollout's id")),
    responses(
        (status = 200, body = RolloutDetail),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    auth: Authenticated,
    IdPath(id): IdPath,
) -> Result<AppJson<RolloutDetail>, ApiError> {
    Ok(AppJson(detail(&state, id, auth.session.user.role).await?))
}

/// Applies a person's `event` to rollout `id`.
async fn steer(
    state: AppState,
    auth: Authenticated<Operator>,
    id: Uuid,
    event: RolloutEvent,
    body: RolloutActionRequest,
) -> Result<AppJson<RolloutDetail>, ApiError> {
    body.check(event).map_err(ApiError::rejected)?;
    let ctx = state.change_context()?;
    rollouts::act(
        &ctx,
        &actor(&auth.session),
        id,
        event,
        body.reason.as_deref(),
    )
    .await?;
    Ok(AppJson(detail(&state, id, auth.session.user.role).await?))
}

macro_rules! steering_route {
    ($name:ident, $path:literal, $op:literal, $event:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(
            post,
            path = $path,
            operation_id = $op,
            tag = "rollouts",
            params(("id" = Uuid, Path, description = "The rollout's id")),
            request_body = RolloutActionRequest,
            responses(
                (status = 200, body = RolloutDetail),
                (status = 403, description = "Needs the operator role", body = ErrorEnvelope),
                (status = 404, body = ErrorEnvelope),
                (status = 409, description = "Not possible in the rollout's state", body = ErrorEnvelope),
                (status = 422, description = "A reason is required", body = ErrorEnvelope),
            )
        )]
        pub async fn $name(
            State(state): State<AppState>,
            auth: Authenticated<Operator>,
            IdPath(id): IdPath,
            AppJson(body): AppJson<RolloutActionRequest>,
        ) -> Result<AppJson<RolloutDetail>, ApiError> {
            steer(state, auth, id, $event, body).await
        }
    };
}

steering_route!(
    pause,
    "/api/v1/rollouts/{id}/pause",
    "pause_rollout",
    RolloutEvent::Pause,
    "Holds the rollout: no new step starts, and the current step's open request is withdrawn."
);
steering_route!(
    resume,
    "/api/v1/rollouts/{id}/resume",
    "resume_rollout",
    RolloutEvent::Resume,
    "Carries a paused rollout on from its current step (asking again if its request lapsed)."
);
steering_route!(
    abort,
    "/api/v1/rollouts/{id}/abort",
    "abort_rollout",
    RolloutEvent::Abort,
    "Ends the rollout, returning the endpoint at once to the split it had before (mirror off). No approval; a reason is required."
);
steering_route!(
    rollback,
    "/api/v1/rollouts/{id}/rollback",
    "rollback_rollout",
    RolloutEvent::Rollback,
    "Returns the endpoint at once to the split it had before the rollout (mirror off), also after a failure. No approval; a reason is required."
);
