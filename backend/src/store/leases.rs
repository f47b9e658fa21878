//! App instances and their leases on running operations, after River's rescuer: each process
//! registers an instance and renews its heartbeat; a running operation whose owner's lease has
//! expired belonged to a process that died, and a live one takes it up. Every claim is a guarded
//! update (`status = 'running'` and the old owner's lease expired, rows locked `skip locked`), so
//! two live processes never take up the same operation and a late one can't overwrite a newer
//! state.

use serde_json::Value;
use shared::api::OperationKind;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// A process that has not renewed its heartbeat for this long is gone; its running operations
/// and rollouts are taken up by another.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(20);

/// The lease: [`DEFAULT_LEASE`], or `GREENLIGHT_LEASE_SECS` (at least 2) where a team wants a
/// dead replica's work taken over sooner (and the crash tests, which restart many times).
/// Read once: every process of one installation must use the same value.
pub fn lease() -> Duration {
    static LEASE: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *LEASE.get_or_init(|| {
        std::env::var("GREENLIGHT_LEASE_SECS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs.max(2)))
            .unwrap_or(DEFAULT_LEASE)
    })
}

/// Registers a new app instance and returns its id.
pub async fn register(pool: &PgPool) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query!("insert into app_instances (id) values ($1)", id)
        .execute(pool)
        .await?;
    // Instances dead for a day are only history.
    sqlx::query!(
        "delete from app_instances where heartbeat_at < now() - interval '1 day'
            and not exists (select 1 from operations o
                             where o.owner = app_instances.id and o.status = 'running')"
    )
    .execute(pool)
    .await?;
    Ok(id)
}

/// Renews `instance`'s lease (re-registering it if it was released).
pub async fn heartbeat(pool: &PgPool, instance: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into app_instances (id) values ($1)
         on conflict (id) do update set heartbeat_at = now()",
        instance,
    )
    .execute(pool)
    .await
    .map(drop)
}

/// Gives up `instance`'s lease at once, so another process takes up what it leaves running.
pub async fn release(pool: &PgPool, instance: Uuid) -> sqlx::Result<()> {
    sqlx::query!("delete from app_instances where id = $1", instance)
        .execute(pool)
        .await
        .map(drop)
}

/// A running operation taken up from a process that is gone, with what is needed to finish it.
#[derive(Debug, Clone)]
pub struct Orphan {
    pub id: Uuid,
    pub kind: OperationKind,
    pub endpoint: String,
    pub deployment: Option<String>,
    pub requested_by: String,
    pub arm_operation_id: Option<String>,
    /// Where to poll the workspace's operation, and whether it is a status document (`status`)
    /// or the result (`result`).
    pub poll: Option<(String, String)>,
    pub before: Value,
    pub request: Value,
}

/// Makes `instance` the owner of every running operation whose owner's lease has expired (or
/// that has no owner), and returns them.
pub async fn claim_orphans(pool: &PgPool, instance: Uuid) -> sqlx::Result<Vec<Orphan>> {
    let rows = sqlx::query!(
        "with orphans as (
             select o.id from operations o
              where o.status = 'running'
                and (o.owner is null or not exists (
                        select 1 from app_instances i
                         where i.id = o.owner
                           and i.heartbeat_at > now() - make_interval(secs => $2)))
              for update skip locked)
         update operations o
            set owner = $1, updated_at = now()
           from orphans
          where o.id = orphans.id and o.status = 'running'
         returning o.id, o.kind, o.endpoint, o.deployment, o.requested_by, o.arm_operation_id,
                   o.arm_poll_url, o.arm_poll_kind, o.audit_before, o.audit_request",
        instance,
        lease().as_secs_f64(),
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(Orphan {
                id: row.id,
                kind: OperationKind::parse(&row.kind).ok_or_else(|| {
                    sqlx::Error::Decode(format!("operation kind {}", row.kind).into())
                })?,
                endpoint: row.endpoint,
                deployment: row.deployment,
                requested_by: row.requested_by,
                arm_operation_id: row.arm_operation_id,
                poll: row.arm_poll_url.zip(row.arm_poll_kind),
                before: row.audit_before,
                request: row.audit_request,
            })
        })
        .collect()
}
