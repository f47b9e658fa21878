//! The hash chain's state, always on top of the audit page: "verified up to #N", or the first
//! broken event in red. The server verifies only what was added since its last look, so asking
//! again is cheap.

use crate::api;
use crate::components::change_request::clock;
use crate::remote::{ErrorNote, Remote};
use leptos::prelude::*;
use shared::api::AuditChainState;

#[component]
pub fn ChainState() -> impl IntoView {
    let state = Remote::<AuditChainState>::new();
    state.load(api::audit_chain());
    let shown = move || {
        state.ok().map(|chain| match (&chain.broken, chain.verified_up_to) {
            (Some(broken), _) => view! {
                <p class="error" role="alert" data-testid="audit-chain" data-state="broken">
                    <strong>{format!("Chain broken at event #{}", broken.id)}</strong>
                    {format!(": {}.", broken.reason)}
                </p>
            }
            .into_any(),
            (None, Some(id)) => view! {
                <p class="notice" data-testid="audit-chain" data-state="verified">
                    {format!("✓ Chain verified up to #{id}")}
                    {chain.verified_event_at.map(|at| format!(" at {}", clock(at)))}
                    {format!(" ({} events; checked {})", chain.verified_events, clock(chain.checked_at))}
                </p>
            }
            .into_any(),
            (None, None) => view! {
                <p class="muted" data-testid="audit-chain" data-state="empty">"The audit log is empty."</p>
            }
            .into_any(),
        })
    };
    view! {
        <section aria-label="Hash chain" class="audit-chain">
            {shown}
            {move || state.error().map(|error| view! { <ErrorNote error=error /> })}
            <button type="button" class="secondary small" data-testid="audit-chain-check"
                on:click=move |_| state.load(api::audit_chain())>"Check again"</button>
        </section>
    }
}
