//! Reading the audit log (writing it is `crate::audit::record`, inside each change's transaction).
//!
//! The filters are optional and combine, so the statement is assembled from only the
//! conditions asked for (`QueryBuilder`, every value bound): one fixed statement with
//! `$1 is null or …` for each filter would get one generic plan that uses no index.

use chrono::{DateTime, Utc};
use futures_util::{Stream, TryStreamExt};
use serde_json::Value;
use shared::api::{AuditEventView, AuditPage};
use shared::audit_filter::AuditFilter;
use sqlx::{PgPool, Postgres, QueryBuilder};

type Row = (i64, DateTime<Utc>, String, String, String, Value);

const COLUMNS: &str = "select id, at, actor, action, target, details from audit_events";

/// Up to `limit` events matching `filter` older than the event `before` (from the newest when
/// `None`), newest first. Paged by keyset, never by offset: the log grows without bound. `next`
/// is set when the page is full, so a caller reads on until a page comes back short.
pub async fn page(
    pool: &PgPool,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<AuditPage> {
    let mut query = QueryBuilder::new(COLUMNS);
    push_filter(&mut query, filter);
    if let Some(before) = before {
        query.push(" and id < ").push_bind(before);
    }
    query.push(" order by id desc limit ").push_bind(limit);
    let items: Vec<AuditEventView> = query
        .build_query_as::<Row>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(view)
        .collect();
    let next = if items.len() as i64 == limit {
        items.last().map(|event| event.id.to_string())
    } else {
        None
    };
    Ok(AuditPage { items, next })
}

/// Every event matching `filter`, oldest first (the chain's order), streamed from Postgres a
/// row at a time so an export of millions of events holds only the rows in flight.
pub fn export<'a>(
    pool: &'a PgPool,
    query: &'a mut QueryBuilder<'static, Postgres>,
) -> impl Stream<Item = sqlx::Result<AuditEventView>> + 'a {
    query.build_query_as::<Row>().fetch(pool).map_ok(view)
}

/// The statement [`export`] runs for `filter`; the caller keeps it while the stream runs.
pub fn export_query(filter: &AuditFilter) -> QueryBuilder<'static, Postgres> {
    let mut query = QueryBuilder::new(COLUMNS);
    push_filter(&mut query, filter);
    query.push(" order by id");
    query
}

/// Appends ` where …` with one condition per filter that is set.
fn push_filter(query: &mut QueryBuilder<'static, Postgres>, filter: &AuditFilter) {
    query.push(" where true");
    if let Some(actor) = &filter.actor {
        query.push(" and actor = ").push_bind(actor.clone());
    }
    if let Some(action) = filter.action {
        query.push(" and action = ").push_bind(action.as_str());
    }
    if let Some(endpoint) = &filter.endpoint {
        // Accounts are targets too; an endpoint named like a user is still not that user.
        query
            .push(" and split_part(target, '/', 1) = ")
            .push_bind(endpoint.to_string())
            .push(" and action not like 'session.%' and action not like 'user.%'");
    }
    if let Some(rollout) = filter.rollout {
        query
            .push(" and details ->> 'rollout_id' = ")
            .push_bind(rollout.to_string());
    }
    if let Some(request) = filter.change_request {
        query
            .push(" and details ->> 'change_request_id' = ")
            .push_bind(request.to_string());
    }
    if let Some(from) = filter.from {
        query.push(" and at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        query.push(" and at < ").push_bind(to);
    }
    if let Some(text) = &filter.text {
        // The same expression as the trigram index `audit_events_text`, so it can be used.
        query
            .push(
                " and (action || ' ' || actor || ' ' || target || ' ' || details::text) \
                 ilike ",
            )
            .push_bind(format!("%{}%", escape_like(text)));
    }
}

/// `text` as a literal inside a `like` pattern: `%`, `_` and the escape `\` match themselves.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn view((id, at, actor, action, target, details): Row) -> AuditEventView {
    AuditEventView {
        id,
        at,
        actor,
        action,
        target,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_a_search_match_only_themselves() {
        assert_eq!(escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }
}
