//! The Greenlight console: a Leptos client-side-rendered app, served by the backend as wasm.

mod api;
mod components;
mod events;
mod pages;
mod remote;
mod session;
mod submit;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// Mounts the console on `<body>`.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
pub fn App() -> impl IntoView {
    session::provide();
    events::provide();
    view! {
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/") view=pages::endpoints::EndpointsPage />
                <Route path=path!("/endpoints/:name") view=pages::endpoint::EndpointPage />
                <Route path=path!("/signin") view=pages::SignIn />
                <Route path=path!("/users") view=pages::users::UsersPage />
                <Route path=path!("/freeze-windows") view=pages::freeze::FreezePage />
                <Route path=path!("/webhooks") view=pages::webhooks::WebhooksPage />
                <Route path=path!("/approvals") view=pages::approvals::ApprovalsPage />
                <Route path=path!("/audit") view=pages::audit::AuditPage />
                <Route path=path!("/rollouts/:id") view=pages::rollout::RolloutPage />
                <Route path=path!("/password") view=pages::password::PasswordPage />
                <Route path=path!("/tokens") view=pages::tokens::TokensPage />
            </Routes>
        </Router>
    }
}
