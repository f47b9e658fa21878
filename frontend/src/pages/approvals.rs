//! The Approvals inbox: every change request waiting for approval, across endpoints, each
//! linking to its endpoint — and the live count in the top bar that leads here.

use crate::api;
use crate::components::change_request::ChangeRequests;
use crate::events::use_feed;
use crate::pages::SignedIn;
use crate::remote::Remote;
use leptos::prelude::*;
use shared::api::change_requests::ChangeRequestList;
use shared::rollout::ChangeRequestState;

/// How many pending requests the badge counts exactly; beyond, it says "100+".
const COUNTED: u32 = 100;

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    view! {
        <SignedIn>
            <main class="page wide">
                <p class="crumbs"><a href="/">"Endpoints"</a> " / Approvals"</p>
                <h1>"Approvals"</h1>
                <section class="card" aria-label="Change requests waiting for approval" data-testid="approvals">
                    <p class="muted">
                        "Every traffic change and every delete waits here until enough people other than its requester approve it. One rejection ends it."
                    </p>
                    <ChangeRequests endpoint=None />
                </section>
            </main>
        </SignedIn>
    }
}

/// The top bar's link to the inbox, with the number of pending requests, kept live.
#[component]
pub fn ApprovalsLink() -> impl IntoView {
    let feed = use_feed();
    let pending = Remote::<ChangeRequestList>::new();
    let moved = Memo::new(move |_| feed.requests_where(|_| true));
    Effect::new(move |_| {
        // Read, not just tracked: a memo never read never subscribes to its sources.
        moved.with(|_| ());
        pending.load(api::change_requests(
            Some(ChangeRequestState::Pending),
            None,
            COUNTED,
        ));
    });
    let count = move || {
        pending.ok().map(|list| match list.next {
            Some(_) => format!("{COUNTED}+"),
            None => list.items.len().to_string(),
        })
    };
    view! {
        <a href="/approvals" data-testid="nav-approvals">
            "Approvals "
            <span class="count-badge" data-testid="approvals-count"
                aria-label=move || format!("{} waiting", count().unwrap_or_default())>
                {count}
            </span>
        </a>
    }
}
