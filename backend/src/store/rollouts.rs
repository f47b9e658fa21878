//! Rollouts, their steps and their timeline. Every state change is guarded by the state it was
//! read in, appends to the timeline, records its audit event (for starts, ends, pauses,
//! resumes, aborts and rollbacks) and publishes the rollout on the live feed
//! (`event: rollout`), all in one transaction.

use super::operations::publish;
use super::{ResultExt, StoreError};
use crate::audit::{self, AuditEvent};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::api::rollouts::{
    RolloutDetail, RolloutList, RolloutStepView, RolloutSummary, TimelineEntry, Transition,
};
use shared::api::CreateDeploymentRequest;
use shared::audit::AuditAction;
use shared::rollout::{
    Plan, RolloutEvent, RolloutState, StepEvent, StepState, TrafficSplit, WorkspaceId,
};
use shared::{DeploymentName, EndpointName, Username};
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// The SSE event name of a rollout's updates.
pub const TOPIC: &str = "rollout";

/// A rollout as the executor works on it.
#[derive(Debug, Clone)]
pub struct RolloutRecord {
    pub id: Uuid,
    pub workspace: WorkspaceId,
    pub endpoint: EndpointName,
    pub old_deployment: DeploymentName,
    pub new_deployment: DeploymentName,
    pub deployment: CreateDeploymentRequest,
    pub plan: Plan,
    pub known_good: TrafficSplit,
    pub state: RolloutState,
    pub current_step: u32,
    pub started_by: Username,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub restore_operation_id: Option<Uuid>,
    pub steps: Vec<StepRecord>,
}

impl RolloutRecord {
    /// The step being worked on.
    pub fn step(&self) -> Option<&StepRecord> {
        self.steps.get(self.current_step as usize)
    }
}

#[derive(Debug, Clone)]
pub struct StepRecord {
    pub index: u32,
    pub state: StepState,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub change_request_id: Option<Uuid>,
    pub operation_id: Option<Uuid>,
    pub applied_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// A rollout as it is started.
#[derive(Debug, Clone)]
pub struct NewRollout {
    pub workspace: WorkspaceId,
    pub endpoint: EndpointName,
    pub old_deployment: DeploymentName,
    pub new_deployment: DeploymentName,
    pub deployment: CreateDeploymentRequest,
    pub recorded_deployment: Value,
    pub plan: Plan,
    pub known_good: TrafficSplit,
    pub started_by: Username,
    pub reason: Option<String>,
}

fn decode(message: impl ToString) -> sqlx::Error {
    sqlx::Error::Decode(message.to_string().into())
}

fn parsed<T: serde::de::DeserializeOwned>(value: Value) -> sqlx::Result<T> {
    serde_json::from_value(value).map_err(decode)
}

fn db_index(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Stores a new pending rollout with one pending row per step, audited as `rollout.start`.
/// A second active rollout on the endpoint is a `Conflict` (the database's unique index).
pub async fn create(pool: &PgPool, new: &NewRollout) -> Result<Uuid, StoreError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::new_v4();
    sqlx::query!(
        "insert into rollouts (id, workspace, endpoint, old_deployment, new_deployment,
                               deployment, plan, known_good, state, started_by, reason)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)",
        id,
        new.workspace.as_str(),
        new.endpoint.as_str(),
        new.old_deployment.as_str(),
        new.new_deployment.as_str(),
        json!(new.deployment),
        json!(new.plan),
        json!(new.known_good),
        new.started_by.as_str(),
        new.reason,
    )
    .execute(&mut *tx)
    .await
    .on_constraint("rollouts_one_active_per_endpoint", |_| {
        StoreError::conflict(
            "endpoint",
            format!(
                "endpoint {} already has an active rollout; end it first",
                new.endpoint
            ),
        )
    })?;
    for step in 0..new.plan.steps.len() {
        sqlx::query!(
            "insert into rollout_steps (rollout_id, index, state) values ($1, $2, 'pending')",
            id,
            i32::try_from(step).unwrap_or(i32::MAX),
        )
        .execute(&mut *tx)
        .await?;
    }
    record(
        &mut tx,
        new.started_by.as_str(),
        AuditAction::RolloutStart,
        &new.endpoint,
        json!({
            "rollout_id": id,
            "workspace": new.workspace,
            "old_deployment": new.old_deployment,
            "new_deployment": new.new_deployment,
            "deployment": new.recorded_deployment,
            "plan": new.plan,
            "known_good": new.known_good,
            "reason": new.reason,
        }),
    )
    .await?;
    announce(&mut tx, id).await?;
    tx.commit().await?;
    Ok(id)
}

struct Row {
    id: Uuid,
    workspace: String,
    endpoint: String,
    old_deployment: String,
    new_deployment: String,
    deployment: Value,
    plan: Value,
    known_good: Value,
    state: String,
    current_step: i32,
    started_by: String,
    reason: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    restore_operation_id: Option<Uuid>,
}

