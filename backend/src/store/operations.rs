//! Long-running operations and the events that announce their progress.
//!
//! Every change to an operation row also appends an `events` row and sends `NOTIFY`, in the same
//! transaction, so a browser following `/api/v1/events` sees each step once and in order.

use super::{ResultExt, StoreError};
use crate::audit::{self, AuditEvent};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::api::{Operation, OperationKind, OperationStatus, ProgressEntry};
use shared::WorkspaceErrorDetails;
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

/// The channel `NOTIFY` announces new events on; the payload is the event id.
pub const EVENTS_CHANNEL: &str = "greenlight_events";

/// What a new operation is about, and what its audit event records besides the outcome.
#[derive(Debug, Clone)]
pub struct NewOperation {
    pub kind: OperationKind,
    pub endpoint: String,
    pub deployment: Option<String>,
    pub requested_by: String,
    /// The state before the change, as the requester saw it.
    pub before: Value,
    /// What was asked for.
    pub request: Value,
}

struct OperationRow {
    id: Uuid,
    kind: String,
    endpoint: String,
    deployment: Option<String>,
    status: String,
    requested_by: String,
    progress: Value,
    error: Option<Value>,
    arm_operation_id: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<OperationRow> for Operation {
    type Error = sqlx::Error;

    fn try_from(row: OperationRow) -> Result<Self, Self::Error> {
        let decode = |what: String| sqlx::Error::Decode(what.into());
        Ok(Operation {
            id: row.id,
            kind: OperationKind::parse(&row.kind)
                .ok_or_else(|| decode(format!("operation kind {}", row.kind)))?,
            endpoint: row.endpoint,
            deployment: row.deployment,
            status: OperationStatus::parse(&row.status)
                .ok_or_else(|| decode(format!("operation status {}", row.status)))?,
            requested_by: row.requested_by,
            progress: serde_json::from_value::<Vec<ProgressEntry>>(row.progress)
                .map_err(|e| decode(e.to_string()))?,
            error: row
                .error
                .map(serde_json::from_value::<WorkspaceErrorDetails>)
                .transpose()
                .map_err(|e| decode(e.to_string()))?,
            arm_operation_id: row.arm_operation_id,
            created_at: row.created_at,
            finished_at: row.finished_at,
        })
    }
}

/// Serializes writers of `events` until their transaction ends, so ids become visible in
/// order and a reader that has seen id N has seen everything before it.
const EVENTS_LOCK_KEY: i64 = 0x4556_454e_5453_0001; // "EVENTS"

/// Appends an event about `operation` and wakes every listener.
async fn announce(conn: &mut PgConnection, operation: &Operation) -> sqlx::Result<()> {
    publish(conn, "operation", operation).await
}

/// Appends an event of `topic` (the SSE event name) to the feed and wakes every listener.
pub async fn publish(
    conn: &mut PgConnection,
    topic: &str,
    payload: &impl serde::Serialize,
) -> sqlx::Result<()> {
    sqlx::query!("select pg_advisory_xact_lock($1)", EVENTS_LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let payload = serde_json::to_value(payload).map_err(|e| sqlx::Error::Decode(e.into()))?;
    let id = sqlx::query_scalar!(
        "insert into events (topic, payload) values ($1, $2) returning id",
        topic,
        payload,
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!("select pg_notify($1, $2)", EVENTS_CHANNEL, id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The operation `id`, if there is one.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Operation>> {
    sqlx::query_as!(
        OperationRow,
        "select id, kind, endpoint, deployment, status, requested_by, progress, error,
                arm_operation_id, created_at, finished_at
           from operations where id = $1",
        id,
    )
    .fetch_optional(db)
    .await?
    .map(Operation::try_from)
    .transpose()
}

/// The operation `id`, which this transaction has just written.
async fn fetch_in(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Operation> {
    get(conn, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Starts an operation run by the app instance `owner`, storing what a successor needs to
/// finish it should `owner` die. A second running traffic change on one endpoint is a
/// `Conflict`.
pub async fn start(
    pool: &PgPool,
    new: &NewOperation,
    owner: Uuid,
) -> Result<Operation, StoreError> {
    let mut tx = pool.begin().await?;
    let operation = start_in(&mut tx, new, owner).await?;
    tx.commit().await?;
    Ok(operation)
}

/// [`start`] inside the caller's transaction, so the operation exists exactly when the state
/// change that asked for it (an approved change request) commits.
pub async fn start_in(
    tx: &mut PgConnection,
    new: &NewOperation,
    owner: Uuid,
) -> Result<Operation, StoreError> {
    let id = Uuid::new_v4();
    sqlx::query!(
        "insert into operations (id, kind, endpoint, deployment, status, requested_by, owner,
                                 audit_before, audit_request)
         values ($1, $2, $3, $4, 'running', $5, $6, $7, $8)",
        id,
        new.kind.as_str(),
        new.endpoint,
        new.deployment,
        new.requested_by,
        owner,
        new.before,
        new.request,
    )
    .execute(&mut *tx)
    .await
    .on_constraint("operations_one_traffic_change_per_endpoint", |_| {
        StoreError::conflict(
            "traffic",
            format!(
                "another traffic change to {} is being applied; wait for it, then decide again",
                new.endpoint
            ),
        )
    })?;
    let operation = fetch_in(&mut *tx, id).await?;
    announce(&mut *tx, &operation).await?;
    Ok(operation)
}

/// Records a step (and the workspace's operation id, once known), and keeps the row fresh —
/// while `owner` still runs it.
pub async fn report(
    pool: &PgPool,
    id: Uuid,
    owner: Uuid,
    message: Option<&str>,
    arm_operation_id: Option<&str>,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    let entry = message.map(|m| json!([{ "at": Utc::now(), "message": m }]));
    sqlx::query!(
        "update operations
            set progress = progress || coalesce($2, '[]'::jsonb),
                arm_operation_id = coalesce($3, arm_operation_id),
                updated_at = now()
          where id = $1 and status = 'running' and owner = $4",
        id,
        entry,
        arm_operation_id,
        owner,
    )
    .execute(&mut *tx)
    .await?;
    if message.is_some() || arm_operation_id.is_some() {
        let operation = fetch_in(&mut tx, id).await?;
        announce(&mut tx, &operation).await?;
    }
    tx.commit().await
}

/// Stores where the workspace's long-running operation is polled (`kind`: `status` for an
/// `Azure-AsyncOperation` URL, `result` for a `Location` one), so a successor can follow it.
pub async fn following(
    pool: &PgPool,
    id: Uuid,
    owner: Uuid,
    url: &str,
    kind: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update operations set arm_poll_url = $3, arm_poll_kind = $4, updated_at = now()
          where id = $1 and status = 'running' and owner = $2",
        id,
        owner,
        url,
        kind,
    )
    .execute(pool)
    .await
    .map(drop)
}

/// Ends an operation that `owner` runs and records its audit event in the same transaction.
/// `None` when the row is no longer `owner`'s running operation (another process took it up
/// after `owner`'s lease lapsed, and records the end itself): nothing is written then.
pub async fn finish(
    pool: &PgPool,
    id: Uuid,
    owner: Uuid,
    outcome: Result<(), WorkspaceErrorDetails>,
    audit_event: AuditEvent,
) -> sqlx::Result<Option<Operation>> {
    let mut tx = pool.begin().await?;
    let (status, error) = match &outcome {
        Ok(()) => (OperationStatus::Succeeded, None),
        Err(details) => (
            OperationStatus::Failed,
            Some(serde_json::to_value(details).map_err(|e| sqlx::Error::Decode(e.into()))?),
        ),
    };
    let ended = sqlx::query!(
        "update operations
            set status = $2, error = $3, finished_at = now(), updated_at = now()
          where id = $1 and status = 'running' and owner = $4",
        id,
        status.as_str(),
        error,
        owner,
    )
    .execute(&mut *tx)
    .await?;
    if ended.rows_affected() == 0 {
        return Ok(None);
    }
    let operation = fetch_in(&mut tx, id).await?;
    let mut event = audit_event;
    if let Value::Object(details) = &mut event.details {
        details.insert("operation_id".into(), json!(id));
        details.insert("arm_operation_id".into(), json!(operation.arm_operation_id));
        details.insert("outcome".into(), json!(status.as_str()));
        if let Some(error) = &operation.error {
            details.insert("error".into(), json!(error));
        }
    }
    audit::record(&mut tx, &event).await?;
    announce(&mut tx, &operation).await?;
    // An operation that applied a change request settles it in the same transaction.
    super::change_requests::settle(&mut tx, id, status).await?;
    tx.commit().await?;
    Ok(Some(operation))
}

/// The latest operations, optionally of one endpoint, newest first.
pub async fn recent(
    pool: &PgPool,
    endpoint: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<Operation>> {
    sqlx::query_as!(
        OperationRow,
        "select id, kind, endpoint, deployment, status, requested_by, progress, error,
                arm_operation_id, created_at, finished_at
           from operations
          where $1::text is null or lower(endpoint) = lower($1)
          order by created_at desc limit $2",
        endpoint,
        limit,
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Operation::try_from)
    .collect()
}
