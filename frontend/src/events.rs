//! The live feed: one `EventSource` on `/api/v1/events` per signed-in tab. Every operation the
//! server runs (create, scale, delete, traffic, keys) arrives here as it starts, reports a step
//! and ends, and every change request as it is made, approved, rejected, expires, goes stale or
//! is applied — so every page, and every other open browser, shows it without a reload.
//!
//! The browser reconnects by itself and sends `Last-Event-ID`; when it gives up (the server
//! answered an error, e.g. while restarting), we open a new source after a pause and resume with
//! `?after=<last id>`, so nothing in between is missed — or, when the session has ended, send
//! the user to sign in again.

mod rollouts;

use crate::api;
use crate::session::{use_session, SessionState};
use leptos::prelude::*;
use shared::api::change_requests::ChangeRequestSummary;
use shared::api::rollouts::RolloutSummary;
use shared::api::{Operation, OperationStatus};
use shared::rollout::ChangeRequestState;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventSource, MessageEvent};

/// What the feed knows; `Copy`, so closures and components take it freely.
#[derive(Debug, Clone, Copy)]
pub struct Feed {
    /// The latest state of every operation seen since the page loaded, by id.
    operations: RwSignal<HashMap<Uuid, Operation>>,
    /// The operation update that arrived last: pages watch it to reload what it touched.
    pub last: RwSignal<Option<Operation>>,
    /// The latest state of every change request seen since the page loaded, by id.
    requests: RwSignal<HashMap<Uuid, ChangeRequestSummary>>,
    /// Every rollout the stream reported since the page loaded, by id (see `events/rollouts.rs`).
    rollouts: RwSignal<HashMap<Uuid, rollouts::SeenRollout>>,
    /// True while the stream is open.
    pub connected: RwSignal<bool>,
}

/// How far a request has come, to tell an older copy from a newer one: answers and events may
/// arrive in either order, and a request only moves forward.
fn progress(r: &ChangeRequestSummary) -> (u8, u32) {
    let stage = match r.state {
        ChangeRequestState::Pending => 0,
        ChangeRequestState::Approved => 1,
        _ => 2,
    };
    (stage, r.approval_count)
}

impl Feed {
    /// The operation's latest known state (tracked).
    pub fn operation(&self, id: Uuid) -> Option<Operation> {
        self.operations.with(|ops| ops.get(&id).cloned())
    }

    /// Every known operation of `endpoint`, newest first (tracked).
    pub fn of_endpoint(&self, endpoint: &str) -> Vec<Operation> {
        let mut found: Vec<Operation> = self.operations.with(|ops| {
            ops.values()
                .filter(|op| op.endpoint == endpoint)
                .cloned()
                .collect()
        });
        found.sort_by_key(|op| std::cmp::Reverse(op.created_at));
        found
    }

    /// What has moved on `endpoint`: each known operation's id, status and number of steps
    /// (tracked). It changes with every event about the endpoint, so a page reloads on it
    /// rather than on [`Feed::last`] alone — effects run after a burst of events, and the last
    /// of a burst may be about another endpoint.
    pub fn activity_of(&self, endpoint: &str) -> Vec<(Uuid, OperationStatus, usize)> {
        let mut found: Vec<_> = self.operations.with(|ops| {
            ops.values()
                .filter(|op| op.endpoint == endpoint)
                .map(|op| (op.id, op.status, op.progress.len()))
                .collect()
        });
        found.sort_unstable_by_key(|(id, ..)| *id);
        found
    }

    /// Like [`Feed::of_endpoint`], for event handlers and loaders that must not subscribe.
    pub fn of_endpoint_untracked(&self, endpoint: &str) -> Vec<Operation> {
        self.operations.with_untracked(|ops| {
            ops.values()
                .filter(|op| op.endpoint == endpoint)
                .cloned()
                .collect()
        })
    }

    /// Adds an operation the API answered with (a 202 body, or a list). A newer state the
    /// stream already delivered wins: the answer may arrive after the stream's events.
    pub fn record(&self, op: Operation) {
        self.operations.update(|ops| {
            ops.entry(op.id).or_insert(op);
        });
    }

    /// The change request's latest known state (tracked).
    pub fn request(&self, id: Uuid) -> Option<ChangeRequestSummary> {
        self.requests.with(|r| r.get(&id).cloned())
    }

    /// Where each known change request that `keep` selects stands: id, state and approvals
    /// (tracked). Changes with every event about one of them — lists reload on it, for the
    /// reason given at [`Feed::activity_of`].
    pub fn requests_where(
        &self,
        keep: impl Fn(&ChangeRequestSummary) -> bool,
    ) -> Vec<(Uuid, ChangeRequestState, u32)> {
        let mut found: Vec<_> = self.requests.with(|r| {
            r.values()
                .filter(|r| keep(r))
                .map(|r| (r.id, r.state, r.approval_count))
                .collect()
        });
        found.sort_unstable_by_key(|(id, ..)| *id);
        found
    }

