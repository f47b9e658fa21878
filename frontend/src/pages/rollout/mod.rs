//! One rollout, `/rollouts/:id`: where it is (state, the current step highlighted in the
//! timeline, who approved what), the endpoint's live split beside the known-good one it would
//! return to, the step's pending change request with Approve / Reject, and Pause / Resume /
//! Abort / Roll back. It reloads on every `rollout` event about it and every change to its
//! requests, and the split on every operation on its endpoint — live in every open browser.

mod compare;
mod controls;
mod steps;

use crate::api;
use crate::components::change_request::{clock, ChangeRequestCard};
use crate::components::traffic_bar::TrafficBar;
use crate::events::use_feed;
use crate::pages::SignedIn;
use crate::remote::{ErrorNote, Remote};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use shared::api::rollouts::RolloutDetail;
use shared::api::EndpointSummary;
use uuid::Uuid;

#[component]
pub fn RolloutPage() -> impl IntoView {
    let params = use_params_map();
    view! {
        <SignedIn>
            {move || params.get().get("id").map(|raw| match Uuid::parse_str(&raw) {
                Ok(id) => view! { <RolloutView id=id /> }.into_any(),
                Err(_) => view! {
                    <main class="page"><p class="error" role="alert" data-testid="rollout-not-found">"There is no such rollout."</p></main>
                }.into_any(),
            })}
        </SignedIn>
    }
}

/// The endpoint's split now, reloaded on every operation on it and every move of the rollout.
#[component]
fn LiveSplit(endpoint: String, #[prop(into)] moved: Signal<u64>) -> impl IntoView {
    let feed = use_feed();
    let summary = Remote::<EndpointSummary>::new();
    let name = StoredValue::new(endpoint);
    let activity = Memo::new(move |_| name.with_value(|n| feed.activity_of(n)));
    Effect::new(move |_| {
        activity.with(|_| ());
        moved.track();
        let name = name.get_value();
        summary.load(async move { api::endpoint(&name).await });
    });
    view! {
        <div data-testid="rollout-traffic">
            <span class="muted">"Live now"</span>
            {move || summary.ok().map(|e| view! { <TrafficBar traffic=e.traffic mirror=e.mirror_traffic /> })}
            {move || summary.error().map(|error| view! { <ErrorNote error=error /> })}
        </div>
    }
}

