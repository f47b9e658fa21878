//! "Frozen until … — reason": the freeze window in force on an endpoint, and the next one to
//! come, on the endpoint's page and on each pending change request of it.

use crate::api;
use crate::components::change_request::clock;
use crate::events::use_feed;
use crate::remote::Remote;
use leptos::prelude::*;
use shared::api::freeze::EndpointFreeze;

#[component]
pub fn FreezeBanner(
    endpoint: String,
    /// Whether to show the next window when none is in force (the endpoint page does).
    #[prop(default = true)]
    upcoming: bool,
    /// The banner's `data-testid`.
    #[prop(default = "freeze-banner")]
    testid: &'static str,
) -> impl IntoView {
    let feed = use_feed();
    let freeze = Remote::<EndpointFreeze>::new();
    // The stream may have missed a window set meanwhile: read again on every (re)opening.
    let connected = Memo::new(move |_| feed.connected.get());
    Effect::new(move |_| {
        connected.with(|_| ());
        let endpoint = endpoint.clone();
        freeze.load(async move { api::endpoint_freeze(&endpoint).await });
    });
    move || {
        let found = freeze.ok()?;
        if let Some(active) = found.active {
            return Some(
                view! {
                    <p class="notice freeze" role="status" data-testid=testid
                        data-window-id=active.window_id.to_string()>
                        <strong>{active.sentence()}</strong>
                        " · no change is applied until then; rolling back to the known-good split still is."
                    </p>
                }
                .into_any(),
            );
        }
        let next = found.upcoming.filter(|_| upcoming)?;
        Some(
            view! {
                <p class="muted freeze" data-testid="freeze-upcoming">
                    {format!("Next freeze: {} to {} — {}", clock(next.starts_at), clock(next.ends_at), next.reason)}
                </p>
            }
            .into_any(),
        )
    }
}
