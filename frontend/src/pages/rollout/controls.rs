//! Pause / Resume / Abort / Roll back. Each button is enabled by the very state machine the
//! server applies (`RolloutState::next`), and a disabled one says why in its title. Abort and
//! roll back move live traffic without approval, so they ask for a reason first (the rule of
//! `RolloutActionRequest::check`).

use crate::api::{self, ApiError};
use crate::pages::current_role;
use crate::remote::ErrorNote;
use crate::submit::AnswerExt;
use leptos::prelude::*;
use shared::api::rollouts::{RolloutActionRequest, RolloutDetail};
use shared::rollout::{RolloutEvent, RolloutState};
use shared::Role;
use uuid::Uuid;

fn label(event: RolloutEvent) -> &'static str {
    match event {
        RolloutEvent::Pause => "Pause",
        RolloutEvent::Resume => "Resume",
        RolloutEvent::Abort => "Abort",
        _ => "Roll back",
    }
}

fn testid(event: RolloutEvent) -> &'static str {
    match event {
        RolloutEvent::Pause => "rollout-pause",
        RolloutEvent::Resume => "rollout-resume",
        RolloutEvent::Abort => "rollout-abort",
        _ => "rollout-rollback",
    }
}

/// The controls of rollout `id`, whose state is `state`; `on_done` gets the API's answer.
#[component]
pub fn Controls(
    id: Uuid,
    #[prop(into)] state: Signal<Option<RolloutState>>,
    on_done: Callback<RolloutDetail>,
) -> impl IntoView {
    let steer = Action::new_local(move |(event, reason): &(RolloutEvent, Option<String>)| {
        let (event, reason) = (*event, reason.clone());
        async move {
            let answer = api::steer_rollout(id, event, reason).await?;
            on_done.run(answer.clone());
            Ok::<RolloutDetail, ApiError>(answer)
        }
    });
    let sending = steer.pending();
    let answer = steer.value();
    // The action waiting for its reason (abort or rollback), if its box is open.
    let asking = RwSignal::new(None::<RolloutEvent>);
    let reason = RwSignal::new(String::new());
    // Why `event` can't be sent now; `None` when it can.
    let refused = move |event: RolloutEvent| -> Option<String> {
        let Some(state) = state.get() else {
            return Some("loading…".into());
        };
        state.next(event).err().map(|e| e.to_string())
    };
    // A rollout that ended closes the box: nothing to abort any more.
    Effect::new(move |_| {
        if let Some(event) = asking.get() {
            if refused(event).is_some() {
                asking.set(None);
            }
        }
    });
    let button = move |event: RolloutEvent| {
        view! {
            <button type="button" data-testid=testid(event)
                class=if event.needs_reason() { "danger-outline" } else { "secondary" }
                title=move || refused(event).unwrap_or_default()
                disabled=move || sending.get() || refused(event).is_some()
                on:click=move |_| {
                    if event.needs_reason() {
                        reason.set(String::new());
                        asking.set(Some(event));
                    } else {
                        steer.dispatch_local((event, None));
                    }
                }>
                {if event.needs_reason() { format!("{}…", label(event)) } else { label(event).to_owned() }}
            </button>
        }
    };
    let reason_ok = move |event: RolloutEvent| {
        RolloutActionRequest {
            reason: Some(reason.get().trim().to_owned()),
        }
        .check(event)
        .is_ok()
    };
    let operator = move || current_role().is_some_and(|r| r.allows(Role::Operator));

    view! {
        {move || operator().then(|| view! {
            <div class="rollout-controls" data-testid="rollout-controls">
                <div class="actions">
                    {button(RolloutEvent::Pause)}
                    {button(RolloutEvent::Resume)}
                    {button(RolloutEvent::Abort)}
                    {button(RolloutEvent::Rollback)}
                </div>
                {move || asking.get().map(|event| view! {
                    <div class="confirm-box" role="group" aria-label=format!("{} the rollout", label(event))>
                        <p class="muted">"Back to the split the endpoint had before the rollout, mirror off, at once and without approval."</p>
                        <label class="grow">
                            "Reason (required, for the audit log)"
                            <input data-testid="rollout-action-reason" autocomplete="off" bind:value=reason
                                on:keydown=move |ev| if ev.key() == "Escape" { asking.set(None) } />
                        </label>
                        <button type="button" class="danger" data-testid="rollout-action-confirm"
                            disabled=move || sending.get() || !reason_ok(event)
                            on:click=move |_| {
                                asking.set(None);
                                steer.dispatch_local((event, Some(reason.get_untracked().trim().to_owned())));
                            }>
                            {label(event)}
                        </button>
                        <button type="button" class="secondary" data-testid="rollout-action-cancel"
                            on:click=move |_| asking.set(None)>"Cancel"</button>
                    </div>
                })}
                {move || answer.refused(sending).map(|error| view! { <ErrorNote error=error testid="rollout-action-error" /> })}
            </div>
        })}
    }
}
