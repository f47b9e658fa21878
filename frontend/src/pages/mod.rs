//! The console's pages, and what every page has: the top bar and the sign-in guard.

pub mod approvals;
pub mod audit;
pub mod endpoint;
pub mod endpoints;
pub mod freeze;
pub mod password;
pub mod rollout;
mod sso;
pub mod tokens;
pub mod users;
pub mod webhooks;

use crate::api;
use crate::events::use_feed;
use crate::remote::ErrorNote;
use crate::session::{use_session, SessionState};
use crate::submit::AnswerExt;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use shared::Role;

/// The top bar: product name, the live feed's state, the Approvals inbox with its live count,
/// and the signed-in user and role with a sign-out button — visible on every page.
#[component]
pub fn TopBar() -> impl IntoView {
    let session = use_session();
    let feed = use_feed();
    let navigate = use_navigate();
    let sign_out = Action::new_local(move |_: &()| {
        let navigate = navigate.clone();
        async move {
            // Signed out on the server or not, the console forgets the session.
            let _ = api::sign_out().await;
            session.set(SessionState::SignedOut);
            navigate("/signin", NavigateOptions::default());
        }
    });
    let signing_out = sign_out.pending();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Greenlight"</a>
            {move || match session.get() {
                SessionState::SignedIn(info) => view! {
                    <span class="who">
                        <span class="live" data-testid="live-feed"
                            data-connected=move || feed.connected.get().to_string()
                            title=move || if feed.connected.get() { "Live updates on" } else { "Live updates reconnecting…" }>
                            {move || if feed.connected.get() { "● live" } else { "○ offline" }}
                        </span>
                        <nav aria-label="Console">
                            // A one-time-password session may read nothing else yet.
                            {(!info.user.must_change_password).then(|| view! { <approvals::ApprovalsLink /> })}
                            {(!info.user.must_change_password).then(|| view! {
                                <a href="/audit" data-testid="nav-audit">"Audit"</a>
                            })}
                            {(!info.user.must_change_password).then(|| view! {
                                <a href="/freeze-windows" data-testid="nav-freeze">"Freeze windows"</a>
                            })}
                            {info.user.role.allows(Role::Admin).then(|| view! {
                                <a href="/users" data-testid="nav-users">"Users"</a>
                            })}
                            {(!info.user.must_change_password).then(|| view! {
                                <a href="/tokens" data-testid="nav-tokens">"API tokens"</a>
                            })}
                            {info.user.role.allows(Role::Admin).then(|| view! {
                                <a href="/webhooks" data-testid="nav-webhooks">"Webhooks"</a>
                            })}
                            <a href="/password" data-testid="nav-password">"Password"</a>
                        </nav>
                        <span data-testid="current-user">{info.user.username.to_string()}</span>
                        <span class="role" data-testid="current-role">{info.user.role.to_string()}</span>
                        <button type="button" data-testid="sign-out" disabled=move || signing_out.get()
                            on:click=move |_| { sign_out.dispatch_local(()); }>"Sign out"</button>
                    </span>
                }
                .into_any(),
                _ => ().into_any(),
            }}
        </header>
    }
}

/// The signed-in user's role, or `None` (tracked).
pub fn current_role() -> Option<Role> {
    match use_session().get() {
        SessionState::SignedIn(info) => Some(info.user.role),
        _ => None,
    }
}

/// Shows `children` to signed-in users; sends everyone else to the sign-in page. A session
/// opened with a one-time password sees only the form to change it: the server refuses
/// everything else until then.
#[component]
pub fn SignedIn(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if session.get() == SessionState::SignedOut {
            navigate("/signin", NavigateOptions::default());
        }
    });
    view! {
        <TopBar />
        {move || match session.get() {
            SessionState::SignedIn(info) if info.user.must_change_password => view! {
                <main class="page narrow"><password::PasswordForm forced=true /></main>
            }
            .into_any(),
            SessionState::SignedIn(_) => children().into_any(),
            _ => view! { <main class="page"><p class="muted">"Loading…"</p></main> }.into_any(),
        }}
    }
}

/// The sign-in form.
#[component]
pub fn SignIn() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());

    let sign_in = Action::new_local(move |(name, secret): &(String, String)| {
        let (name, secret, navigate) = (name.clone(), secret.clone(), navigate.clone());
        async move {
            let answer = api::sign_in(name, secret).await;
            match &answer {
                Ok(info) => {
                    session.set(SessionState::SignedIn(info.clone()));
                    navigate("/", NavigateOptions::default());
                }
                Err(_) => password.set(String::new()),
            }
            answer
        }
    });
    let pending = sign_in.pending();
    let answer = sign_in.value();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if !pending.get_untracked() {
            sign_in.dispatch_local((username.get_untracked(), password.get_untracked()));
        }
    };

    // Until the server has said which methods there are, the password form shows (it always
    // did); with local accounts off it goes, leaving the single sign-on button.
    let methods = LocalResource::new(api::sign_in_methods);
    let local_accounts = move || {
        methods
            .get()
            .and_then(Result::ok)
            .is_none_or(|m| m.local_accounts)
    };

    view! {
        <TopBar />
        <main class="page narrow">
            <h1>"Sign in"</h1>
            <sso::SsoSignIn methods=methods />
            <form class="card" on:submit=submit hidden=move || !local_accounts()>
                <label>
                    "User name"
                    <input
                        name="username"
                        data-testid="username"
                        autocomplete="username"
                        required
                        bind:value=username
                    />
                </label>
                <label>
                    "Password"
                    <input
                        name="password"
                        type="password"
                        data-testid="password"
                        autocomplete="current-password"
                        required
                        bind:value=password
                    />
                </label>
                {move || answer.refused(pending).map(|error| view! {
                    <ErrorNote error=error testid="sign-in-error" />
                })}
                <button type="submit" data-testid="sign-in" disabled=move || pending.get()>
                    {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <TopBar />
        <main class="page">
            <h1>"Not found"</h1>
            <p><a href="/">"Back to the console"</a></p>
        </main>
    }
}
