//! One tick of one rollout: read what is stored and what the workspace shows, then do the one
//! thing that is not done yet. Every write to the workspace is either a change request (which
//! people approve, and whose approval starts the operation) or an operation stored in the same
//! transaction as the step that asked for it, so a tick repeated after a crash finds it and
//! waits for it instead of writing twice.

use super::gate::{self, GateNext, Watch};
use super::{required_approvals, RolloutError};
use crate::change_requests::{live_split, Context};
use crate::operations::Job;
use crate::store::change_requests::{self as requests, NewChangeRequest};
use crate::store::operations as operations_store;
use crate::store::rollouts::{self as store, RolloutRecord, StepChange, StepRecord};
use crate::workspace::new_deployment;
use chrono::Utc;
use serde_json::json;
use shared::api::{DeploymentSummary, OperationKind, OperationStatus};
use shared::arm::ProvisioningState;
use shared::gates::JudgedTraffic;
use shared::rollout::{
    Change, ChangeRequestState, RolloutEvent, RolloutState, Step, StepEvent, StepState,
};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Look again at once.
const NOW: Duration = Duration::ZERO;
/// While something runs elsewhere (an operation, people deciding).
pub(super) const WAIT: Duration = Duration::from_millis(500);
/// How long after starting a workspace write the `rollout-operation` crash point fires: the
/// call is then under way.
pub(super) const OPERATION_UNDER_WAY: Duration = Duration::from_millis(700);
/// Nothing to do until a person acts (their action makes it due again).
pub(super) const IDLE: Duration = Duration::from_secs(3600);

pub(super) async fn tick(ctx: &Context, id: Uuid) -> Result<Duration, RolloutError> {
    let rollout = store::load(&mut *ctx.pool.acquire().await?, id)
        .await?
        .ok_or(RolloutError::NotFound)?;
    match rollout.state {
        RolloutState::Pending => {
            let mut tx = store::begin(&ctx.pool, rollout.id).await?;
            store::move_rollout(
                &mut tx,
                &rollout,
                RolloutState::Pending,
                RolloutEvent::Start,
                None,
                None,
            )
            .await?;
            tx.commit().await?;
            Ok(NOW)
        }
        RolloutState::Running | RolloutState::WaitingForApproval => step(ctx, &rollout).await,
        RolloutState::Aborting | RolloutState::RollingBack => {
            super::restore::restore(ctx, &rollout).await
        }
        _ => Ok(IDLE),
    }
}

async fn step(ctx: &Context, r: &RolloutRecord) -> Result<Duration, RolloutError> {
    let (Some(step), Some(plan_step)) = (r.step(), r.plan.steps.get(r.current_step as usize))
    else {
        return Err(RolloutError::Refused(
            "the rollout has no current step".into(),
        ));
    };
    if step.state == StepState::Pending {
        let mut tx = store::begin(&ctx.pool, r.id).await?;
        store::move_step(
            &mut tx,
            r,
            step.index,
            StepState::Pending,
            StepEvent::Start,
            StepChange::default(),
        )
        .await?;
        tx.commit().await?;
        return Ok(NOW);
    }
    match plan_step {
        Step::Deploy => deploy(ctx, r, step).await,
        Step::SmokeTest => smoke_test(ctx, r, step).await,
        Step::Bake { duration, gate } => {
            let since = step.started_at.unwrap_or_else(Utc::now);
            if let Some(gate) = gate {
                let watch = Watch {
                    step,
                    gate,
                    since,
                    duration: duration.0,
                    traffic: JudgedTraffic::Live,
                };
                return match gate::watch(ctx, r, watch).await? {
                    GateNext::Wait(left) => Ok(left),
                    GateNext::Go => succeed(ctx, r, step).await,
                    GateNext::Stop => Ok(NOW),
                };
            }
            match remaining(since, duration.0) {
                Some(left) => Ok(left),
                None => succeed(ctx, r, step).await,
            }
        }
        Step::Mirror { .. } | Step::Shift { .. } | Step::DeleteOld { .. } => {
            traffic_step(ctx, r, step, plan_step).await
        }
    }
}

