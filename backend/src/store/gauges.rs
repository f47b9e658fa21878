//! What `/metrics` reads from the database at scrape time: rollouts by state, pending change
//! requests, and how late the rollout executor is.

use sqlx::PgPool;

/// How many rollouts are in each state (states with none are left out).
pub async fn rollouts_by_state(pool: &PgPool) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query!(
        r#"select state, count(*) as "count!" from rollouts group by state order by state"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.state, r.count)).collect())
}

/// Change requests waiting for approval and not yet past their expiry.
pub async fn pending_change_requests(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from change_requests
            where state = 'pending' and expires_at > now()"#
    )
    .fetch_one(pool)
    .await
}

/// Seconds the most overdue active rollout has waited past its `due_at` for an executor to
/// take it up; 0 when none is due.
pub async fn executor_lag_seconds(pool: &PgPool) -> sqlx::Result<f64> {
    sqlx::query_scalar!(
        r#"select coalesce(extract(epoch from now() - min(due_at))::float8, 0) as "lag!"
             from rollouts
            where state in ('pending', 'running', 'waiting_for_approval', 'aborting', 'rolling_back')
              and due_at <= now()"#
    )
    .fetch_one(pool)
    .await
}
