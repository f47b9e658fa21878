//! One change request, in full: what it would do (the dry-run diff for traffic), who asked and
//! why, approvals so far and when it expires, how it ended — and, once approved, the operation
//! that applies it, followed live.

use super::decide::Decide;
use super::diff::{StaleView, TrafficDiffView};
use super::{clock, describe, outcome};
use crate::api;
use crate::components::operation_progress::TrackedOperation;
use crate::events::use_feed;
use crate::remote::{ErrorNote, Remote};
use crate::session::{use_session, SessionState};
use leptos::prelude::*;
use shared::api::change_requests::{ChangeRequestDetail, ChangeRequestSummary, DecisionView};
use shared::rollout::ChangeRequestState;
use shared::Role;

/// "bob at 2026-11-30 05:40 UTC: "looks good""
fn decision_text(d: &DecisionView) -> String {
    match &d.comment {
        Some(c) => format!("{} at {}: “{c}”", d.by, clock(d.at)),
        None => format!("{} at {}", d.by, clock(d.at)),
    }
}

/// True when the signed-in user may take part in decisions (operators see why they can't).
fn sees_decisions() -> bool {
    match use_session().get() {
        SessionState::SignedIn(info) => info.user.role.allows(Role::Operator),
        _ => false,
    }
}

/// The card for `summary`'s request; `show_endpoint` links its endpoint (the inbox does).
#[component]
pub fn ChangeRequestCard(summary: ChangeRequestSummary, show_endpoint: bool) -> impl IntoView {
    let feed = use_feed();
    let id = summary.id;
    let detail = Remote::<ChangeRequestDetail>::new();
    detail.load(api::change_request(id));
    // Whenever the feed says the request moved on, its detail did too: reload then.
    let moved = Memo::new(move |_| feed.request(id).map(|r| (r.state, r.approval_count)));
    // The stream brings only what happens after it opens: load again on every opening.
    let connected = Memo::new(move |_| feed.connected.get());
    Effect::new(move |first: Option<()>| {
        // Read, not just tracked: a memo never read never subscribes to its sources.
        moved.with(|_| ());
        connected.with(|_| ());
        if first.is_some() {
            detail.load(api::change_request(id));
        }
    });
    // The operation that applies it may have started before this page opened: fetch it once so
    // its progress shows; the feed brings the rest.
    let fetched = StoredValue::new(None::<uuid::Uuid>);
    Effect::new(move |_| {
        let Some(op) = detail.ok().and_then(|d| d.operation_id) else {
            return;
        };
        if fetched.get_value() != Some(op) && feed.operation(op).is_none() {
            fetched.set_value(Some(op));
            leptos::task::spawn_local(async move {
                if let Ok(found) = api::operation(op).await {
                    feed.record(found);
                }
            });
        }
    });
    let operation = Signal::derive(move || detail.ok().and_then(|d| d.operation_id));
    let initial = summary.clone();
    let current = Memo::new(move |_| detail.ok().map(|d| d.summary).unwrap_or(initial.clone()));
    let state = Memo::new(move |_| current.with(|s| s.state));
    // Keyed on the state alone, so a reload never rebuilds the buttons (and the typed comment).
    let pending = Memo::new(move |_| {
        detail
            .ok()
            .is_some_and(|d| d.summary.state == ChangeRequestState::Pending)
    });
    // The answer shows at once; then the request is read again, because the feed may have
    // brought a later state (applied) before this answer arrived, and showing the answer
    // replaced what that brought.
    let on_decided = Callback::new(move |answer: ChangeRequestDetail| {
        detail.show(answer);
        detail.load(api::change_request(id));
    });

    let audit_trail = api::audit_page_href(&shared::api::AuditQuery {
        change_request: Some(id.to_string()),
        ..Default::default()
    });
    let endpoint = summary.endpoint.to_string();
    let link = show_endpoint.then(|| {
        view! {
            " on " <a href=format!("/endpoints/{endpoint}") data-testid="cr-endpoint-link">{endpoint.clone()}</a>
        }
    });
    view! {
        <article class="change-request" data-testid="change-request" data-request-id=id.to_string()
            data-state=move || state.get().as_str()>
            <header class="cr-head">
                <span class=move || format!("badge {}", state.get().as_str()) data-testid="cr-state">
                    {move || state.get().as_str()}
                </span>
                <strong data-testid="cr-what">{describe(&summary.change)}</strong>
                {link}
                <span class="muted" data-testid="cr-outcome">{move || outcome(state.get())}</span>
                <a href=audit_trail data-testid="cr-audit-link">"Audit trail"</a>
            </header>
            <p class="cr-meta">
                "Requested by " <strong data-testid="cr-requester">{summary.requester.to_string()}</strong>
                " at " {clock(summary.created_at)} ": "
                <q data-testid="cr-reason">{summary.reason.clone()}</q>
            </p>
            <p class="cr-meta">
                "Approvals "
                <span data-testid="cr-approvals">{move || current.with(|s| format!("{} / {}", s.approval_count, s.required_approvals))}</span>
                {move || detail.ok().filter(|d| !d.approvals.is_empty()).map(|d| {
                    let names: Vec<String> = d.approvals.iter().map(decision_text).collect();
                    view! { " — " <span data-testid="cr-approvers">{names.join("; ")}</span> }
                })}
                {move || (state.get() == ChangeRequestState::Pending).then(|| view! {
                    " · expires " <time data-testid="cr-expires">{clock(summary.expires_at)}</time>
                })}
            </p>
            {move || detail.ok().and_then(|d| d.diff).map(|diff| view! { <TrafficDiffView diff=diff /> })}
            {move || detail.ok().and_then(|d| d.rejection).map(|r| view! {
                <p class="error" data-testid="cr-rejection">"Rejected by " {decision_text(&r)}</p>
            })}
            {move || detail.ok().and_then(|d| d.break_glass).map(|b| view! {
                <p class="notice" data-testid="cr-break-glass">"Applied without approvals (break glass) by " {decision_text(&b)}</p>
            })}
            {move || detail.ok().and_then(|d| d.stale).map(|diff| view! { <StaleView diff=diff /> })}
            {move || detail.error().map(|error| view! { <ErrorNote error=error /> })}
            <TrackedOperation id=operation />
            {move || pending.get().then(|| view! {
                <crate::components::freeze_banner::FreezeBanner endpoint=summary.endpoint.to_string() upcoming=false testid="cr-freeze" />
            })}
            {move || (pending.get() && sees_decisions()).then(|| view! {
                <Decide id=id detail=Signal::derive(move || detail.ok()) on_decided=on_decided />
            })}
        </article>
    }
}