/// How long until `duration` after `since` has passed; `None` once it has.
fn remaining(since: chrono::DateTime<Utc>, duration: Duration) -> Option<Duration> {
    (later(since, duration) - Utc::now())
        .to_std()
        .ok()
        .filter(|d| !d.is_zero())
}

/// `duration` after `at`; the end of time where that is past what a date can hold (adding
/// `TimeDelta::MAX` to a date panics).
pub(super) fn later(at: chrono::DateTime<Utc>, duration: Duration) -> chrono::DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
}

async fn succeed(
    ctx: &Context,
    r: &RolloutRecord,
    step: &StepRecord,
) -> Result<Duration, RolloutError> {
    let mut tx = store::begin(&ctx.pool, r.id).await?;
    store::move_step(
        &mut tx,
        r,
        step.index,
        step.state,
        StepEvent::Succeed,
        StepChange::default(),
    )
    .await?;
    let next = step.index + 1;
    if next as usize >= r.plan.steps.len() {
        store::move_rollout(
            &mut tx,
            r,
            r.state,
            RolloutEvent::AllStepsSucceeded,
            None,
            None,
        )
        .await?;
    } else {
        store::advance(&mut tx, r.id, next).await?;
        store::move_rollout(&mut tx, r, r.state, RolloutEvent::StepSucceeded, None, None).await?;
    }
    tx.commit().await?;
    crate::failpoint::hit("rollout-step-end");
    Ok(NOW)
}

async fn fail(
    ctx: &Context,
    r: &RolloutRecord,
    step: &StepRecord,
    why: &str,
) -> Result<Duration, RolloutError> {
    let mut tx = store::begin(&ctx.pool, r.id).await?;
    store::move_step(
        &mut tx,
        r,
        step.index,
        step.state,
        StepEvent::Fail,
        StepChange {
            error: Some(why),
            ..StepChange::default()
        },
    )
    .await?;
    store::move_rollout(&mut tx, r, r.state, RolloutEvent::Fail, None, Some(why)).await?;
    tx.commit().await?;
    Ok(IDLE)
}

/// The workspace failed the step's change (its operation ended Failed, as Azure's can for
/// reasons of its own: quota, capacity, an outage): nothing of it took effect, so the step
/// waits to run afresh and the rollout pauses with Azure's message, until someone resumes it
/// (a traffic change is then asked for again, and approved by a second person again) or rolls
/// it back. Both moves, and their audit events, in one transaction.
async fn interrupt(
    ctx: &Context,
    r: &RolloutRecord,
    step: &StepRecord,
    why: &str,
) -> Result<Duration, RolloutError> {
    let why = format!("the workspace failed step {}: {why}", step.index + 1);
    let mut tx = store::begin(&ctx.pool, r.id).await?;
    store::move_step(
        &mut tx,
        r,
        step.index,
        step.state,
        StepEvent::Interrupt,
        StepChange {
            change_request_id: Some(None),
            error: Some(&why),
            ..StepChange::default()
        },
    )
    .await?;
    store::move_rollout(&mut tx, r, r.state, RolloutEvent::Pause, None, Some(&why)).await?;
    tx.commit().await?;
    Ok(IDLE)
}

/// The operation `id`'s status, and its error in words.
pub(super) async fn operation(
    ctx: &Context,
    id: Uuid,
) -> Result<(OperationStatus, String), RolloutError> {
    let found = operations_store::get(&ctx.pool, id)
        .await?
        .ok_or(RolloutError::NotFound)?;
    let error = found
        .error
        .map(|e| format!("{}: {}", e.code, e.message))
        .unwrap_or_default();
    Ok((found.status, error))
}

