//! The live feed browsers follow over SSE: rows of the `events` table, announced with
//! `NOTIFY greenlight_events` by whichever replica wrote them, fanned out here to every open
//! stream of this process.
//!
//! One `LISTEN` connection per process, started with the first subscriber. A notification only
//! says "something new"; the hub then reads every row after the last one it forwarded, so a
//! missed or coalesced notification loses nothing, and a periodic re-read covers a dropped
//! connection. Writers take a lock while appending (see `store::operations`), so ids are
//! committed in order and "every row after the last one" is exact.

use crate::store::operations::EVENTS_CHANNEL;
use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch, OnceCell};

/// How many events a slow stream may fall behind before it re-reads from the table.
const BUFFER: usize = 256;
/// Re-read the table this often even without a notification.
const SWEEP: Duration = Duration::from_secs(5);
/// The most events one catch-up read returns; a stream further behind continues from there.
pub const CATCH_UP_LIMIT: i64 = 500;

/// One row of the feed.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: i64,
    pub topic: String,
    pub payload: Value,
}

#[derive(Debug)]
pub struct EventHub {
    pool: PgPool,
    sender: broadcast::Sender<StoredEvent>,
    listening: OnceCell<()>,
    closed: watch::Sender<bool>,
}

impl EventHub {
    pub fn new(pool: PgPool) -> Arc<Self> {
        let (sender, _) = broadcast::channel(BUFFER);
        let (closed, _) = watch::channel(false);
        Arc::new(Self {
            pool,
            sender,
            listening: OnceCell::new(),
            closed,
        })
    }

    /// Ends every stream (so a graceful shutdown does not wait on open browsers).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// How many streams follow the feed now.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Resolves when the hub is closed.
    pub fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// New events from now on. Subscribe before reading the backlog, so nothing falls between.
    pub async fn subscribe(self: &Arc<Self>) -> sqlx::Result<broadcast::Receiver<StoredEvent>> {
        let receiver = self.sender.subscribe();
        self.listening
            .get_or_try_init(|| async {
                let last = latest_id(&self.pool).await?;
                let hub = Arc::clone(self);
                tokio::spawn(async move { hub.forward(last).await });
                Ok::<(), sqlx::Error>(())
            })
            .await?;
        Ok(receiver)
    }

    /// Listens and forwards until the hub is closed; reconnects after failures.
    async fn forward(self: Arc<Self>, mut last: i64) {
        let mut closed = self.closed();
        loop {
            let mut listener = match PgListener::connect_with(&self.pool).await {
                Ok(mut listener) => match listener.listen(EVENTS_CHANNEL).await {
                    Ok(()) => Some(listener),
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot LISTEN for events; polling");
                        None
                    }
                },
                Err(err) => {
                    tracing::warn!(error = %err, "cannot connect to LISTEN for events; polling");
                    None
                }
            };
            loop {
                let woke = async {
                    match listener.as_mut() {
                        Some(l) => l.recv().await.map(|_| ()),
                        None => std::future::pending().await,
                    }
                };
                let lost = tokio::select! {
                    _ = closed.changed() => return,
                    received = tokio::time::timeout(SWEEP, woke) => matches!(received, Ok(Err(_))),
                };
                match since(&self.pool, last, CATCH_UP_LIMIT).await {
                    Ok(events) => {
                        for event in events {
                            last = event.id;
                            // No receivers is fine: nobody is watching right now.
                            let _ = self.sender.send(event);
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "reading new events failed"),
                }
                if lost || listener.is_none() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// How long events are kept: a browser that was away longer reloads instead of replaying.
pub const KEEP_FOR_DAYS: i32 = 7;

/// Drops events older than [`KEEP_FOR_DAYS`]; the operations and the audit log keep the record.
pub async fn prune(pool: &PgPool) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "delete from events where at < now() - make_interval(days => $1)",
        KEEP_FOR_DAYS,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The id of the newest event, 0 when there is none.
pub async fn latest_id(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select coalesce(max(id), 0) as "id!" from events"#)
        .fetch_one(pool)
        .await
}

/// Events after `after`, oldest first, at most `limit`.
pub async fn since(pool: &PgPool, after: i64, limit: i64) -> sqlx::Result<Vec<StoredEvent>> {
    sqlx::query_as!(
        StoredEvent,
        "select id, topic, payload from events where id > $1 order by id limit $2",
        after,
        limit,
    )
    .fetch_all(pool)
    .await
}
