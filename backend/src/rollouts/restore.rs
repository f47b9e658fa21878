//! Going back to the known-good split: switching a mirror step's mirror off, and a rollout's
//! abort / rollback. No approval is needed (nor stopped by a freeze window, whose id the
//! restoring operation records).

use super::steps::{operation, IDLE, OPERATION_UNDER_WAY, WAIT};
use super::RolloutError;
use crate::change_requests::{live_split, Context};
use crate::operations::Job;
use crate::store::rollouts::{self as store, RolloutRecord};
use serde_json::json;
use shared::api::{OperationKind, OperationStatus, TrafficState};
use shared::rollout::{RolloutEvent, RolloutState, TrafficSplit};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// What a restoring operation is stored with: a mirror step, or the rollout's abort / rollback.
pub(super) enum RestoreFor {
    Step(u32),
    Rollout,
}

/// Starts the operation that returns the endpoint from `live` to the known-good split (mirror
/// off), its id stored with `for_` in the same transaction. No approval: going back to the
/// known-good split is always allowed.
pub(super) async fn restore_split(
    ctx: &Context,
    r: &RolloutRecord,
    live: &TrafficSplit,
    why: &str,
    for_: RestoreFor,
) -> Result<Uuid, RolloutError> {
    let target = TrafficSplit::restoring(&r.known_good, live);
    let job = Job::new(
        OperationKind::TrafficChange,
        crate::bootstrap::SYSTEM_ACTOR,
        &r.endpoint,
        None,
    )
    .before(json!(live))
    .request(json!({
        "rollout_id": r.id,
        "known_good": r.known_good,
        "traffic": target.traffic,
        "mirror_traffic": target.mirror_traffic,
        "why": why,
        "during_freeze": super::hold::during_freeze(ctx, r).await?,
    }));
    let mut tx = store::begin(&ctx.pool, r.id).await?;
    let started = ctx.operations.insert(&mut tx, &job).await?;
    match for_ {
        RestoreFor::Step(index) => {
            store::note_step(&mut tx, r, index, Some(started.id), None).await?
        }
        RestoreFor::Rollout => store::note_restore(&mut tx, r.id, started.id).await?,
    }
    tx.commit().await?;
    let client = Arc::clone(&ctx.workspace);
    let (endpoint, seen) = (r.endpoint.clone(), live.clone());
    ctx.operations.run(started.id, job, move || async move {
        let updated = client
            .update_traffic(
                &endpoint,
                Some((&seen.traffic, &seen.mirror_traffic)),
                target.traffic,
                target.mirror_traffic,
            )
            .await?;
        Ok(json!(TrafficState::of(&updated)))
    });
    crate::failpoint::hit_after("rollout-operation", OPERATION_UNDER_WAY);
    Ok(started.id)
}

/// Abort / rollback: return the endpoint to the known-good split, then end.
pub(super) async fn restore(ctx: &Context, r: &RolloutRecord) -> Result<Duration, RolloutError> {
    if let Some(op) = r.restore_operation_id {
        // Once it ended (succeeded, or failed because the split moved meanwhile), look again.
        if operation(ctx, op).await?.0 == OperationStatus::Running {
            return Ok(WAIT);
        }
    }
    let live = live_split(&ctx.workspace, &r.endpoint).await?;
    if live.same_effect(&r.known_good) {
        let mut tx = store::begin(&ctx.pool, r.id).await?;
        store::move_rollout(&mut tx, r, r.state, RolloutEvent::Restored, None, None).await?;
        tx.commit().await?;
        return Ok(IDLE);
    }
    let why = if r.state == RolloutState::Aborting {
        "abort"
    } else {
        "rollback"
    };
    restore_split(ctx, r, &live, why, RestoreFor::Rollout).await?;
    Ok(WAIT)
}
