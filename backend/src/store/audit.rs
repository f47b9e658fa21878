//! Reading the audit log (writing it is `crate::audit::record`, inside each change's transaction).

use shared::api::{AuditEventView, AuditPage};
use sqlx::PgPool;

/// Up to `limit` events older than the event `before` (from the newest when `None`), newest
/// first. Paged by keyset, never by offset: the log grows without bound. `next` is set when the
/// page is full, so a caller reads on until a page comes back short.
pub async fn page(pool: &PgPool, before: Option<i64>, limit: i64) -> sqlx::Result<AuditPage> {
    let items = sqlx::query_as!(
        AuditEventView,
        "select id, at, actor, action, target, details from audit_events
          where $1::bigint is null or id < $1
          order by id desc limit $2",
        before,
        limit,
    )
    .fetch_all(pool)
    .await?;
    let next = if items.len() as i64 == limit {
        items.last().map(|event| event.id.to_string())
    } else {
        None
    };
    Ok(AuditPage { items, next })
}
