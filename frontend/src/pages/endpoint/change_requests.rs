//! The endpoint's pending change requests, with Approve / Reject for approvers, and its approval
//! policy (how many approvers a change needs; admins change it).

use super::use_endpoint;
use crate::api::{self, ApiError};
use crate::components::change_request::ChangeRequests;
use crate::pages::current_role;
use crate::remote::{ErrorNote, Remote};
use crate::submit::AnswerExt;
use leptos::prelude::*;
use shared::api::change_requests::EndpointPolicy;
use shared::Role;

#[component]
pub fn ChangeRequestsPanel() -> impl IntoView {
    let data = use_endpoint();
    view! {
        <section class="card" aria-labelledby="change-requests-title" data-testid="change-requests">
            <h2 id="change-requests-title">"Change requests"</h2>
            <Policy />
            <ChangeRequests endpoint=Some(data.name()) />
        </section>
    }
}

/// "Every change needs 1 approval", and for admins a box to change it.
#[component]
fn Policy() -> impl IntoView {
    let data = use_endpoint();
    let policy = Remote::<EndpointPolicy>::new();
    // Only once the endpoint is there: while it is being created there is no policy to read.
    let loaded = StoredValue::new(false);
    Effect::new(move |_| {
        if data.endpoint.ok().is_some() && !loaded.get_value() {
            loaded.set_value(true);
            let name = data.name();
            policy.load(async move { api::policy(&name).await });
        }
    });
    let typed = RwSignal::new(String::new());
    let save = Action::new_local(move |wanted: &EndpointPolicy| {
        let (name, wanted) = (data.name(), *wanted);
        async move {
            let saved = api::set_policy(&name, &wanted).await?;
            policy.show(saved);
            typed.set(String::new());
            Ok::<_, ApiError>(saved)
        }
    });
    let saving = save.pending();
    let answer = save.value();
    let wanted = move || {
        let count = typed.get().trim().parse::<u32>().ok()?;
        let wanted = EndpointPolicy {
            required_approvals: count,
        };
        wanted.check().ok().map(|()| wanted)
    };
    let admin = move || current_role().is_some_and(|r| r.allows(Role::Admin));
    view! {
        {move || policy.ok().map(|p| {
            let n = p.required_approvals;
            view! {
                <p class="muted" data-testid="policy-required" data-required=n.to_string()>
                    {format!("Every traffic change and delete here needs {n} approval{} from someone other than its requester.",
                        if n == 1 { "" } else { "s" })}
                </p>
            }
        })}
        {move || policy.error().map(|error| view! { <ErrorNote error=error /> })}
        {move || admin().then(|| view! {
            <div class="row">
                <label>
                    "Approvals needed (1–5)"
                    <input type="number" min="1" max="5" step="1" inputmode="numeric" class="count"
                        data-testid="policy-input" bind:value=typed />
                </label>
                <button type="button" class="secondary" data-testid="policy-save"
                    disabled=move || saving.get() || wanted().is_none()
                    on:click=move |_| { if let Some(w) = wanted() { save.dispatch_local(w); } }>
                    "Save policy"
                </button>
            </div>
        })}
        {move || answer.refused(saving).map(|error| view! { <ErrorNote error=error /> })}
    }
}
