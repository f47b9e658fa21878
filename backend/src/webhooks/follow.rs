//! Following the audit log: every audited action that is a webhook event becomes one delivery
//! per enabled webhook subscribed to it. The deliveries and the cursor's move are one
//! transaction, so a crash loses nothing and repeats nothing; the cursor row is taken with
//! `FOR UPDATE SKIP LOCKED`, so while one replica reads, the others skip this step.
//!
//! Reading "every id after the cursor" is exact because audit writers hold the chain's lock
//! until they commit (`audit::record`): ids become visible in order, never with a gap that a
//! slower transaction fills later.

use super::body::{document, Occurrence};
use serde_json::Value;
use shared::audit::AuditAction;
use shared::webhooks::WebhookEvent;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The most audit events one step reads.
const BATCH: i64 = 500;

struct Subscriber {
    id: Uuid,
    events: Vec<String>,
}

/// Reads the audit events after the cursor, enqueues their deliveries and moves the cursor.
/// Returns how many audit events it read (0 when there were none, or another replica is
/// reading).
pub async fn step(pool: &PgPool, link_base: Option<&str>) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let Some(last) =
        sqlx::query_scalar!("select last_audit_id from webhook_cursor for update skip locked")
            .fetch_optional(&mut *tx)
            .await?
    else {
        return Ok(0);
    };
    let rows = sqlx::query!(
        "select id, at, actor, action, target, details from audit_events
          where id > $1 order by id limit $2",
        last,
        BATCH,
    )
    .fetch_all(&mut *tx)
    .await?;
    let Some(newest) = rows.last().map(|row| row.id) else {
        return Ok(0);
    };
    let subscribers = sqlx::query_as!(Subscriber, "select id, events from webhooks where enabled")
        .fetch_all(&mut *tx)
        .await?;
    for row in &rows {
        let Some(event) =
            AuditAction::parse(&row.action).and_then(|a| WebhookEvent::of_audit(a, &row.details))
        else {
            continue;
        };
        let targets: Vec<Uuid> = subscribers
            .iter()
            .filter(|s| s.events.iter().any(|e| e == event.as_str()))
            .map(|s| s.id)
            .collect();
        if targets.is_empty() {
            continue;
        }
        // Change-request and rollout events name their endpoint as the target.
        let endpoint = row.target.split('/').next().filter(|e| !e.is_empty());
        let workspace = workspace_of(&mut tx, &row.details).await?;
        let occurrence = Occurrence {
            event,
            audit_event_id: row.id,
            at: row.at,
            actor: &row.actor,
            workspace: workspace.as_deref(),
            endpoint,
            details: &row.details,
        };
        let payload = document(&occurrence, link_base);
        sqlx::query!(
            "insert into webhook_deliveries
                    (webhook_id, event, audit_event_id, workspace, endpoint, payload, next_attempt_at)
             select hook, $2, $3, $4, $5, $6, now() from unnest($1::uuid[]) as hook
             on conflict (webhook_id, audit_event_id) do nothing",
            &targets,
            event.as_str(),
            row.id,
            workspace,
            endpoint,
            payload,
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!("update webhook_cursor set last_audit_id = $1", newest)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows.len())
}

fn uuid_in(details: &Value, key: &str) -> Option<Uuid> {
    details
        .get(key)
        .and_then(Value::as_str)
        .and_then(|text| Uuid::parse_str(text).ok())
}

/// The workspace an event is about: its details' own `workspace`, else its rollout's or its
/// change request's.
async fn workspace_of(tx: &mut PgConnection, details: &Value) -> sqlx::Result<Option<String>> {
    if let Some(workspace) = details.get("workspace").and_then(Value::as_str) {
        return Ok(Some(workspace.to_owned()));
    }
    let rollout = uuid_in(details, "rollout_id");
    let request = uuid_in(details, "change_request_id");
    if rollout.is_none() && request.is_none() {
        return Ok(None);
    }
    sqlx::query_scalar!(
        "select coalesce((select workspace from rollouts where id = $1),
                         (select workspace from change_requests where id = $2))",
        rollout,
        request,
    )
    .fetch_one(&mut *tx)
    .await
}
