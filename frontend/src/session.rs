//! Who is signed in, shared by every page through Leptos context.

use crate::api;
use leptos::prelude::*;
use shared::api::SessionInfo;

/// The session as the console knows it: still loading, signed out, or signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    Loading,
    SignedOut,
    SignedIn(SessionInfo),
}

/// Loads the session once at start-up and makes it available to every component.
pub fn provide() {
    let state = RwSignal::new(SessionState::Loading);
    provide_context(state);
    leptos::task::spawn_local(async move {
        let loaded = match api::current_session().await {
            Ok(Some(info)) => SessionState::SignedIn(info),
            Ok(None) | Err(_) => SessionState::SignedOut,
        };
        state.set(loaded);
    });
}

pub fn use_session() -> RwSignal<SessionState> {
    expect_context::<RwSignal<SessionState>>()
}
