//! `GET /api/v1/events`: Server-Sent Events for the console — every operation as it starts,
//! reports a step and ends. `Last-Event-ID` (sent by browsers when they reconnect) replays what
//! was missed; without it the stream starts now.

use super::error::ApiError;
use super::query::AppQuery;
use super::AppState;
use crate::auth::Authenticated;
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
pub struct EventsQuery {
    /// Replay events after this id (for clients that cannot set `Last-Event-ID`).
    after: Option<i64>,
}

/// Where a stream is: what it still has to send from the table, and the live feed.
struct Cursor {
    pool: sqlx::PgPool,
    last: i64,
    backlog: VecDeque<StoredEvent>,
    live: tokio::sync::broadcast::Receiver<StoredEvent>,
    closed: tokio::sync::watch::Receiver<bool>,
}

fn to_sse(event: &StoredEvent) -> Event {
    Event::default()
        .id(event.id.to_string())
        .event(&event.topic)
        .json_data(&event.payload)
        .unwrap_or_else(|_| Event::default().comment("unserializable event"))
}

impl Cursor {
    /// The next event to send, or `None` when the server is shutting down.
    async fn next(&mut self) -> Option<StoredEvent> {
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
    _auth: Authenticated,
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