    /// Adds a change request the API answered with, unless the stream already brought a newer
    /// state of it.
    pub fn record_request(&self, request: ChangeRequestSummary) {
        let newer = self.requests.with_untracked(|r| {
            r.get(&request.id)
                .is_none_or(|known| progress(&request) >= progress(known))
        });
        if newer {
            self.requests.update(|r| {
                r.insert(request.id, request);
            });
        }
    }

    fn apply(&self, op: Operation) {
        self.operations.update(|ops| {
            ops.insert(op.id, op.clone());
        });
        self.last.set(Some(op));
    }
}

/// The open source and the closures it calls, kept alive together and dropped together.
struct Connection {
    source: EventSource,
    _on_operation: Closure<dyn FnMut(MessageEvent)>,
    _on_request: Closure<dyn FnMut(MessageEvent)>,
    _on_rollout: Closure<dyn FnMut(MessageEvent)>,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

thread_local! {
    static CONNECTION: RefCell<Option<Connection>> = const { RefCell::new(None) };
    /// The id of the last event received, to resume after a reconnect of our own.
    static LAST_ID: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Provides the feed and keeps it connected exactly while someone is signed in.
pub fn provide() {
    let feed = Feed {
        operations: RwSignal::new(HashMap::new()),
        last: RwSignal::new(None),
        requests: RwSignal::new(HashMap::new()),
        rollouts: RwSignal::new(HashMap::new()),
        connected: RwSignal::new(false),
    };
    provide_context(feed);
    let session = use_session();
    // A session with a one-time password may not stream yet (the server answers 403): connect
    // once its owner has chosen a password.
    Effect::new(move |_| match session.get() {
        SessionState::SignedIn(info) if !info.user.must_change_password => {
            if CONNECTION.with(|c| c.borrow().is_none()) {
                connect(feed, session);
            }
        }
        _ => disconnect(feed),
    });
}

pub fn use_feed() -> Feed {
    expect_context::<Feed>()
}

fn disconnect(feed: Feed) {
    if let Some(conn) = CONNECTION.with(|c| c.borrow_mut().take()) {
        conn.source.close();
    }
    feed.connected.set(false);
}

fn connect(feed: Feed, session: RwSignal<SessionState>) {
    let url = match LAST_ID.get() {
        Some(id) => format!("/api/v1/events?after={id}"),
        None => "/api/v1/events".to_owned(),
    };
    let Ok(source) = EventSource::new(&url) else {
        return;
    };
    let on_operation = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        if let Some(op) = event_data::<Operation>(&ev) {
            feed.apply(op);
        }
    });
    let on_request = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        if let Some(request) = event_data::<ChangeRequestSummary>(&ev) {
            feed.record_request(request);
        }
    });
    let on_rollout = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        if let Some(rollout) = event_data::<RolloutSummary>(&ev) {
            feed.apply_rollout(rollout);
        }
    });
    let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| feed.connected.set(true));
    let on_error = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
        feed.connected.set(false);
        let closed = CONNECTION.with(|c| {
            c.borrow()
                .as_ref()
                .is_some_and(|conn| conn.source.ready_state() == EventSource::CLOSED)
        });
        if closed {
            // Not from inside this callback: replacing the connection drops this closure.
            set_timeout(
                move || {
                    leptos::task::spawn_local(async move {
                        // A stream refused because the session ended: sign out instead of
                        // knocking forever.
                        if let Ok(None) = api::current_session().await {
                            disconnect(feed);
                            session.set(SessionState::SignedOut);
                            return;
                        }
                        if let Some(conn) = CONNECTION.with(|c| c.borrow_mut().take()) {
                            conn.source.close();
                            connect(feed, session);
                        }
                    });
                },
                Duration::from_secs(3),
            );
        }
    });
    let _ =
        source.add_event_listener_with_callback("operation", on_operation.as_ref().unchecked_ref());
    let _ = source
        .add_event_listener_with_callback("change_request", on_request.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("rollout", on_rollout.as_ref().unchecked_ref());
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    CONNECTION.with(|c| {
        *c.borrow_mut() = Some(Connection {
            source,
            _on_operation: on_operation,
            _on_request: on_request,
            _on_rollout: on_rollout,
            _on_open: on_open,
            _on_error: on_error,
        })
    });
}

/// An event's JSON data, after noting its id to resume from.
fn event_data<T: serde::de::DeserializeOwned>(ev: &MessageEvent) -> Option<T> {
    if let Ok(id) = ev.last_event_id().parse::<i64>() {
        LAST_ID.set(Some(id));
    }
    serde_json::from_str(&ev.data().as_string()?).ok()
}
