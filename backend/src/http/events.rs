//! `GET /api/v1/events`: Server-Sent Events for the console — every operation as it starts,
//! reports a step and ends. `Last-Event-ID` (sent by browsers when they reconnect) replays what
//! was missed; without it the stream starts now.

use super::error::ApiError;
use super::query::AppQuery;
use super::AppState;
use crate::auth::session;
use crate::auth::{Authenticated, SessionSettings};
use crate::events::{self, StoredEvent, CATCH_UP_LIMIT};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Replay events after this id (for clients that cannot set `Last-Event-ID`).
    after: Option<i64>,
}

/// How often an idle stream checks that its session still stands.
const SESSION_CHECK: Duration = Duration::from_secs(15);

/// Where a stream is: what it still has to send from the table, and the live feed.
struct Cursor {
    pool: sqlx::PgPool,
    last: i64,
    backlog: VecDeque<StoredEvent>,
    live: tokio::sync::broadcast::Receiver<StoredEvent>,
    closed: tokio::sync::watch::Receiver<bool>,
    /// The session (or API token) the stream was opened with: once it ends (sign-out, expiry,
    /// revocation), so does the stream, and no event is sent after it.
    session: Standing,
    sessions: SessionSettings,
    check: tokio::time::Interval,
}

/// What a stream stands on: a session, by the hash of its id, or an API token, by its id.
enum Standing {
    Session(Vec<u8>),
    Token(uuid::Uuid),
}

fn to_sse(event: &StoredEvent) -> Event {
    Event::default()
        .id(event.id.to_string())
        .event(&event.topic)
        .json_data(&event.payload)
        .unwrap_or_else(|_| Event::default().comment("unserializable event"))
}

impl Cursor {
    /// The next event to send, or `None` when the server is shutting down or the session ended.
    async fn next(&mut self) -> Option<StoredEvent> {
        let event = self.next_event().await?;
        self.session_live().await.then_some(event)
    }

    /// False once the stream's session is gone. A database hiccup does not end the stream; the
    /// next check decides.
    async fn session_live(&self) -> bool {
        let live = match &self.session {
            Standing::Session(id_hash) => {
                session::is_live(&self.pool, id_hash, &self.sessions).await
            }
            Standing::Token(id) => crate::store::tokens::is_usable(&self.pool, *id).await,
        };
        match live {
            Ok(live) => live,
            Err(err) => {
                tracing::warn!(error = %err, "checking an event stream's session failed");
                true
            }
        }
    }

    async fn next_event(&mut self) -> Option<StoredEvent> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                if event.id > self.last {
                    self.last = event.id;
                    return Some(event);
                }
                continue;
            }
            let received = tokio::select! {
                _ = self.closed.changed() => return None,
                _ = self.check.tick() => {
                    if !self.session_live().await {
                        return None;
                    }
                    continue;
                }
                received = self.live.recv() => received,
            };
            match received {
                Ok(event) if event.id > self.last => {
                    self.last = event.id;
                    return Some(event);
                }
                Ok(_) => {}
                // Fell behind the live feed: read what was missed from the table.
                Err(RecvError::Lagged(_)) => self.refill().await,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    async fn refill(&mut self) {
        match events::since(&self.pool, self.last, CATCH_UP_LIMIT).await {
            Ok(missed) => self.backlog.extend(missed),
            Err(err) => {
                tracing::warn!(error = %err, "catching up an event stream failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The live feed of operations, as Server-Sent Events (`event: operation`, `data`: the
/// operation, `id`: its position in the feed).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "stream_events",
    tag = "events",
    params(
        EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Replay events after this id"),
    ),
    responses(
        (status = 200, description = "A text/event-stream of operation events", content_type = "text/event-stream"),
        (status = 401, body = shared::ErrorEnvelope),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
    AppQuery(query): AppQuery<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(query.after);
    let live = state.events.subscribe().await?;
    let (last, backlog) = match resume {
        Some(after) => (
            after,
            events::since(&state.pool, after, CATCH_UP_LIMIT).await?,
        ),
        None => (events::latest_id(&state.pool).await?, Vec::new()),
    };
    let cursor = Cursor {
        pool: state.pool.clone(),
        last,
        backlog: backlog.into(),
        live,
        closed: state.events.closed(),
        session: match &auth.session.token {
            Some(token) => Standing::Token(token.id),
            None => Standing::Session(auth.session.id_hash.clone()),
        },
        sessions: state.sessions,
        check: tokio::time::interval_at(tokio::time::Instant::now() + SESSION_CHECK, SESSION_CHECK),
    };
    let feed = stream::unfold(cursor, |mut cursor| async move {
        let event = cursor.next().await?;
        Some((Ok(to_sse(&event)), cursor))
    });
    Ok(Sse::new(feed).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    ))
}
