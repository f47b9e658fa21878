//! One request followed where it was made: "change requested — waiting for approval (0 / 1)",
//! then how it ended. It reads the live feed only, so it costs no request of its own.

use super::outcome;
use crate::events::use_feed;
use leptos::prelude::*;
use shared::rollout::ChangeRequestState;
use uuid::Uuid;

/// The state of the request `id` (nothing while `id` is empty); `what` names it ("change",
/// "deletion").
#[component]
pub fn RequestStatus(#[prop(into)] id: Signal<Option<Uuid>>, what: &'static str) -> impl IntoView {
    let feed = use_feed();
    move || {
        let request = id.get().and_then(|id| feed.request(id))?;
        let state = request.state;
        let text = if state == ChangeRequestState::Pending {
            format!(
                "{what} requested — waiting for approval ({} / {})",
                request.approval_count, request.required_approvals
            )
        } else {
            format!("{what} request {}", outcome(state))
        };
        Some(view! {
            <p class="request-status" role="status" data-testid="change-request-status"
                data-state=state.as_str() data-request-id=request.id.to_string()>
                <span class=format!("badge {}", state.as_str())>{state.as_str()}</span>
                " " {text}
            </p>
        })
    }
}
