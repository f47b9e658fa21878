//! The pending change requests of one endpoint (its page) or of every endpoint (the Approvals
//! inbox), live. A request decided while the list is open stays on it with its outcome — the
//! rejection, the stale diff, the operation that applies it — instead of vanishing the moment
//! someone acts on it.

use super::card::ChangeRequestCard;
use crate::api;
use crate::events::use_feed;
use crate::remote::{ErrorNote, Remote};
use leptos::prelude::*;
use shared::api::change_requests::{ChangeRequestList, ChangeRequestSummary};
use shared::rollout::ChangeRequestState;

/// How many pending requests one load brings; more than a team decides in a day.
const PAGE: u32 = 50;

#[component]
pub fn ChangeRequests(
    /// Only this endpoint's requests; every endpoint's (with a link to each) when `None`.
    endpoint: Option<String>,
) -> impl IntoView {
    let feed = use_feed();
    let pending = Remote::<ChangeRequestList>::new();
    let filter = StoredValue::new(endpoint.clone());
    let load = move || {
        let endpoint = filter.get_value();
        pending.load(async move {
            api::change_requests(Some(ChangeRequestState::Pending), endpoint.as_deref(), PAGE).await
        });
    };
    load();
    // Reload whenever a request of ours is made or moves on.
    let moved = Memo::new(move |_| {
        feed.requests_where(|r| {
            filter.with_value(|e| e.as_ref().is_none_or(|e| e == r.endpoint.as_str()))
        })
    });
    Effect::new(move |first: Option<()>| {
        // Read, not just tracked: a memo never read never subscribes to its sources.
        moved.with(|_| ());
        if first.is_some() {
            load();
        }
    });
    // Every request shown since the list opened, newest first.
    let shown = RwSignal::new(Vec::<ChangeRequestSummary>::new());
    Effect::new(move |_| {
        let Some(list) = pending.ok() else { return };
        shown.update(|shown| {
            for item in list.items {
                if !shown.iter().any(|s| s.id == item.id) {
                    shown.push(item);
                }
            }
            shown.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        });
    });
    let show_endpoint = endpoint.is_none();
    view! {
        <div class="cr-list" data-testid="change-request-list">
            {move || pending.error().map(|error| view! { <ErrorNote error=error /> })}
            {move || (pending.ok().is_some() && shown.with(Vec::is_empty)).then(|| view! {
                <p class="muted" data-testid="no-change-requests">"No change request is waiting for approval."</p>
            })}
            <For each=move || shown.get() key=|s| s.id let:summary>
                <ChangeRequestCard summary=summary show_endpoint=show_endpoint />
            </For>
        </div>
    }
}