/// Deploy: create the new deployment at 0 %, unless it exists (this step created it before a
/// restart): then its provisioning state decides.
async fn deploy(
    ctx: &Context,
    r: &RolloutRecord,
    step: &StepRecord,
) -> Result<Duration, RolloutError> {
    if let Some(op) = step.operation_id {
        return match operation(ctx, op).await? {
            (OperationStatus::Running, _) => Ok(WAIT),
            (OperationStatus::Succeeded, _) => succeed(ctx, r, step).await,
            // A deployment that exists, failed, could not start its model: the rollout fails.
            // None at all: the workspace failed the create, which may go better later.
            (OperationStatus::Failed, why) => {
                match ctx
                    .workspace
                    .get_deployment(&r.endpoint, &r.new_deployment)
                    .await
                {
                    Ok(_) => fail(ctx, r, step, &why).await,
                    Err(err) if err.is_not_found() => interrupt(ctx, r, step, &why).await,
                    Err(err) => Err(err.into()),
                }
            }
        };
    }
    let client = Arc::clone(&ctx.workspace);
    match client.get_deployment(&r.endpoint, &r.new_deployment).await {
        Ok(found) => match found.properties.provisioning_state {
            Some(ProvisioningState::Succeeded) => succeed(ctx, r, step).await,
            Some(ProvisioningState::Failed | ProvisioningState::Canceled) => {
                fail(ctx, r, step, "the new deployment failed to start").await
            }
            _ => Ok(WAIT),
        },
        Err(err) if err.is_not_found() => {
            let body = new_deployment::arm_body(&r.deployment, client.workspace_location().await?);
            let job = Job::new(
                OperationKind::DeploymentCreate,
                r.started_by.as_str(),
                &r.endpoint,
                Some(&r.new_deployment),
            )
            .request(json!({ "rollout_id": r.id, "deployment": new_deployment::recorded(&r.deployment) }));
            let mut tx = store::begin(&ctx.pool, r.id).await?;
            let started = ctx.operations.insert(&mut tx, &job).await?;
            store::note_step(&mut tx, r, step.index, Some(started.id), None).await?;
            tx.commit().await?;
            let (endpoint, name) = (r.endpoint.clone(), r.new_deployment.clone());
            ctx.operations.run(started.id, job, move || async move {
                let created = client.create_deployment(&endpoint, &name, &body).await?;
                Ok(json!(DeploymentSummary::of(created)))
            });
            crate::failpoint::hit_after("rollout-operation", OPERATION_UNDER_WAY);
            Ok(WAIT)
        }
        Err(err) => Err(err.into()),
    }
}

/// How long a smoke test keeps asking while the new deployment's instances are not serving
/// yet (just created, or restarted with the local workspace).
const SMOKE_PATIENCE: Duration = Duration::from_secs(60);

/// Smoke test: the new deployment, asked directly with its model's sample request, answers 200.
/// A gateway answer (502–504) or no answer is retried for [`SMOKE_PATIENCE`]; the model's own
/// answer, whatever it is, decides at once.
async fn smoke_test(
    ctx: &Context,
    r: &RolloutRecord,
    step: &StepRecord,
) -> Result<Duration, RolloutError> {
    let client = &ctx.workspace;
    let Some(sample) = client
        .sample_request(&r.endpoint, &r.new_deployment)
        .await?
    else {
        return fail(
            ctx,
            r,
            step,
            "the new deployment's model has no sample request to test it with",
        )
        .await;
    };
    let body = serde_json::to_vec(&sample).unwrap_or_default();
    let patient = remaining(step.started_at.unwrap_or_else(Utc::now), SMOKE_PATIENCE).is_some();
    match client
        .invoke(&r.endpoint, Some(&r.new_deployment), body.into())
        .await
    {
        Ok(answer) if answer.status == 200 => succeed(ctx, r, step).await,
        Ok(answer) if (502..=504).contains(&answer.status) && patient => Ok(WAIT),
        Err(_) if patient => Ok(WAIT),
        Ok(answer) => {
            let why = format!(
                "{} answered {} to its model's sample request",
                r.new_deployment, answer.status
            );
            fail(ctx, r, step, &why).await
        }
        Err(err) => {
            let why = format!("{} could not be asked: {err}", r.new_deployment);
            fail(ctx, r, step, &why).await
        }
    }
}

