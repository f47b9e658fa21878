//! Rollout sessions: start one, pause / resume / abort / roll it back, and the executor that
//! walks its plan. The plan, the state machines and the approval rules are `shared::rollout`'s;
//! every traffic change a step makes is a change request like any other (`change_requests`),
//! except going back to the known-good split, which is always allowed.

mod executor;
mod gate;
mod hold;
mod restore;
mod steps;

pub use executor::Executor;

use crate::change_requests::{live_split, Context};
use crate::store::change_requests as requests;
use crate::store::rollouts::{self as store, NewRollout};
use crate::store::StoreError;
use crate::workspace::new_deployment;
use crate::workspace::WorkspaceError;
use shared::api::rollouts::StartRolloutRequest;
use shared::rollout::{
    check_rollout_start, Actor, RolloutEvent, RolloutState, Step, StepEvent, StepState,
};
use shared::{DeploymentName, EndpointName, FieldError};
use uuid::Uuid;

/// Why starting or steering a rollout failed.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("the request breaks a rule")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Refused(String),
    #[error("no such rollout")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
}

impl From<sqlx::Error> for RolloutError {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(err.into())
    }
}

/// Approvals a step's change needs: the plan's count, never below the endpoint's policy; a
/// mirror the plan did not gate still needs the policy's (it sends live requests, with their
/// data, to the new model's code), and steps that change no traffic need none.
pub fn required_approvals(step: &Step, policy: u32) -> u32 {
    match step {
        Step::Mirror { approvals, .. } => (*approvals).max(policy),
        other => other.required_approvals(policy),
    }
}

/// Starts a rollout of `request.deployment` on `endpoint`: the endpoint must have one deployment
/// taking all live traffic and no mirror; that split becomes the known-good split.
pub async fn start(
    ctx: &Context,
    actor: &Actor,
    endpoint: &EndpointName,
    request: StartRolloutRequest,
) -> Result<Uuid, RolloutError> {
    request.check().map_err(RolloutError::Invalid)?;
    let new_deployment: DeploymentName =
        request
            .deployment
            .name
            .parse()
            .map_err(|e: shared::NameError| {
                RolloutError::Invalid(vec![FieldError {
                    field: "deployment.name".into(),
                    message: e.to_string(),
                }])
            })?;
    let live = live_split(&ctx.workspace, endpoint).await?;
    let deployments = ctx.workspace.list_deployments(endpoint).await?;
    let names: Vec<&str> = deployments
        .iter()
        .filter_map(|d| d.name.as_deref())
        .collect();
    let old = check_rollout_start(&live, &names, new_deployment.as_str())
        .map_err(|refused| RolloutError::Refused(refused.to_string()))?;
    let old_deployment: DeploymentName = old
        .parse()
        .map_err(|e: shared::NameError| RolloutError::Refused(e.to_string()))?;
    let new = NewRollout {
        workspace: ctx.workspace_id.clone(),
        endpoint: endpoint.clone(),
        old_deployment,
        new_deployment,
        recorded_deployment: new_deployment::recorded(&request.deployment),
        deployment: request.deployment,
        plan: request.plan,
        known_good: live.without_mirror(),
        started_by: actor.username.clone(),
        reason: request.reason,
    };
    Ok(store::create(&ctx.pool, &new).await?)
}

/// A person steers rollout `id`: pause, resume, abort or roll back (the last two with a
/// reason; they restore the known-good split without approval). Pausing or ending withdraws
/// the current step's open request.
pub async fn act(
    ctx: &Context,
    actor: &Actor,
    id: Uuid,
    event: RolloutEvent,
    reason: Option<&str>,
) -> Result<(), RolloutError> {
    let mut tx = store::begin(&ctx.pool, id).await?;
    let rollout = store::load(&mut tx, id)
        .await?
        .ok_or(RolloutError::NotFound)?;
    let from = rollout.state;
    let to = from
        .next(event)
        .map_err(|refused| RolloutError::Refused(refused.to_string()))?;
    let who = actor.username.as_str();
    // Going back to the known-good split is allowed during a freeze; its audit event says so.
    let during_freeze = if matches!(to, RolloutState::Aborting | RolloutState::RollingBack) {
        let now = chrono::Utc::now();
        crate::freeze::in_force(&mut tx, &rollout.workspace, &rollout.endpoint, now)
            .await?
            .map(|notice| crate::freeze::during(&notice))
    } else {
        None
    };
    store::move_rollout_noting(
        &mut tx,
        &rollout,
        from,
        event,
        Some(who),
        reason,
        during_freeze,
    )
    .await?;
    if to == RolloutState::Paused
        || to.is_terminal()
        || matches!(to, RolloutState::Aborting | RolloutState::RollingBack)
    {
        if let Some(step) = rollout.step() {
            if let Some(request) = step.change_request_id {
                requests::cancel(&mut tx, request, who, event.as_str()).await?;
            }
            if let Some(request) = gate::open_request(&mut tx, rollout.id, step.index).await? {
                requests::cancel(&mut tx, request, who, event.as_str()).await?;
            }
            if step.state == StepState::WaitingForApproval {
                store::move_step(
                    &mut tx,
                    &rollout,
                    step.index,
                    step.state,
                    StepEvent::RequestLapsed,
                    store::StepChange {
                        change_request_id: Some(None),
                        ..store::StepChange::default()
                    },
                )
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}