struct StepRow {
    index: i32,
    state: String,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    change_request_id: Option<Uuid>,
    operation_id: Option<Uuid>,
    applied_at: Option<DateTime<Utc>>,
    error: Option<String>,
}

/// The rollout `id` with its steps.
pub async fn load(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<RolloutRecord>> {
    let Some(row) = sqlx::query_as!(
        Row,
        "select id, workspace, endpoint, old_deployment, new_deployment, deployment, plan,
                known_good, state, current_step, started_by, reason, created_at, finished_at,
                restore_operation_id
           from rollouts where id = $1",
        id,
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let steps = sqlx::query_as!(
        StepRow,
        "select index, state, started_at, finished_at, change_request_id, operation_id,
                applied_at, error
           from rollout_steps where rollout_id = $1 order by index",
        id,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|s| {
        Ok(StepRecord {
            index: u32::try_from(s.index).map_err(decode)?,
            state: StepState::parse(&s.state).ok_or_else(|| decode("unknown step state"))?,
            started_at: s.started_at,
            finished_at: s.finished_at,
            change_request_id: s.change_request_id,
            operation_id: s.operation_id,
            applied_at: s.applied_at,
            error: s.error,
        })
    })
    .collect::<sqlx::Result<Vec<_>>>()?;
    Ok(Some(RolloutRecord {
        id: row.id,
        workspace: WorkspaceId::parse(&row.workspace).map_err(decode)?,
        endpoint: row.endpoint.parse().map_err(decode)?,
        old_deployment: row.old_deployment.parse().map_err(decode)?,
        new_deployment: row.new_deployment.parse().map_err(decode)?,
        deployment: parsed(row.deployment)?,
        plan: parsed(row.plan)?,
        known_good: parsed(row.known_good)?,
        state: RolloutState::parse(&row.state).ok_or_else(|| decode("unknown rollout state"))?,
        current_step: u32::try_from(row.current_step).map_err(decode)?,
        started_by: Username::parse(&row.started_by).map_err(decode)?,
        reason: row.reason,
        created_at: row.created_at,
        finished_at: row.finished_at,
        restore_operation_id: row.restore_operation_id,
        steps,
    }))
}

/// Everyone who approved one of the rollout's requests, once each, in order of first approval.
async fn approvers(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Vec<Username>> {
    let names = sqlx::query_scalar!(
        r#"select d.actor as "actor!" from change_request_decisions d
             join change_requests r on r.id = d.request_id
            where r.rollout_id = $1 and d.decision = 'approve'
            group by d.actor order by min(d.at)"#,
        id,
    )
    .fetch_all(&mut *conn)
    .await?;
    names
        .iter()
        .map(|n| Username::parse(n).map_err(decode))
        .collect()
}

async fn summary_of(conn: &mut PgConnection, r: &RolloutRecord) -> sqlx::Result<RolloutSummary> {
    Ok(RolloutSummary {
        id: r.id,
        workspace: r.workspace.clone(),
        endpoint: r.endpoint.clone(),
        old_deployment: r.old_deployment.clone(),
        new_deployment: r.new_deployment.clone(),
        state: r.state,
        current_step: (!r.state.is_terminal() && r.state != RolloutState::Pending)
            .then_some(r.current_step),
        started_by: r.started_by.clone(),
        approvers: approvers(conn, r.id).await?,
        created_at: r.created_at,
        finished_at: r.finished_at,
    })
}

/// The rollout as `GET /api/v1/rollouts/{id}` shows it.
pub async fn detail(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<RolloutDetail>> {
    let mut conn = pool.acquire().await?;
    let Some(r) = load(&mut conn, id).await? else {
        return Ok(None);
    };
    let summary = summary_of(&mut conn, &r).await?;
    let policy = super::change_requests::policy(&mut conn, &r.workspace, &r.endpoint)
        .await?
        .required_approvals;
    let mut steps = Vec::with_capacity(r.steps.len());
    let mut pending_request = None;
    for (step, plan_step) in r.steps.iter().zip(&r.plan.steps) {
        let request = match step.change_request_id {
            Some(request_id) => super::change_requests::find(&mut conn, request_id, false).await?,
            None => None,
        };
        if let Some(found) = &request {
            if found.summary.state.is_open() {
                pending_request = Some(found.summary.clone());
            }
        }
        let arm_operation_id = match step.operation_id {
            Some(op) => super::operations::get(pool, op)
                .await?
                .and_then(|o| o.arm_operation_id),
            None => None,
        };
        steps.push(RolloutStepView {
            index: step.index,
            step: plan_step.clone(),
            state: step.state,
            required_approvals: crate::rollouts::required_approvals(plan_step, policy),
            change_request_id: step.change_request_id,
            approvers: request
                .map(|r| r.approvals.into_iter().map(|a| a.by).collect())
                .unwrap_or_default(),
            arm_operation_id,
            started_at: step.started_at,
            finished_at: step.finished_at,
            error: step.error.clone(),
        });
    }
    let timeline = sqlx::query!(
        "select at, actor, transition, reason, change_request_id from rollout_timeline
          where rollout_id = $1 order by id",
        id,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|t| {
        Ok(TimelineEntry {
            at: t.at,
            actor: t
                .actor
                .map(|a| Username::parse(&a))
                .transpose()
                .ok()
                .flatten(),
            transition: parsed(t.transition)?,
            reason: t.reason,
            change_request_id: t.change_request_id,
        })
    })
    .collect::<sqlx::Result<Vec<_>>>()?;
    Ok(Some(RolloutDetail {
        summary,
        reason: r.reason,
        plan: r.plan,
        deployment: r.deployment,
        known_good: r.known_good,
        steps,
        timeline,
        pending_request,
    }))
}

/// An endpoint's rollouts, newest first (at most `limit`).
pub async fn list(
    pool: &PgPool,
    workspace: &WorkspaceId,
    endpoint: &EndpointName,
    limit: i64,
) -> sqlx::Result<RolloutList> {
    let mut conn = pool.acquire().await?;
    let ids = sqlx::query_scalar!(
        "select id from rollouts where workspace = $1 and lower(endpoint) = lower($2)
          order by created_at desc, id desc limit $3",
        workspace.as_str(),
        endpoint.as_str(),
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(r) = load(&mut conn, id).await? {
            items.push(summary_of(&mut conn, &r).await?);
        }
    }
    Ok(RolloutList { items, next: None })
}

/// Takes one due rollout for the app instance `me`: one nobody executes, one `me` already
/// executes, or one whose executor's heartbeat is older than `lease`. Skips rows another
/// claimer has locked, so replicas never take the same rollout at once.
pub async fn claim(pool: &PgPool, me: Uuid, lease: Duration) -> sqlx::Result<Option<Uuid>> {
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let mut tx = pool.begin().await?;
    let found = sqlx::query_scalar!(
        "select r.id from rollouts r
          where r.state in ('pending', 'running', 'waiting_for_approval', 'aborting', 'rolling_back')
            and r.due_at <= now()
            and (r.owner is null or r.owner = $1 or not exists (
                   select 1 from app_instances a where a.id = r.owner and a.heartbeat_at > $2))
          order by r.due_at
          limit 1
          for update of r skip locked",
        me,
        Utc::now() - lease,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = found {
        // Looked at again in a while unless the tick says sooner: a tick that dies midway is
        // retried, not lost.
        sqlx::query!(
            "update rollouts set owner = $2, due_at = now() + interval '5 seconds' where id = $1",
            id,
            me,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(found)
}

/// When the executor looks at rollout `id` again.
pub async fn due_in(pool: &PgPool, id: Uuid, delay: Duration) -> sqlx::Result<()> {
    let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
    sqlx::query!(
        "update rollouts set due_at = $2 where id = $1",
        id,
        Utc::now() + delay
    )
    .execute(pool)
    .await
    .map(drop)
}

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
        record(
            tx,
            actor.unwrap_or(crate::bootstrap::SYSTEM_ACTOR),
            action,
            &r.endpoint,
            json!({ "rollout_id": r.id, "from": from, "to": to, "reason": reason }),
        )
        .await?;
    }
    if to.is_terminal() {
        sqlx::query!(
            "update rollout_steps set state = 'skipped'
              where rollout_id = $1 and state in ('pending', 'running', 'waiting_for_approval')",
            r.id,
        )
        .execute(&mut *tx)
        .await?;
    }
    announce(tx, r.id).await?;
    Ok(true)
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
/// and ends. `Ok(false)` when the step was no longer in `from`.
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
                operation_id = coalesce($7, operation_id),
                applied_at = coalesce($8, applied_at),
                error = coalesce($9, error)
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

/// Stores facts of the current step without moving it (an operation started, a change that
/// took effect).
pub async fn note_step(
    tx: &mut PgConnection,
    r: &RolloutRecord,
    index: u32,
    operation_id: Option<Uuid>,
    applied_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update rollout_steps set operation_id = coalesce($3, operation_id),
                applied_at = coalesce($4, applied_at)
          where rollout_id = $1 and index = $2",
        r.id,
        db_index(index),
        operation_id,
        applied_at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Moves on to step `next`.
pub async fn advance(tx: &mut PgConnection, id: Uuid, next: u32) -> sqlx::Result<()> {
    sqlx::query!(
        "update rollouts set current_step = $2, due_at = now() where id = $1",
        id,
        db_index(next)
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Remembers the operation restoring the known-good split.
pub async fn note_restore(tx: &mut PgConnection, id: Uuid, operation_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "update rollouts set restore_operation_id = $2 where id = $1",
        id,
        operation_id
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
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

async fn record(
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
