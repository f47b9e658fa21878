//! Which pages load with the console and which load on demand.
//!
//! The start page and sign-in are in the first download; every other page is a lazy route: its
//! code is split out of the main wasm by `scripts/build-ui.sh` (wasm-split) into a chunk the
//! browser fetches the first time the page opens. That keeps the first load small: a viewer
//! who only watches the endpoints never downloads the audit review or the rollout editor.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

/// Declares `$route`, a lazy route whose view is the page component `$page`. The pages load
/// their own data, so a route carries none.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $page:path) => {
        $(#[$doc])*
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_route: Self) -> AnyView {
                $page().into_any()
            }
        }
    };
}

lazy_page!(
    /// One endpoint: traffic, deployments, change requests, rollouts.
    EndpointRoute => crate::pages::endpoint::EndpointPage
);
lazy_page!(
    /// The admin's user list.
    UsersRoute => crate::pages::users::UsersPage
);
lazy_page!(
    /// Freeze windows.
    FreezeRoute => crate::pages::freeze::FreezePage
);
lazy_page!(
    /// Webhooks and their deliveries.
    WebhooksRoute => crate::pages::webhooks::WebhooksPage
);
lazy_page!(
    /// The approvals inbox.
    ApprovalsRoute => crate::pages::approvals::ApprovalsPage
);
lazy_page!(
    /// The audit review.
    AuditRoute => crate::pages::audit::AuditPage
);
lazy_page!(
    /// One rollout session.
    RolloutRoute => crate::pages::rollout::RolloutPage
);
lazy_page!(
    /// Changing one's password.
    PasswordRoute => crate::pages::password::PasswordPage
);
lazy_page!(
    /// API tokens.
    TokensRoute => crate::pages::tokens::TokensPage
);
