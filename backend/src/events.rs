//! The live feed browsers follow over SSE: rows of the `events` table, announced with
//! `NOTIFY greenlight_events` by whichever replica wrote them, fanned out here to every open
//! stream of this process.
//!
//! One `LISTEN` connection per process, started with the first subscriber. A notification only
//! says "something new"; the hub then reads every row after the last one it forwarded, so a
//! missed or coalesced notification loses nothing, and a periodic re-read covers a dropped
//! connection. Writers take a lock while appending (see `store::operations`), so ids are
//! committed in order and "every row after the last one" is exact.
//!
//! A stream ends with its session and is sent nothing after it. Rather than every stream asking
//! the database before every event (a thousand queries per event for a thousand streams), the
//! hub judges the sessions of all open streams at once each time it reads new rows, before it
//! sends them, and at every sweep; a stream takes that verdict.

use crate::auth::{session, SessionSettings};
use crate::store::operations::EVENTS_CHANNEL;
use bytes::Bytes;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch, OnceCell};
use uuid::Uuid;

/// How many events a slow stream may fall behind before it re-reads from the table.
const BUFFER: usize = 256;
/// Re-read the table (and re-judge every stream's standing) this often even without a
/// notification.
const SWEEP: Duration = Duration::from_secs(5);
/// The most events one catch-up read returns; a stream further behind continues from there.
pub const CATCH_UP_LIMIT: i64 = 500;

/// One row of the feed, rendered once as the Server-Sent Events frame every stream sends.
#[derive(Debug)]
pub struct StoredEvent {
    pub id: i64,
    /// `id:`, `event:` (the topic) and `data:` (the payload's JSON), ready for the wire: shared
    /// by every stream, not rendered once per stream.
    pub frame: Bytes,
}

impl StoredEvent {
    fn render(id: i64, topic: &str, data: &str) -> Self {
        let mut frame = format!("id: {id}\nevent: {topic}\n");
        // Postgres renders JSON on one line; a line break would still be kept, as SSE says.
        for line in data.lines() {
            frame.push_str("data: ");
            frame.push_str(line);
            frame.push('\n');
        }
        frame.push('\n');
        Self {
            id,
            frame: Bytes::from(frame),
        }
    }
}

/// What a stream stands on: a session, by the hash of its id, or an API token, by its id. Once
/// it is gone (sign-out, expiry, revocation), the stream ends and is sent nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Standing {
    Session(Vec<u8>),
    Token(Uuid),
}

/// The hub's verdict on the standing of every open stream, reached with one query for all of
/// them after it had read the feed up to `after` (so it holds for the events up to there).
#[derive(Debug, Default)]
struct Verdict {
    after: i64,
    live: HashMap<Standing, bool>,
}

#[derive(Debug)]
pub struct EventHub {
    pool: PgPool,
    sessions: SessionSettings,
    sender: broadcast::Sender<Arc<StoredEvent>>,
    verdicts: watch::Sender<Arc<Verdict>>,
    /// The standings of the open streams, with how many streams stand on each.
    standings: Mutex<HashMap<Standing, usize>>,
    listening: OnceCell<()>,
    closed: watch::Sender<bool>,
}

impl EventHub {
    pub fn new(pool: PgPool, sessions: SessionSettings) -> Arc<Self> {
        let (sender, _) = broadcast::channel(BUFFER);
        let (verdicts, _) = watch::channel(Arc::default());
        let (closed, _) = watch::channel(false);
        Arc::new(Self {
            pool,
            sessions,
            sender,
            verdicts,
            standings: Mutex::default(),
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

    /// New events from now on, for a stream standing on `standing`. Subscribe before reading
    /// the backlog, so nothing falls between.
    pub async fn subscribe(self: &Arc<Self>, standing: Standing) -> sqlx::Result<Subscription> {
        *self.standings().entry(standing.clone()).or_insert(0) += 1;
        let subscription = Subscription {
            events: self.sender.subscribe(),
            verdicts: self.verdicts.subscribe(),
            closed: self.closed.subscribe(),
            standing,
            hub: Arc::clone(self),
        };
        self.listening
            .get_or_try_init(|| async {
                let last = latest_id(&self.pool).await?;
                let hub = Arc::clone(self);
                tokio::spawn(async move { hub.forward(last).await });
                Ok::<(), sqlx::Error>(())
            })
            .await?;
        Ok(subscription)
    }

    fn standings(&self) -> std::sync::MutexGuard<'_, HashMap<Standing, usize>> {
        self.standings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn forget(&self, standing: &Standing) {
        let mut standings = self.standings();
        if let Some(streams) = standings.get_mut(standing) {
            *streams -= 1;
            if *streams == 0 {
                standings.remove(standing);
            }
        }
    }

    /// Whether `standing` still holds, asked of the database for this one stream. A database
    /// hiccup does not end a stream; the next check decides.
    async fn stands(&self, standing: &Standing) -> bool {
        let live = match standing {
            Standing::Session(id_hash) => {
                session::is_live(&self.pool, id_hash, &self.sessions).await
            }
            Standing::Token(id) => crate::store::tokens::is_usable(&self.pool, *id).await,
        };
        live.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "checking an event stream's session failed");
            true
        })
    }