/// The change a traffic step asks for.
fn change_of(r: &RolloutRecord, plan_step: &Step) -> Option<Change> {
    let (old, new) = (r.old_deployment.as_str(), r.new_deployment.as_str());
    match plan_step {
        Step::DeleteOld { .. } => Some(Change::DeleteDeployment {
            deployment: r.old_deployment.clone(),
        }),
        other => other
            .target_split(old, new)
            .map(|after| Change::Traffic { after }),
    }
}

/// Whether `change` is already in effect (a restart after it was applied).
async fn in_effect(
    ctx: &Context,
    r: &RolloutRecord,
    change: &Change,
) -> Result<bool, RolloutError> {
    match change {
        Change::Traffic { after } => Ok(live_split(&ctx.workspace, &r.endpoint)
            .await?
            .same_effect(after)),
        Change::DeleteDeployment { deployment } => {
            match ctx.workspace.get_deployment(&r.endpoint, deployment).await {
                Ok(_) => Ok(false),
                Err(err) if err.is_not_found() => Ok(true),
                Err(err) => Err(err.into()),
            }
        }
        Change::DeleteEndpoint | Change::PassGate { .. } => Ok(false),
    }
}

/// Mirror, shift, delete-old: ask (a change request, approved by people other than the one
/// who started the rollout), wait for the decision, and then for the change to be applied.
async fn traffic_step(
    ctx: &Context,
    r: &RolloutRecord,
    step: &StepRecord,
    plan_step: &Step,
) -> Result<Duration, RolloutError> {
    let Some(change) = change_of(r, plan_step) else {
        return fail(ctx, r, step, "this step changes nothing").await;
    };
    let Some(request_id) = step.change_request_id else {
        if step.applied_at.is_some() || in_effect(ctx, r, &change).await? {
            return applied(ctx, r, step, plan_step).await;
        }
        if let Some(wait) = super::hold::frozen(ctx, r).await? {
            return Ok(wait);
        }
        let live = live_split(&ctx.workspace, &r.endpoint).await?;
        let new = NewChangeRequest {
            workspace: r.workspace.clone(),
            endpoint: r.endpoint.clone(),
            change,
            before: live,
            requester: r.started_by.clone(),
            reason: format!(
                "rollout to {}: step {} ({})",
                r.new_deployment,
                step.index + 1,
                plan_step.kind()
            ),
            rollout: Some((r.id, step.index)),
            at_least: required_approvals(plan_step, 1),
        };
        let mut tx = store::begin(&ctx.pool, r.id).await?;
        let asked = requests::create_in(&mut tx, &new).await?;
        store::move_step(
            &mut tx,
            r,
            step.index,
            step.state,
            StepEvent::NeedsApproval,
            StepChange {
                change_request_id: Some(Some(asked.summary.id)),
                ..StepChange::default()
            },
        )
        .await?;
        store::move_rollout(&mut tx, r, r.state, RolloutEvent::NeedsApproval, None, None).await?;
        tx.commit().await?;
        return Ok(WAIT);
    };
    let request = requests::get(&ctx.pool, request_id)
        .await?
        .ok_or(RolloutError::NotFound)?;
    let lapsed = |event| async move {
        let mut tx = store::begin(&ctx.pool, r.id).await?;
        store::move_step(
            &mut tx,
            r,
            step.index,
            step.state,
            event,
            StepChange {
                change_request_id: Some(None),
                ..StepChange::default()
            },
        )
        .await?;
        let rollout_event = if event == StepEvent::Rejected {
            RolloutEvent::Rejected
        } else {
            RolloutEvent::RequestLapsed
        };
        store::move_rollout(&mut tx, r, r.state, rollout_event, None, None).await?;
        tx.commit().await?;
        Ok::<_, RolloutError>(IDLE)
    };
    match request.summary.state {
        ChangeRequestState::Pending | ChangeRequestState::Approved => Ok(WAIT),
        ChangeRequestState::Applied => {
            if step.state == StepState::WaitingForApproval {
                let mut tx = store::begin(&ctx.pool, r.id).await?;
                store::move_step(
                    &mut tx,
                    r,
                    step.index,
                    StepState::WaitingForApproval,
                    StepEvent::Approved,
                    StepChange {
                        applied_at: Some(request.decided_at.unwrap_or_else(Utc::now)),
                        ..StepChange::default()
                    },
                )
                .await?;
                if r.state == RolloutState::WaitingForApproval {
                    store::move_rollout(&mut tx, r, r.state, RolloutEvent::Approved, None, None)
                        .await?;
                }
                tx.commit().await?;
                return Ok(NOW);
            }
            applied(ctx, r, step, plan_step).await
        }
        ChangeRequestState::Rejected => lapsed(StepEvent::Rejected).await,
        ChangeRequestState::Expired | ChangeRequestState::Stale | ChangeRequestState::Cancelled => {
            lapsed(StepEvent::RequestLapsed).await
        }
        ChangeRequestState::Failed => {
            let why = match request.operation_id {
                Some(op) => operation(ctx, op).await?.1,
                None => String::new(),
            };
            let why = if why.is_empty() {
                "the approved change failed".to_owned()
            } else {
                format!("the approved change failed: {why}")
            };
            interrupt(ctx, r, step, &why).await
        }
    }
}

