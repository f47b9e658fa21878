//! `GET /api/v1/events`: Server-Sent Events for the console — every operation as it starts,
//! reports a step and ends. `Last-Event-ID` (sent by browsers when they reconnect) replays what
//! was missed; without it the stream starts now.

use super::error::ApiError;
use super::query::AppQuery;
use super::AppState;
use crate::auth::Authenticated;
use crate::events::{self, Next, Standing, StoredEvent, Subscription, CATCH_UP_LIMIT};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Replay events after this id (for clients that cannot set `Last-Event-ID`).
    after: Option<i64>,
}

/// A quiet stream sends a comment after this long (at the hub's next verdict, within its sweep),
/// so proxies do not cut it.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
const KEEP_ALIVE_FRAME: &[u8] = b":keep-alive\n\n";

/// Where a stream is: what it still has to send from the table, and the live feed. The stream
/// ends with the session (or API token) it was opened with — sign-out, expiry, revocation —
/// and no event is sent after it. It holds no timer of its own: the hub's verdicts wake it.
struct Cursor {
    pool: sqlx::PgPool,
    last: i64,
    backlog: VecDeque<StoredEvent>,
    feed: Subscription,
    quiet_since: Instant,
}

impl Cursor {
    /// The next frame to send (an event, or a keep-alive after a quiet spell), or `None` when
    /// the server is shutting down or the session ended.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            let (id, frame) = match self.backlog.pop_front() {
                Some(event) => (event.id, event.frame),
                None => match self.feed.next().await {
                    Next::Event(event) => (event.id, event.frame.clone()),
                    // Fell behind the live feed: read what was missed from the table.
                    Next::Lagged => {
                        self.refill().await;
                        continue;
                    }
                    Next::Judged if self.quiet_since.elapsed() >= KEEP_ALIVE => {
                        self.quiet_since = Instant::now();
                        return Some(Bytes::from_static(KEEP_ALIVE_FRAME));
                    }
                    Next::Judged => continue,
                    Next::End => return None,
                },
            };
            if id <= self.last {
                continue;
            }
            self.last = id;
            if !self.feed.may_receive(id).await {
                return None;
            }
            self.quiet_since = Instant::now();
            return Some(frame);
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
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
    AppQuery(query): AppQuery<EventsQuery>,
) -> Result<Response, ApiError> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(query.after);
    let standing = match &auth.session.token {
        Some(token) => Standing::Token(token.id),
        None => Standing::Session(auth.session.id_hash.clone()),
    };
    let feed = state.events.subscribe(standing).await?;
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
        feed,
        quiet_since: Instant::now(),
    };
    // Every event's frame was rendered once by the hub; a stream only hands it on.
    let frames = stream::unfold(cursor, |mut cursor| async move {
        let frame = cursor.next().await?;
        Some((Ok::<_, Infallible>(frame), cursor))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(frames),
    )
        .into_response())
}