    /// Judges the standing of every open stream at once (two queries however many streams),
    /// having read the feed up to `after`.
    async fn judge(&self, after: i64) -> sqlx::Result<()> {
        let (mut sessions, mut tokens) = (Vec::new(), Vec::new());
        for standing in self.standings().keys() {
            match standing {
                Standing::Session(id_hash) => sessions.push(id_hash.clone()),
                Standing::Token(id) => tokens.push(*id),
            }
        }
        let live_sessions = match sessions.is_empty() {
            true => Vec::new(),
            false => session::live_among(&self.pool, &sessions, &self.sessions).await?,
        };
        let usable_tokens = match tokens.is_empty() {
            true => Vec::new(),
            false => crate::store::tokens::usable_among(&self.pool, &tokens).await?,
        };
        let mut live: HashMap<Standing, bool> = sessions
            .into_iter()
            .map(Standing::Session)
            .chain(tokens.into_iter().map(Standing::Token))
            .map(|standing| (standing, false))
            .collect();
        live.extend(
            live_sessions
                .into_iter()
                .map(Standing::Session)
                .chain(usable_tokens.into_iter().map(Standing::Token))
                .map(|standing| (standing, true)),
        );
        self.verdicts
            .send_replace(Arc::new(Verdict { after, live }));
        Ok(())
    }

    /// Listens and forwards until the hub is closed; reconnects after failures.
    async fn forward(self: Arc<Self>, mut last: i64) {
        let mut closed = self.closed.subscribe();
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
                        // Judged after reading them and before sending them: a stream whose
                        // session is gone by now gets none of these.
                        let read = events.last().map_or(last, |event| event.id);
                        if let Err(err) = self.judge(read).await {
                            tracing::warn!(error = %err, "judging the event streams' sessions failed");
                            self.verdicts.send_modify(|_| ());
                        }
                        for event in events {
                            last = event.id;
                            // No receivers is fine: nobody is watching right now.
                            let _ = self.sender.send(Arc::new(event));
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "reading new events failed");
                        // The streams still wake (and keep their connections alive); the old
                        // verdict holds no new event, so each checks its own session.
                        self.verdicts.send_modify(|_| ());
                    }
                }
                if lost || listener.is_none() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// What a [`Subscription`] has next.
#[derive(Debug)]
pub enum Next {
    Event(Arc<StoredEvent>),
    /// The stream fell behind the live feed: read what was missed from the table.
    Lagged,
    /// The hub judged the streams again (at least every sweep) and this one still stands.
    Judged,
    /// The hub closed, or the stream's standing is gone.
    End,
}

/// One stream's place in the feed: the live events, the hub's verdicts on its standing, and its
/// standing counted among the open streams' until it is dropped.
#[derive(Debug)]
pub struct Subscription {
    events: broadcast::Receiver<Arc<StoredEvent>>,
    verdicts: watch::Receiver<Arc<Verdict>>,
    closed: watch::Receiver<bool>,
    standing: Standing,
    hub: Arc<EventHub>,
}

impl Subscription {
    /// The next live event or verdict; ends when the hub closes or finds the stream's standing
    /// gone.
    pub async fn next(&mut self) -> Next {
        tokio::select! {
                _ = self.closed.changed() => Next::End,
                judged = self.verdicts.changed() => {
                    let fallen = judged.is_err()
                        || self.verdicts.borrow_and_update().live.get(&self.standing) == Some(&false);
                    if fallen { Next::End } else { Next::Judged }
                }
                received = self.events.recv() => match received {
                    Ok(event) => Next::Event(event),
                    Err(RecvError::Lagged(_)) => Next::Lagged,
                    Err(RecvError::Closed) => Next::End,
                },
        }
    }

    /// Whether event `id` may still be sent on this stream: the hub's verdict if it judged after
    /// reading that event, else a check of the stream's own.
    pub async fn may_receive(&self, id: i64) -> bool {
        let judged = {
            let verdict = self.verdicts.borrow();
            (verdict.after >= id)
                .then(|| verdict.live.get(&self.standing).copied())
                .flatten()
        };
        match judged {
            Some(live) => live,
            None => self.hub.stands(&self.standing).await,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.forget(&self.standing);
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
    let rows = sqlx::query!(
        r#"select id, topic, payload::text as "data!" from events where id > $1 order by id limit $2"#,
        after,
        limit,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| StoredEvent::render(row.id, &row.topic, &row.data))
        .collect())
}
