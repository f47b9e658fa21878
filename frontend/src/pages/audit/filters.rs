//! The audit page's filters. Applying them changes the URL, so a filtered view can be shared,
//! bookmarked and linked to; the page reads its filters from there.

use crate::api;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use shared::api::AuditQuery;
use shared::audit::AuditAction;

/// An RFC 3339 time as a `datetime-local` input holds it (`2026-12-05T10:00`, UTC here).
fn to_input(time: Option<&String>) -> String {
    time.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            let t = t.with_timezone(&chrono::Utc).naive_utc();
            t.format("%Y-%m-%dT%H:%M").to_string()
        })
        .unwrap_or_default()
}

/// A `datetime-local` value, read as UTC like every time the console shows.
fn from_input(value: String) -> Option<String> {
    (!value.is_empty()).then(|| format!("{value}:00Z"))
}

fn text(value: String) -> Option<String> {
    let value = value.trim().to_owned();
    (!value.is_empty()).then_some(value)
}

#[component]
pub fn Filters(query: AuditQuery) -> impl IntoView {
    let navigate = use_navigate();
    let actor = RwSignal::new(query.actor.clone().unwrap_or_default());
    let action = RwSignal::new(query.action.clone().unwrap_or_default());
    let endpoint = RwSignal::new(query.endpoint.clone().unwrap_or_default());
    let rollout = RwSignal::new(query.rollout.clone().unwrap_or_default());
    let request = RwSignal::new(query.change_request.clone().unwrap_or_default());
    let from = RwSignal::new(to_input(query.from.as_ref()));
    let to = RwSignal::new(to_input(query.to.as_ref()));
    let search = RwSignal::new(query.q.clone().unwrap_or_default());
    let apply = move |ev: SubmitEvent| {
        ev.prevent_default();
        let query = AuditQuery {
            actor: text(actor.get_untracked()),
            action: text(action.get_untracked()),
            endpoint: text(endpoint.get_untracked()),
            rollout: text(rollout.get_untracked()),
            change_request: text(request.get_untracked()),
            from: from_input(from.get_untracked()),
            to: from_input(to.get_untracked()),
            q: text(search.get_untracked()),
        };
        navigate(&api::audit_page_href(&query), NavigateOptions::default());
    };
    let selected = query.action.clone().unwrap_or_default();
    let actions = AuditAction::ALL.map(|a| {
        let name = a.as_str();
        view! { <option value=name selected=selected == name>{name}</option> }
    });
    view! {
        <form class="card filters" on:submit=apply data-testid="audit-filters" aria-label="Filters">
            <label>"Actor" <input data-testid="audit-filter-actor" bind:value=actor /></label>
            <label>"Action"
                <select data-testid="audit-filter-action" on:change=move |ev| action.set(event_target_value(&ev))>
                    <option value="" selected=query.action.is_none()>"Any"</option>
                    {actions}
                </select>
            </label>
            <label>"Endpoint" <input data-testid="audit-filter-endpoint" bind:value=endpoint /></label>
            <label>"Rollout id" <input data-testid="audit-filter-rollout" bind:value=rollout /></label>
            <label>"Change request id" <input data-testid="audit-filter-request" bind:value=request /></label>
            <label>"From (UTC)" <input type="datetime-local" data-testid="audit-filter-from" bind:value=from /></label>
            <label>"To (UTC)" <input type="datetime-local" data-testid="audit-filter-to" bind:value=to /></label>
            <label>"Text" <input type="search" data-testid="audit-filter-text" bind:value=search /></label>
            <p class="actions">
                <button type="submit" data-testid="audit-filter-apply">"Apply"</button>
                <a href="/audit" data-testid="audit-filter-clear">"Clear"</a>
            </p>
        </form>
    }
}