/// The step's change is in effect: a shift or a delete is done; a mirror holds for its
/// duration (its gate, if any, watching) and is then switched off, which restores the
/// known-good split and so needs no approval.
async fn applied(
    ctx: &Context,
    r: &RolloutRecord,
    step: &StepRecord,
    plan_step: &Step,
) -> Result<Duration, RolloutError> {
    let Step::Mirror { duration, gate, .. } = plan_step else {
        return succeed(ctx, r, step).await;
    };
    let Some(since) = step.applied_at else {
        let mut tx = store::begin(&ctx.pool, r.id).await?;
        store::note_step(&mut tx, r, step.index, None, Some(Utc::now())).await?;
        tx.commit().await?;
        return Ok(NOW);
    };
    match gate {
        // Once the mirror is being switched off, the gate has decided.
        Some(gate) if step.operation_id.is_none() => {
            let watch = Watch {
                step,
                gate,
                since,
                duration: duration.0,
                traffic: JudgedTraffic::Mirrored,
            };
            match gate::watch(ctx, r, watch).await? {
                GateNext::Wait(left) => return Ok(left),
                GateNext::Stop => return Ok(NOW),
                GateNext::Go => {}
            }
        }
        Some(_) => {}
        None => {
            if let Some(left) = remaining(since, duration.0) {
                return Ok(left);
            }
        }
    }
    if let Some(op) = step.operation_id {
        return match operation(ctx, op).await? {
            (OperationStatus::Running, _) => Ok(WAIT),
            (OperationStatus::Succeeded, _) => succeed(ctx, r, step).await,
            (OperationStatus::Failed, why) => interrupt(ctx, r, step, &why).await,
        };
    }
    let live = live_split(&ctx.workspace, &r.endpoint).await?;
    if live.effective().mirror_traffic.is_empty() {
        return succeed(ctx, r, step).await;
    }
    let started = super::restore::restore_split(
        ctx,
        r,
        &live,
        "the mirror step's time is up",
        super::restore::RestoreFor::Step(step.index),
    )
    .await?;
    tracing::debug!(rollout = %r.id, operation = %started, "mirror switched off");
    Ok(WAIT)
}
