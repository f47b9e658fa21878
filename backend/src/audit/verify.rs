//! Walking the chain to find the first row that does not match its hash.

use super::chain::{row_hash, RowContent, GENESIS};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde_json::Value;
use sqlx::PgPool;

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every row matches; `rows` were checked.
    Intact { rows: u64 },
    /// `id` is the first row whose content or link does not match.
    Broken { id: i64, reason: String },
}

struct StoredRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    target: String,
    details: Value,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

/// Recomputes every hash in id order, streaming so a long log needs little memory.
pub async fn verify(pool: &PgPool) -> sqlx::Result<Verdict> {
    let mut rows = sqlx::query_as!(
        StoredRow,
        "select id, at, actor, action, target, details, prev_hash, hash
         from audit_events order by id",
    )
    .fetch(pool);
    let mut expected_prev = GENESIS.to_vec();
    let mut checked = 0u64;
    while let Some(row) = rows.try_next().await? {
        if row.prev_hash != expected_prev {
            return Ok(Verdict::Broken {
                id: row.id,
                reason: "its prev_hash does not match the hash of the row before it".into(),
            });
        }
        let computed = row_hash(
            &row.prev_hash,
            &RowContent {
                id: row.id,
                at: row.at,
                actor: &row.actor,
                action: &row.action,
                target: &row.target,
                details: &row.details,
            },
        );
        if computed.as_slice() != row.hash.as_slice() {
            return Ok(Verdict::Broken {
                id: row.id,
                reason: "its content does not match its hash".into(),
            });
        }
        expected_prev = row.hash;
        checked += 1;
    }
    Ok(Verdict::Intact { rows: checked })
}
