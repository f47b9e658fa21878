//! Moving a rollout or one of its steps through the shared state machines: each move appends
//! to the timeline, records its audit event where it is a start, an end or a person's action,
//! and publishes the rollout on the live feed, in the caller's transaction.

use super::views::summary_of;
use super::{db_index, load, RolloutRecord, TOPIC};
use crate::audit::{self, AuditEvent};
use crate::store::operations::publish;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::api::rollouts::Transition;
use shared::audit::AuditAction;
use shared::rollout::{RolloutEvent, RolloutState, StepEvent, StepState};
use shared::EndpointName;
use sqlx::PgConnection;
use uuid::Uuid;

/// Moves the rollout from `from` by `event` (the shared state machine decides the target):
/// timeline, audit event and live feed in the caller's transaction. `Ok(false)` when it was no
/// longer in `from` (someone else moved it first).
pub async fn move_rollout(
    tx: &mut PgConnection,
    r: &RolloutRecord,
    from: RolloutState,
    event: RolloutEvent,
    actor: Option<&str>,
    reason: Option<&str>,
) -> Result<bool, StoreError> {
    move_rollout_noting(tx, r, from, event, actor, reason, None).await
}

/// [`move_rollout`], with `note` (e.g. the freeze window a rollback went through) added to its
/// audit event's details as `during_freeze`.
pub async fn move_rollout_noting(
    tx: &mut PgConnection,
    r: &RolloutRecord,
    from: RolloutState,
    event: RolloutEvent,
    actor: Option<&str>,
    reason: Option<&str>,
    note: Option<Value>,
) -> Result<bool, StoreError> {
    let to = from
        .next(event)
        .map_err(|refused| StoreError::conflict("state", refused.to_string()))?;
    let done = sqlx::query!(
        "update rollouts set state = $3, due_at = now(),
                finished_at = case when $4 then now() else finished_at end
          where id = $1 and state = $2",
        r.id,
        from.as_str(),
        to.as_str(),
        to.is_terminal(),
    )
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    timeline(
        tx,
        r.id,
        actor,
        &Transition::Rollout { event, from, to },
        reason,
        None,
    )
    .await?;
    let action = match event {
        RolloutEvent::Pause => Some(AuditAction::RolloutPause),
        RolloutEvent::Resume => Some(AuditAction::RolloutResume),
        RolloutEvent::Abort => Some(AuditAction::RolloutAbort),
        RolloutEvent::Rollback => Some(AuditAction::RolloutRollback),
        _ if to.is_terminal() => Some(AuditAction::RolloutEnd),
        _ => None,
    };
    if let Some(action) = action {
        let mut details = json!({ "rollout_id": r.id, "from": from, "to": to, "reason": reason });
        if let Some(note) = note {
            details["during_freeze"] = note;
        }
        record(
            tx,
            actor.unwrap_or(crate::bootstrap::SYSTEM_ACTOR),
            action,
            &r.endpoint,
            details,
        )
        .await?;
    }
    if to.is_terminal() {
        skip_the_rest(tx, r).await?;
    }
    announce(tx, r.id).await?;
    Ok(true)
}

/// A rollout that ended skips the steps it did not finish. A step that had started (its start
/// is audited) ends here as `skipped`, on the timeline and audited like any other step end, so
/// the log never shows a start without its end.
async fn skip_the_rest(tx: &mut PgConnection, r: &RolloutRecord) -> Result<(), StoreError> {
    let skipped = sqlx::query!(
        r#"with open as (
               select index, state from rollout_steps
                where rollout_id = $1 and state in ('pending', 'running', 'waiting_for_approval')
                  for update)
           update rollout_steps s
              set state = 'skipped',
                  finished_at = case when open.state = 'pending' then s.finished_at else now() end
             from open
            where s.rollout_id = $1 and s.index = open.index
        returning s.index as "index!", open.state as "from_state!""#,
        r.id,
    )
    .fetch_all(&mut *tx)
    .await?;
    for step in skipped {
        let from = StepState::parse(&step.from_state)
            .ok_or_else(|| StoreError::conflict("state", "a step in an unknown state"))?;
        if from == StepState::Pending {
            continue;
        }
        let index = u32::try_from(step.index).unwrap_or_default();
        let transition = Transition::Step {
            index,
            event: StepEvent::Skip,
            from,
            to: StepState::Skipped,
        };
        timeline(tx, r.id, None, &transition, None, None).await?;
        let kind = r.plan.steps.get(index as usize).map(|s| s.kind());
        record(
            tx,
            crate::bootstrap::SYSTEM_ACTOR,
            AuditAction::RolloutStepEnd,
            &r.endpoint,
            json!({ "rollout_id": r.id, "step": index, "kind": kind, "state": StepState::Skipped, "error": null }),
        )
        .await?;
    }
    Ok(())
}

