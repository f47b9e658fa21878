//! The endpoint's identity card: state, authentication, scoring URI (with copy), and asking for
//! the endpoint to be deleted (a change request: it goes once approved).

use super::{is_operator, use_endpoint};
use crate::api;
use crate::components::change_request::RequestStatus;
use crate::components::confirm_delete::ConfirmDelete;
use crate::events::use_feed;
use crate::remote::ErrorNote;
use crate::submit::AnswerExt;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use shared::rollout::ChangeRequestState;

#[component]
pub fn Overview() -> impl IntoView {
    let data = use_endpoint();
    let feed = use_feed();
    let navigate = use_navigate();
    let copied = RwSignal::new(None::<String>);
    let delete = Action::new_local(move |reason: &String| {
        let (name, reason) = (data.name(), reason.clone());
        async move {
            let request = api::delete_endpoint(&name, &reason).await?;
            feed.record_request(request.summary.clone());
            Ok::<_, api::ApiError>(request)
        }
    });
    let pending = delete.pending();
    let answer = delete.value();
    let requested = Signal::derive(move || answer.accepted(|d| d.summary.id));

    // Once the deletion we asked for is applied, the page has nothing left to show: back to
    // the list.
    Effect::new(move |_| {
        let done = requested
            .get()
            .and_then(|id| feed.request(id))
            .is_some_and(|r| r.state == ChangeRequestState::Applied);
        if done {
            navigate("/", NavigateOptions::default());
        }
    });

    let copy = move |_| {
        if let Some(uri) = data.endpoint.ok().and_then(|e| e.scoring_uri) {
            crate::components::clipboard::copy(&uri, "URI", copied);
        }
    };
    let confirmed = Callback::new(move |reason: String| {
        delete.dispatch_local(reason);
    });

    view! {
        <section class="card overview" aria-label="Endpoint overview">
            {move || data.endpoint.ok().map(|e| view! {
                <dl class="facts">
                    <div><dt>"State"</dt><dd data-testid="endpoint-state">{e.provisioning_state.unwrap_or_default()}</dd></div>
                    <div><dt>"Authentication"</dt><dd data-testid="endpoint-auth">{e.auth_mode.unwrap_or_default()}</dd></div>
                    <div class="grow">
                        <dt>"Scoring URI"</dt>
                        <dd class="uri">
                            <code data-testid="scoring-uri">{e.scoring_uri.unwrap_or_else(|| "not yet assigned".into())}</code>
                            <button type="button" class="secondary small" data-testid="copy-scoring-uri"
                                aria-label="Copy the scoring URI" on:click=copy>"Copy"</button>
                            <span class="muted" role="status">{move || copied.get()}</span>
                        </dd>
                    </div>
                </dl>
            })}
            {move || is_operator().then(|| view! {
                <div class="actions">
                    <ConfirmDelete what="endpoint" name=data.name() blocked=Signal::derive(|| None::<String>) busy=pending on_confirm=confirmed />
                </div>
            })}
            {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error /> })}
            <RequestStatus id=requested what="deletion" />
        </section>
    }
}