#[component]
fn RolloutView(id: Uuid) -> impl IntoView {
    let feed = use_feed();
    let detail = Remote::<RolloutDetail>::new();
    detail.load(api::rollout(id));
    let moved = Memo::new(move |_| feed.rollout_events(id));
    let requests = Memo::new(move |_| feed.requests_where(|r| r.rollout_id == Some(id)));
    // The stream brings only what happens after it opens: a move between this page's first
    // load and the stream's (re)opening would otherwise never show. Load again on every opening.
    let connected = Memo::new(move |_| feed.connected.get());
    Effect::new(move |first: Option<()>| {
        // Read, not just tracked: a memo never read never subscribes to its sources.
        moved.with(|_| ());
        requests.with(|_| ());
        connected.with(|_| ());
        if first.is_some() {
            detail.load(api::rollout(id));
        }
    });
    let current = Signal::derive(move || detail.ok());
    let state = Memo::new(move |_| detail.ok().map(|d| d.summary.state));
    // Keyed on the request's id alone, so a reload never rebuilds the card (and a typed comment).
    let pending = Memo::new(move |_| detail.ok().and_then(|d| d.pending_request).map(|r| r.id));
    // After an action, load again rather than show its answer: an event about a later move may
    // have been loaded already, and the answer must not replace it.
    let on_done = Callback::new(move |_: RolloutDetail| detail.load(api::rollout(id)));

    let summary = Memo::new(move |_| detail.ok().map(|d| (d.summary, d.reason, d.known_good)));
    // The endpoint never changes: the split below is built once, when it is known.
    let endpoint =
        Memo::new(move |_| summary.with(|s| s.as_ref().map(|(s, ..)| s.endpoint.to_string())));
    let pair = Memo::new(move |_| {
        summary.with(|s| {
            s.as_ref().map(|(s, ..)| {
                (
                    s.endpoint.to_string(),
                    s.old_deployment.to_string(),
                    s.new_deployment.to_string(),
                )
            })
        })
    });

    let audit_trail = api::audit_page_href(&shared::api::AuditQuery {
        rollout: Some(id.to_string()),
        ..Default::default()
    });
    view! {
        <main class="page wide" data-testid="rollout-page" data-rollout-id=id.to_string()
            data-state=move || state.get().map(|s| s.as_str()).unwrap_or_default()>
            {move || detail.error().map(|error| view! { <ErrorNote error=error /> })}
            {move || endpoint.get().map(|endpoint| view! {
                <p class="crumbs"><a href="/">"Endpoints"</a> " / "
                    <a href=format!("/endpoints/{endpoint}") data-testid="rollout-endpoint-link">{endpoint.clone()}</a>
                    " / Rollout · "
                    <a href=audit_trail.clone() data-testid="rollout-audit-link">"Audit trail"</a></p>
            })}
            {move || summary.get().map(|(s, reason, known_good)| view! {
                <h1 data-testid="rollout-title">{format!("Rollout {} → {}", s.old_deployment, s.new_deployment)}</h1>
                <section class="card" aria-label="Rollout state">
                    <dl class="facts">
                        <div><dt>"State"</dt><dd><span class=format!("badge {}", s.state.as_str())
                            data-testid="rollout-state" data-state=s.state.as_str()>{s.state.as_str()}</span></dd></div>
                        <div><dt>"Started by"</dt><dd data-testid="rollout-started-by">{s.started_by.to_string()}</dd></div>
                        <div><dt>"Started"</dt><dd>{clock(s.created_at)}</dd></div>
                        {s.finished_at.map(|f| view! { <div><dt>"Ended"</dt><dd data-testid="rollout-finished">{clock(f)}</dd></div> })}
                        <div><dt>"Approvers"</dt><dd data-testid="rollout-approvers">
                            {s.approvers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")}</dd></div>
                    </dl>
                    {reason.map(|r| view! { <p class="cr-meta">"Reason: " <q data-testid="rollout-reason-text">{r}</q></p> })}
                    <div data-testid="rollout-known-good">
                        <span class="muted">"Known good (abort and roll back return here)"</span>
                        <TrafficBar traffic=known_good.traffic mirror=known_good.mirror_traffic />
                    </div>
                </section>
            })}
            {move || pair.get().map(|(endpoint, old, new)| view! {
                <section class="card" aria-label="Live split, new vs old">
                    <LiveSplit endpoint=endpoint.clone() moved=Signal::derive(move || moved.get()) />
                    <h2>{format!("{new} vs {old} so far")}</h2>
                    <compare::Compare endpoint=endpoint old=old new=new moved=Signal::derive(move || moved.get()) />
                </section>
            })}
            {move || detail.ok().and_then(|d| d.held_by_freeze).map(|held| view! {
                <p class="notice freeze" role="status" data-testid="rollout-held-by-freeze">
                    <strong>{held.sentence()}</strong>
                    " · this rollout waits at its next traffic change; rolling back still works."
                </p>
            })}
            // Outside the blocks above, so a reload never rebuilds the controls (and a typed reason).
            <controls::Controls id=id state=state on_done=on_done />
            {move || pending.get().and_then(|_| untrack(|| detail.ok()).and_then(|d| d.pending_request)).map(|summary| view! {
                <section class="card" aria-label="Waiting for approval" data-testid="rollout-pending">
                    <h2>"Waiting for approval"</h2>
                    <ChangeRequestCard summary=summary show_endpoint=false />
                </section>
            })}
            <section class="card" aria-label="Steps">
                <h2>"Steps"</h2>
                <steps::Steps detail=current />
                <steps::EventLog detail=current />
            </section>
        </main>
    }
}
