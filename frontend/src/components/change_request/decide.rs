//! Approve / Reject on a pending request. Each button is disabled with the very refusal the API
//! would answer (`shared::rollout::approve` / `reject`, self-approval first), so the requester
//! reads why they can't approve their own change instead of meeting a 403.

use super::now;
use crate::api::{self, ApiError};
use crate::events::use_feed;
use crate::remote::ErrorNote;
use crate::session::{use_session, SessionState};
use crate::submit::AnswerExt;
use leptos::prelude::*;
use shared::api::change_requests::{ApproveRequest, ChangeRequestDetail, RejectRequest};
use shared::rollout::{approve, reject, Actor};
use uuid::Uuid;

/// A decision on its way.
#[derive(Debug, Clone)]
enum Decision {
    Approve(Option<String>),
    Reject(String),
}

/// The signed-in user as the approval rules take them (tracked).
fn actor() -> Option<Actor> {
    match use_session().get() {
        SessionState::SignedIn(info) => Some(Actor {
            username: info.user.username,
            role: info.user.role,
        }),
        _ => None,
    }
}

/// The buttons for `detail`; `on_decided` gets the API's answer (the request as it now is).
#[component]
pub fn Decide(
    id: Uuid,
    /// The request as last loaded.
    #[prop(into)]
    detail: Signal<Option<ChangeRequestDetail>>,
    on_decided: Callback<ChangeRequestDetail>,
) -> impl IntoView {
    let feed = use_feed();
    let comment = RwSignal::new(String::new());
    let decide = Action::new_local(move |decision: &Decision| {
        let decision = decision.clone();
        async move {
            let answer = match decision {
                Decision::Approve(comment) => api::approve(id, &ApproveRequest { comment }).await,
                Decision::Reject(comment) => {
                    api::reject(
                        id,
                        &RejectRequest {
                            comment: Some(comment),
                        },
                    )
                    .await
                }
            }?;
            comment.set(String::new());
            feed.record_request(answer.summary.clone());
            on_decided.run(answer.clone());
            Ok::<_, ApiError>(answer)
        }
    });
    let sending = decide.pending();
    let answer = decide.value();

    let typed = move || Some(comment.get()).filter(|c| !c.trim().is_empty());
    // Why each button is disabled, in the rules' words.
    let rules = move || detail.with(|d| d.as_ref().map(ChangeRequestDetail::rule_input));
    let approve_blocked = move || -> Option<String> {
        let actor = actor()?;
        let Some(request) = rules() else {
            return Some("loading…".into());
        };
        if sending.get() {
            return Some("sending…".into());
        }
        if let Err(refused) = approve(&request, &actor, now()) {
            return Some(refused.to_string());
        }
        ApproveRequest { comment: typed() }
            .check()
            .err()
            .and_then(|e| e.into_iter().next().map(|e| e.message))
    };
    let reject_blocked = move || -> Option<String> {
        let actor = actor()?;
        let Some(request) = rules() else {
            return Some("loading…".into());
        };
        if sending.get() {
            return Some("sending…".into());
        }
        if let Err(refused) = reject(&request, &actor, now()) {
            return Some(refused.to_string());
        }
        RejectRequest { comment: typed() }
            .check()
            .err()
            .map(|_| "say why in the comment to reject".to_owned())
    };
    let can_approve = Memo::new(move |_| approve_blocked().is_none());
    let can_reject = Memo::new(move |_| reject_blocked().is_none());
    // Shown once: the approve reason when approving is refused by the rules, else the reject one.
    let reason = move || {
        approve_blocked()
            .or_else(reject_blocked)
            .unwrap_or_default()
    };
    let described = format!("cr-decide-reason-{id}");

    view! {
        <div class="cr-decide" data-testid="cr-decide">
            <label class="grow">
                "Comment (required to reject)"
                <input data-testid="cr-comment" autocomplete="off" bind:value=comment />
            </label>
            <div class="actions">
                <button type="button" data-testid="cr-approve" aria-describedby=described.clone()
                    disabled=move || !can_approve.get()
                    on:click=move |_| { decide.dispatch_local(Decision::Approve(typed())); }>
                    "Approve"
                </button>
                <button type="button" class="danger-outline" data-testid="cr-reject" aria-describedby=described.clone()
                    disabled=move || !can_reject.get()
                    on:click=move |_| {
                        if let Some(c) = typed() { decide.dispatch_local(Decision::Reject(c)); }
                    }>
                    "Reject"
                </button>
                <span class="muted" id=described data-testid="cr-decide-reason">{reason}</span>
            </div>
            {move || answer.refused(sending).map(|error| view! { <ErrorNote error=error testid="cr-refused" /> })}
        </div>
    }
}
