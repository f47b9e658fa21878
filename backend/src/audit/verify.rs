//! Walking the chain to find the first row that does not match its hash, and checking that it
//! still reaches the head a signed checkpoint recorded.

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
    /// `id` is the first row whose content or link does not match, or the checkpoint's row when
    /// the chain no longer reaches the head the checkpoint recorded.
    Broken { id: i64, reason: String },
}

/// The newest row of the chain and how many rows lead up to it, as a checkpoint records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub last_id: i64,
    pub last_hash: Vec<u8>,
    pub count: u64,
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
    verify_anchored(pool, None).await
}

/// [`verify`], and when `anchor` is given (the head a signed checkpoint recorded) also that the
/// chain still holds that row with that hash after that many rows: a cut tail or a chain
/// recomputed from a changed row is reported at the checkpoint's row.
pub async fn verify_anchored(pool: &PgPool, anchor: Option<&Head>) -> sqlx::Result<Verdict> {
    Ok(match walk(pool, None, anchor).await? {
        Ok(head) => Verdict::Intact {
            rows: head.map_or(0, |head| head.count),
        },
        Err((id, reason)) => Verdict::Broken { id, reason },
    })
}

/// Walks the chain from its first row, or from `resume`'s row (trusted as checked before), and
/// returns its head, or the id of the first row that breaks it and why.
pub(super) async fn walk(
    pool: &PgPool,
    resume: Option<&Head>,
    anchor: Option<&Head>,
) -> sqlx::Result<Result<Option<Head>, (i64, String)>> {
    let from = resume.map_or(i64::MIN, |head| head.last_id);
    let mut rows = sqlx::query_as!(
        StoredRow,
        "select id, at, actor, action, target, details, prev_hash, hash
         from audit_events where id >= $1 order by id",
        from,
    )
    .fetch(pool);
    let mut expected_prev = GENESIS.to_vec();
    let mut checked = 0u64;
    let mut first = true;
    let mut anchor_seen = false;
    let mut head = None;
    while let Some(row) = rows.try_next().await? {
        if let (true, Some(resume)) = (first, resume) {
            // The resumed-from row was checked with everything before it last time.
            expected_prev.clone_from(&row.prev_hash);
            checked = resume.count.saturating_sub(1);
        }
        first = false;
        if let Some(anchor) = anchor {
            if !anchor_seen && row.id > anchor.last_id {
                return Ok(Err((anchor.last_id, missing_anchor(anchor, checked))));
            }
        }
        if row.prev_hash != expected_prev {
            return Ok(Err((
                row.id,
                "its prev_hash does not match the hash of the row before it".into(),
            )));
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
            return Ok(Err((row.id, "its content does not match its hash".into())));
        }
        checked += 1;
        if let Some(anchor) = anchor.filter(|anchor| anchor.last_id == row.id) {
            anchor_seen = true;
            if row.hash != anchor.last_hash {
                return Ok(Err((
                    row.id,
                    "its hash is not the one the signed checkpoint recorded: the chain was \
                     recomputed"
                        .into(),
                )));
            }
            if checked != anchor.count {
                return Ok(Err((
                    row.id,
                    format!(
                        "{checked} events lead up to it but the signed checkpoint counted {}: \
                         events before it were removed",
                        anchor.count
                    ),
                )));
            }
        }
        expected_prev.clone_from(&row.hash);
        head = Some((row.id, row.hash));
    }
    if let Some(anchor) = anchor.filter(|_| !anchor_seen) {
        return Ok(Err((anchor.last_id, missing_anchor(anchor, checked))));
    }
    Ok(Ok(head.map(|(last_id, last_hash)| Head {
        last_id,
        last_hash,
        count: checked,
    })))
}

fn missing_anchor(anchor: &Head, checked: u64) -> String {
    format!(
        "the signed checkpoint recorded {} events up to this one, but it is missing after {checked} \
         events: the tail of the log was cut",
        anchor.count
    )
}
