//! Webhooks an admin sets up, and their delivery log. Each change records its audit event in
//! the same transaction; the audit details name the URL's origin only (a chat service's
//! webhook URL carries a secret in its path) and never the signing secret.

use super::StoreError;
use crate::audit::{self, AuditEvent};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::api::webhooks::{DeliveryPage, DeliveryState, DeliveryView, WebhookView};
use shared::audit::AuditAction;
use shared::webhooks::{url_origin, WebhookEvent, WebhookFormat};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A webhook's settings, checked. `secret` is `None` on an update that keeps it.
#[derive(Debug, Clone)]
pub struct WebhookFields {
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub format: WebhookFormat,
    pub enabled: bool,
}

struct Row {
    id: Uuid,
    url: String,
    events: Vec<String>,
    format: String,
    enabled: bool,
    secret_set_at: DateTime<Utc>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn view(row: Row) -> WebhookView {
    WebhookView {
        id: row.id,
        url: row.url,
        events: row
            .events
            .iter()
            .filter_map(|e| WebhookEvent::parse(e))
            .collect(),
        format: WebhookFormat::parse(&row.format).unwrap_or_default(),
        enabled: row.enabled,
        secret_set_at: row.secret_set_at,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn names(events: &[WebhookEvent]) -> Vec<String> {
    events.iter().map(|e| e.as_str().to_owned()).collect()
}

/// What the audit log keeps of a webhook's settings.
fn audited(settings: &WebhookFields) -> Value {
    json!({
        "url_origin": url_origin(&settings.url),
        "events": names(&settings.events),
        "format": settings.format.as_str(),
        "enabled": settings.enabled,
    })
}

fn settings_of(view: &WebhookView) -> WebhookFields {
    WebhookFields {
        url: view.url.clone(),
        events: view.events.clone(),
        format: view.format,
        enabled: view.enabled,
    }
}

async fn record(
    tx: &mut PgConnection,
    actor: &str,
    action: AuditAction,
    id: Uuid,
    details: Value,
) -> sqlx::Result<()> {
    audit::record(
        tx,
        &AuditEvent {
            actor: actor.to_owned(),
            action,
            target: format!("webhook/{id}"),
            details,
        },
    )
    .await?;
    Ok(())
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<WebhookView>> {
    let rows = sqlx::query_as!(
        Row,
        "select id, url, events, format, enabled, secret_set_at, created_by, created_at, updated_at
           from webhooks order by created_at, id"
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(view).collect())
}

async fn load(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<WebhookView>> {
    let row = sqlx::query_as!(
        Row,
        "select id, url, events, format, enabled, secret_set_at, created_by, created_at, updated_at
           from webhooks where id = $1 for update",
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(view))
}

/// Whether webhook `id` exists.
pub async fn exists(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from webhooks where id = $1) as "exists!""#,
        id
    )
    .fetch_one(pool)
    .await
}

pub async fn create(
    pool: &PgPool,
    actor: &str,
    settings: &WebhookFields,
    secret: &str,
) -> Result<WebhookView, StoreError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::new_v4();
    sqlx::query!(
        "insert into webhooks (id, url, events, format, secret, enabled, created_by)
         values ($1, $2, $3, $4, $5, $6, $7)",
        id,
        settings.url,
        &names(&settings.events),
        settings.format.as_str(),
        secret,
        settings.enabled,
        actor,
    )
    .execute(&mut *tx)
    .await?;
    let mut details = audited(settings);
    details["webhook_id"] = json!(id);
    record(&mut tx, actor, AuditAction::WebhookCreate, id, details).await?;
    let created = load(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
    tx.commit().await?;
    Ok(created)
}

/// Applies `change` (given the current settings, it returns the new ones) and, when given, a
/// new secret.
pub async fn update(
    pool: &PgPool,
    actor: &str,
    id: Uuid,
    change: impl FnOnce(WebhookFields) -> WebhookFields,
    secret: Option<&str>,
) -> Result<WebhookView, StoreError> {
    let mut tx = pool.begin().await?;
    let current = load(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
    let before = settings_of(&current);
    let after = change(before.clone());
    sqlx::query!(
        "update webhooks
            set url = $2, events = $3, format = $4, enabled = $5,
                secret = coalesce($6, secret),
                secret_set_at = case when $6::text is null then secret_set_at else now() end,
                updated_at = now()
          where id = $1",
        id,
        after.url,
        &names(&after.events),
        after.format.as_str(),
        after.enabled,
        secret,
    )
    .execute(&mut *tx)
    .await?;
    let details = json!({
        "webhook_id": id,
        "before": audited(&before),
        "after": audited(&after),
        "secret_changed": secret.is_some(),
    });
    record(&mut tx, actor, AuditAction::WebhookUpdate, id, details).await?;
    let updated = load(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
    tx.commit().await?;
    Ok(updated)
}

/// Deletes webhook `id` and its delivery log.
pub async fn delete(pool: &PgPool, actor: &str, id: Uuid) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let current = load(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
    sqlx::query!("delete from webhooks where id = $1", id)
        .execute(&mut *tx)
        .await?;
    let mut details = audited(&settings_of(&current));
    details["webhook_id"] = json!(id);
    record(&mut tx, actor, AuditAction::WebhookDelete, id, details).await?;
    tx.commit().await?;
    Ok(())
}

struct DeliveryRow {
    id: i64,
    webhook_id: Uuid,
    event: String,
    audit_event_id: Option<i64>,
    workspace: Option<String>,
    endpoint: Option<String>,
    state: String,
    attempts: i32,
    last_status: Option<i32>,
    last_error: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn delivery(row: DeliveryRow) -> DeliveryView {
    DeliveryView {
        id: row.id,
        webhook_id: row.webhook_id,
        event: row.event,
        audit_event_id: row.audit_event_id,
        workspace: row.workspace,
        endpoint: row.endpoint,
        state: DeliveryState::parse(&row.state).unwrap_or(DeliveryState::Pending),
        attempts: row.attempts,
        last_status: row.last_status,
        last_error: row.last_error,
        next_attempt_at: row.next_attempt_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// A page of webhook `id`'s deliveries, newest first, before the delivery `after` when given.
pub async fn deliveries(
    pool: &PgPool,
    id: Uuid,
    after: Option<i64>,
    limit: i64,
) -> sqlx::Result<DeliveryPage> {
    let mut rows = sqlx::query_as!(
        DeliveryRow,
        "select id, webhook_id, event, audit_event_id, workspace, endpoint, state, attempts,
                last_status, last_error, next_attempt_at, created_at, updated_at
           from webhook_deliveries
          where webhook_id = $1 and ($2::bigint is null or id < $2)
          order by id desc
          limit $3",
        id,
        after,
        limit + 1,
    )
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = more
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(DeliveryPage {
        items: rows.into_iter().map(delivery).collect(),
        next,
    })
}

/// Enqueues a test delivery (`ping`) of webhook `id`, due now.
pub async fn enqueue_ping(pool: &PgPool, id: Uuid, payload: &Value) -> sqlx::Result<DeliveryView> {
    let row = sqlx::query_as!(
        DeliveryRow,
        "insert into webhook_deliveries (webhook_id, event, payload, next_attempt_at)
         values ($1, $2, $3, now())
         returning id, webhook_id, event, audit_event_id, workspace, endpoint, state, attempts,
                   last_status, last_error, next_attempt_at, created_at, updated_at",
        id,
        shared::webhooks::PING_EVENT,
        payload,
    )
    .fetch_one(pool)
    .await?;
    Ok(delivery(row))
}
