//! Rollouts, their steps and their timeline. Every state change is guarded by the state it was
//! read in, appends to the timeline, records its audit event (for starts, ends, pauses,
//! resumes, aborts and rollbacks) and publishes the rollout on the live feed
//! (`event: rollout`), all in one transaction.

pub mod gates;
mod moves;
mod views;

use moves::record;
pub use moves::{announce, move_rollout, move_rollout_noting, move_step, StepChange};
pub use views::{detail, list};

use super::{ResultExt, StoreError};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::api::CreateDeploymentRequest;
use shared::audit::AuditAction;
use shared::rollout::{Plan, RolloutState, StepState, TrafficSplit, WorkspaceId};
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

/// Begins a transaction that changes rollout `id`, holding the rollout's row first. Every such
/// transaction takes the row before anything else — before the audit log's lock in particular —
/// so a person's move and the executor's tick queue behind each other instead of deadlocking
/// (each used to take the two locks in its own order: an abort during a step's end failed).
pub async fn begin(
    pool: &PgPool,
    id: Uuid,
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query_scalar!("select id from rollouts where id = $1 for update", id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(tx)
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

/// A rollout taken by one executor: `due_at` as the claim set it. A person's move (pause,
/// abort, rollback, …) sets `due_at` again while the tick runs; the token tells the tick's own
/// rescheduling not to overwrite that wake-up.
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    pub id: Uuid,
    token: DateTime<Utc>,
}

/// Takes one due rollout for the app instance `me`: one nobody executes, one `me` already
/// executes, or one whose executor's heartbeat is older than `lease`. Skips rows another
/// claimer has locked, so replicas never take the same rollout at once.
pub async fn claim(pool: &PgPool, me: Uuid, lease: Duration) -> sqlx::Result<Option<Claim>> {
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
    let Some(id) = found else {
        return Ok(None);
    };
    // Looked at again in a while unless the tick says sooner: a tick that dies midway is
    // retried, not lost.
    let token = sqlx::query_scalar!(
        "update rollouts set owner = $2, due_at = now() + interval '5 seconds' where id = $1
         returning due_at",
        id,
        me,
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(Claim { id, token }))
}

/// When the executor looks at the claimed rollout again — unless something moved it while the
/// tick ran (its `due_at` is no longer the claim's): then the sooner wake-up that move asked
/// for stands, and the next tick sees the move.
pub async fn due_in(pool: &PgPool, claim: Claim, delay: Duration) -> sqlx::Result<()> {
    let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
    sqlx::query!(
        "update rollouts set due_at = $2 where id = $1 and due_at = $3",
        claim.id,
        Utc::now() + delay,
        claim.token,
    )
    .execute(pool)
    .await
    .map(drop)
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
