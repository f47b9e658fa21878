//! The Greenlight console: a Leptos client-side-rendered app, served by the backend as wasm.

mod api;
mod chunks;
mod components;
mod events;
mod pages;
mod remote;
mod routes;
mod session;
mod submit;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, Lazy};
use routes::*;

/// Mounts the console on `<body>`.
pub fn start() {
    chunks::install_panic_hook();
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
                <Route path=path!("/endpoints/:name") view={Lazy::<EndpointRoute>::new()} />
                <Route path=path!("/signin") view=pages::SignIn />
                <Route path=path!("/users") view={Lazy::<UsersRoute>::new()} />
                <Route path=path!("/freeze-windows") view={Lazy::<FreezeRoute>::new()} />
                <Route path=path!("/webhooks") view={Lazy::<WebhooksRoute>::new()} />
                <Route path=path!("/approvals") view={Lazy::<ApprovalsRoute>::new()} />
                <Route path=path!("/audit") view={Lazy::<AuditRoute>::new()} />
                <Route path=path!("/rollouts/:id") view={Lazy::<RolloutRoute>::new()} />
                <Route path=path!("/password") view={Lazy::<PasswordRoute>::new()} />
                <Route path=path!("/tokens") view={Lazy::<TokensRoute>::new()} />
            </Routes>
        </Router>
    }
}
