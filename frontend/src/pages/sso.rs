//! Single sign-on on the sign-in page: a "Sign in with …" button when the server has an
//! OpenID Connect provider, and why the last attempt was refused when the provider sent the
//! browser back with `?sso_error=`.

use crate::api::ApiError;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use shared::api::{SignInMethods, SsoError, SSO_ERROR_PARAM};

#[component]
pub fn SsoSignIn(methods: LocalResource<Result<SignInMethods, ApiError>>) -> impl IntoView {
    let params = use_query_map();
    let refused = move || {
        params.with(|p| p.get(SSO_ERROR_PARAM)).map(|code| {
            SsoError::parse(&code).map_or_else(
                || format!("Single sign-on failed ({code})."),
                |error| error.message().to_owned(),
            )
        })
    };
    view! {
        {move || refused().map(|message| view! {
            <p class="error" role="alert" data-testid="sso-error">{message}</p>
        })}
        {move || methods.get().and_then(Result::ok).and_then(|m| m.sso).map(|sso| view! {
            <section class="card sso">
                // A full navigation (`rel=external` keeps the router out): the browser itself
                // goes to the provider and back.
                <a class="button" rel="external" href=sso.start_url data-testid="sso-sign-in">
                    {format!("Sign in with {}", sso.display_name)}
                </a>
            </section>
        })}
    }
}
