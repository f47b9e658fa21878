//! Freeze windows. Creating or deleting one takes the workspace's freeze lock exclusively and
//! applying a change request takes it shared ([`lock_shared`]), so an apply never races a
//! window being set: either the window was committed before the apply looked, or the apply
//! committed before the window existed.

use super::StoreError;
use crate::audit::{self, AuditEvent};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::api::freeze::FreezeWindow;
use shared::audit::AuditAction;
use shared::freeze::{CheckedFreezeWindow, Schedule};
use shared::rollout::WorkspaceId;
use shared::{EndpointName, Username};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A window as stored, before its state at a given instant is worked out.
#[derive(Debug, Clone)]
pub struct StoredWindow {
    pub id: Uuid,
    pub workspace: WorkspaceId,
    pub endpoint: Option<EndpointName>,
    pub reason: String,
    pub schedule: Schedule,
    pub created_by: Username,
    pub created_at: DateTime<Utc>,
}

struct Row {
    id: Uuid,
    workspace: String,
    endpoint: Option<String>,
    reason: String,
    schedule: Value,
    created_by: String,
    created_at: DateTime<Utc>,
}

fn decode(message: impl Into<String>) -> sqlx::Error {
    sqlx::Error::Decode(message.into().into())
}

impl TryFrom<Row> for StoredWindow {
    type Error = sqlx::Error;
    fn try_from(row: Row) -> sqlx::Result<Self> {
        Ok(StoredWindow {
            id: row.id,
            workspace: WorkspaceId::parse(&row.workspace).map_err(|e| decode(e.to_string()))?,
            endpoint: row
                .endpoint
                .map(|e| e.parse::<EndpointName>())
                .transpose()
                .map_err(|e| decode(e.to_string()))?,
            reason: row.reason,
            schedule: serde_json::from_value(row.schedule).map_err(|e| decode(e.to_string()))?,
            created_by: Username::parse(&row.created_by).map_err(|e| decode(e.to_string()))?,
            created_at: row.created_at,
        })
    }
}

impl StoredWindow {
    /// The window as the API shows it: its stretch in force at `now`, and its next one.
    /// A zone the database lost shows neither (enforcement refuses on it).
    pub fn view(self, now: DateTime<Utc>) -> FreezeWindow {
        FreezeWindow {
            active: self.schedule.covering(now).ok().flatten(),
            next: self.schedule.next_after(now).ok().flatten(),
            id: self.id,
            workspace: self.workspace,
            endpoint: self.endpoint,
            reason: self.reason,
            schedule: self.schedule,
            created_by: self.created_by,
            created_at: self.created_at,
        }
    }
}

/// The key of `workspace`'s freeze lock (the advisory lock's namespace is shared with the
/// audit chain's constant key, which no text hashes to in practice; the prefix keeps them apart).
fn lock_key(workspace: &WorkspaceId) -> String {
    format!("greenlight.freeze:{}", workspace.as_str())
}

/// Takes `workspace`'s freeze lock shared, until the transaction ends: windows can't change
/// while the caller decides whether one covers an endpoint.
pub async fn lock_shared(tx: &mut PgConnection, workspace: &WorkspaceId) -> sqlx::Result<()> {
    sqlx::query!(
        "select pg_advisory_xact_lock_shared(hashtextextended($1, 0))",
        lock_key(workspace)
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn lock_exclusive(tx: &mut PgConnection, workspace: &WorkspaceId) -> sqlx::Result<()> {
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended($1, 0))",
        lock_key(workspace)
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Every window, newest first.
pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<StoredWindow>> {
    sqlx::query_as!(
        Row,
        "select id, workspace, endpoint, reason, schedule, created_by, created_at
           from freeze_windows order by created_at desc, id desc"
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(StoredWindow::try_from)
    .collect()
}

/// The windows that can cover `endpoint` of `workspace`: its own and the workspace-wide ones.
pub async fn covering_endpoint(
    tx: &mut PgConnection,
    workspace: &WorkspaceId,
    endpoint: &EndpointName,
) -> sqlx::Result<Vec<StoredWindow>> {
    sqlx::query_as!(
        Row,
        "select id, workspace, endpoint, reason, schedule, created_by, created_at
           from freeze_windows
          where workspace = $1 and (endpoint is null or lower(endpoint) = lower($2))
          order by created_at, id",
        workspace.as_str(),
        endpoint.as_str()
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(StoredWindow::try_from)
    .collect()
}

/// Stores `window`, audited as `freeze_window.create` by `actor`.
pub async fn create(
    pool: &PgPool,
    actor: &Username,
    window: &CheckedFreezeWindow,
) -> Result<StoredWindow, StoreError> {
    let mut tx = pool.begin().await?;
    lock_exclusive(&mut tx, &window.workspace).await?;
    let id = Uuid::new_v4();
    let schedule = json!(window.schedule);
    let row = sqlx::query_as!(
        Row,
        "insert into freeze_windows (id, workspace, endpoint, reason, schedule, created_by)
         values ($1, $2, $3, $4, $5, $6)
         returning id, workspace, endpoint, reason, schedule, created_by, created_at",
        id,
        window.workspace.as_str(),
        window.endpoint.as_ref().map(EndpointName::as_str),
        window.reason,
        schedule,
        actor.as_str(),
    )
    .fetch_one(&mut *tx)
    .await?;
    let stored = StoredWindow::try_from(row)?;
    record(&mut tx, actor, AuditAction::FreezeWindowCreate, &stored).await?;
    tx.commit().await?;
    Ok(stored)
}

/// Removes window `id`, audited as `freeze_window.delete` with what it was.
pub async fn delete(pool: &PgPool, actor: &Username, id: Uuid) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let workspace = sqlx::query_scalar!("select workspace from freeze_windows where id = $1", id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let workspace = WorkspaceId::parse(&workspace).map_err(|e| decode(e.to_string()))?;
    lock_exclusive(&mut tx, &workspace).await?;
    let row = sqlx::query_as!(
        Row,
        "delete from freeze_windows where id = $1
         returning id, workspace, endpoint, reason, schedule, created_by, created_at",
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    let gone = StoredWindow::try_from(row)?;
    record(&mut tx, actor, AuditAction::FreezeWindowDelete, &gone).await?;
    tx.commit().await?;
    Ok(())
}

/// Audits `action` on `window`: its target is the window's endpoint, else its workspace; the
/// details are the whole window, so a deleted one stays readable in the log.
async fn record(
    tx: &mut PgConnection,
    actor: &Username,
    action: AuditAction,
    window: &StoredWindow,
) -> sqlx::Result<()> {
    let target = window.endpoint.as_ref().map_or_else(
        || window.workspace.as_str().to_owned(),
        |e| e.as_str().to_owned(),
    );
    let details = json!({
        "freeze_window_id": window.id,
        "workspace": window.workspace,
        "endpoint": window.endpoint,
        "reason": window.reason,
        "schedule": window.schedule,
    });
    audit::record(
        tx,
        &AuditEvent {
            actor: actor.as_str().to_owned(),
            action,
            target,
            details,
        },
    )
    .await?;
    Ok(())
}
