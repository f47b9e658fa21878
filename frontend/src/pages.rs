//! The console's pages.

use crate::api;
use crate::session::{use_session, SessionState};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

/// The top bar: product name, and the signed-in user with a sign-out button.
#[component]
fn TopBar() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let sign_out = move |_| {
        let navigate = navigate.clone();
        if let SessionState::SignedIn(info) = session.get_untracked() {
            leptos::task::spawn_local(async move {
                // Signed out on the server or not, the console forgets the session.
                let _ = api::sign_out(&info).await;
                session.set(SessionState::SignedOut);
                navigate("/signin", NavigateOptions::default());
            });
        }
    };
    view! {
        <header class="topbar">
            <span class="brand">"Greenlight"</span>
            {move || match session.get() {
                SessionState::SignedIn(info) => view! {
                    <span class="who">
                        <span data-testid="current-user">{info.user.username.to_string()}</span>
                        <span class="role" data-testid="current-role">{info.user.role.to_string()}</span>
                        <button data-testid="sign-out" on:click=sign_out.clone()>"Sign out"</button>
                    </span>
                }
                .into_any(),
                _ => ().into_any(),
            }}
        </header>
    }
}

/// Home: what this instance is and whether it is healthy. Sends visitors who are not signed
/// in to the sign-in page.
#[component]
pub fn Home() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if session.get() == SessionState::SignedOut {
            navigate("/signin", NavigateOptions::default());
        }
    });
    let health = LocalResource::new(api::health);
    let about = LocalResource::new(api::about);
    view! {
        <TopBar />
        <main class="page">
            <h1>"Rollouts"</h1>
            <p>
                "Greenlight guides a new model version from 0 % to all traffic: deploy it beside the live one, "
                "test it, mirror traffic to it, shift traffic in approved steps, then retire the old one."
            </p>
            <section class="card">
                <h2>"This instance"</h2>
                <Suspense fallback=|| view! { <p>"Checking…"</p> }>
                    {move || health.get().map(|result| match result {
                        Ok(h) => view! {
                            <p data-testid="health">
                                "Server " {h.status} " · database " {h.database} " · version " {h.version}
                            </p>
                        }.into_any(),
                        Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
                    })}
                    {move || about.get().map(|result| match result {
                        Ok(about) => match about.local_workspace {
                            Some(local) => view! {
                                <p data-testid="local-workspace">
                                    "Local workspace (Azure ML emulator): ARM API "
                                    <code>{local.arm_url}</code>
                                    ", scoring "
                                    <code>{local.scoring_url}</code>
                                </p>
                            }.into_any(),
                            None => view! { <p>"Connected to Azure ML"</p> }.into_any(),
                        },
                        Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
                    })}
                </Suspense>
            </section>
        </main>
    }
}

/// The sign-in form.
#[component]
pub fn SignIn() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let navigate = navigate.clone();
        pending.set(true);
        error.set(None);
        let (name, secret) = (username.get_untracked(), password.get_untracked());
        leptos::task::spawn_local(async move {
            match api::sign_in(name, secret).await {
                Ok(info) => {
                    session.set(SessionState::SignedIn(info));
                    navigate("/", NavigateOptions::default());
                }
                Err(err) => {
                    password.set(String::new());
                    error.set(Some(err.message));
                }
            }
            pending.set(false);
        });
    };

    view! {
        <TopBar />
        <main class="page narrow">
            <h1>"Sign in"</h1>
            <form class="card" on:submit=submit>
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
                {move || error.get().map(|message| view! {
                    <p class="error" role="alert" data-testid="sign-in-error">{message}</p>
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