/// What else a step's move stores.
#[derive(Debug, Default)]
pub struct StepChange<'a> {
    pub change_request_id: Option<Option<Uuid>>,
    pub operation_id: Option<Uuid>,
    pub applied_at: Option<DateTime<Utc>>,
    pub error: Option<&'a str>,
}

/// Moves step `index` of rollout `r` from `from` by `event`, storing `change`; audits starts
/// and ends. A step that starts again forgets its last error; an interrupted one its operation.
/// `Ok(false)` when the step was no longer in `from`.
pub async fn move_step(
    tx: &mut PgConnection,
    r: &RolloutRecord,
    index: u32,
    from: StepState,
    event: StepEvent,
    change: StepChange<'_>,
) -> Result<bool, StoreError> {
    let to = from
        .next(event)
        .map_err(|refused| StoreError::conflict("state", refused.to_string()))?;
    let (set_request, request) = match change.change_request_id {
        Some(request) => (true, request),
        None => (false, None),
    };
    let done = sqlx::query!(
        "update rollout_steps
            set state = $4,
                started_at = case when $4 = 'running' then coalesce(started_at, now()) else started_at end,
                finished_at = case when $4 in ('succeeded', 'failed', 'skipped') then now() else finished_at end,
                change_request_id = case when $5 then $6 else change_request_id end,
                operation_id = case when $10 then null else coalesce($7, operation_id) end,
                applied_at = coalesce($8, applied_at),
                error = case when $3 = 'pending' and $4 = 'running' then $9
                             else coalesce($9, error) end
          where rollout_id = $1 and index = $2 and state = $3",
        r.id,
        db_index(index),
        from.as_str(),
        to.as_str(),
        set_request,
        request,
        change.operation_id,
        change.applied_at,
        change.error,
        // An interrupted step runs afresh: its failed operation is history (on the timeline).
        event == StepEvent::Interrupt,
    )
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    timeline(
        tx,
        r.id,
        None,
        &Transition::Step {
            index,
            event,
            from,
            to,
        },
        change.error,
        request,
    )
    .await?;
    let action = match (event, to.is_terminal()) {
        (StepEvent::Start, _) => Some(AuditAction::RolloutStepStart),
        (_, true) => Some(AuditAction::RolloutStepEnd),
        _ => None,
    };
    if let Some(action) = action {
        let kind = r.plan.steps.get(index as usize).map(|s| s.kind());
        record(
            tx,
            crate::bootstrap::SYSTEM_ACTOR,
            action,
            &r.endpoint,
            json!({ "rollout_id": r.id, "step": index, "kind": kind, "state": to, "error": change.error }),
        )
        .await?;
    }
    announce(tx, r.id).await?;
    Ok(true)
}

async fn timeline(
    tx: &mut PgConnection,
    id: Uuid,
    actor: Option<&str>,
    transition: &Transition,
    reason: Option<&str>,
    change_request_id: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into rollout_timeline (rollout_id, actor, transition, reason, change_request_id)
         values ($1, $2, $3, $4, $5)",
        id,
        actor,
        json!(transition),
        reason,
        change_request_id,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Publishes the rollout's summary on the live feed.
pub async fn announce(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    let r = load(tx, id).await?.ok_or(sqlx::Error::RowNotFound)?;
    let summary = summary_of(tx, &r).await?;
    publish(tx, TOPIC, &summary).await
}

pub(super) async fn record(
    tx: &mut PgConnection,
    actor: &str,
    action: AuditAction,
    endpoint: &EndpointName,
    details: Value,
) -> sqlx::Result<()> {
    audit::record(
        tx,
        &AuditEvent {
            actor: actor.to_owned(),
            action,
            target: endpoint.to_string(),
            details,
        },
    )
    .await?;
    Ok(())
}
