//! The chain's state as the console shows it: "verified up to #N", or the first broken event.
//!
//! Each look resumes from the head verified before (at start, the one the signed checkpoint
//! holds), so it hashes only the events added since: a view never re-verifies millions of rows.
//! The resumed-from row is checked again against its recorded hash and count, so a chain cut or
//! recomputed below it is still reported there. Once the chain is broken it stays reported
//! broken (the log is append-only: a broken row does not mend) until the process restarts.

use super::verify::{walk, Head};
use chrono::{DateTime, Utc};
use shared::api::{AuditChainState, BrokenEvent};
use sqlx::PgPool;
use tokio::sync::Mutex;

/// Shared by every request; one verification runs at a time, the others wait for its result.
#[derive(Debug, Default)]
pub struct ChainWatch {
    known: Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    head: Option<Head>,
    checked_at: Option<DateTime<Utc>>,
    broken: Option<BrokenEvent>,
}

impl ChainWatch {
    /// A watch that trusts `head` as verified already (the checkpointer's, checked at start).
    pub fn starting_at(head: Option<Head>) -> Self {
        Self {
            known: Mutex::new(Known {
                head,
                ..Known::default()
            }),
        }
    }

    /// Verifies the events added since the last look and reports the state.
    pub async fn state(&self, pool: &PgPool) -> sqlx::Result<AuditChainState> {
        let mut known = self.known.lock().await;
        if known.broken.is_none() {
            let resume = known.head.clone();
            match walk(pool, resume.as_ref(), resume.as_ref()).await? {
                Ok(head) => known.head = head,
                Err((id, reason)) => known.broken = Some(BrokenEvent { id, reason }),
            }
            known.checked_at = Some(Utc::now());
        }
        let verified_event_at = match &known.head {
            Some(head) => {
                sqlx::query_scalar!("select at from audit_events where id = $1", head.last_id)
                    .fetch_optional(pool)
                    .await?
            }
            None => None,
        };
        Ok(AuditChainState {
            verified_up_to: known.head.as_ref().map(|head| head.last_id),
            verified_events: known.head.as_ref().map_or(0, |head| head.count),
            verified_event_at,
            checked_at: known.checked_at.unwrap_or_else(Utc::now),
            broken: known.broken.clone(),
        })
    }
}
