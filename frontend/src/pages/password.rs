//! Changing one's own password: from the top bar at any time, and in place of every page while
//! the session was opened with a one-time password (the server refuses everything else then).

use crate::api::{self, ApiError};
use crate::pages::SignedIn;
use crate::remote::ErrorNote;
use crate::session::{use_session, SessionState};
use crate::submit::AnswerExt;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use shared::api::{check_password_change, ChangePasswordRequest};

/// `/password`.
#[component]
pub fn PasswordPage() -> impl IntoView {
    view! {
        <SignedIn>
            <main class="page narrow">
                <PasswordForm forced=false />
            </main>
        </SignedIn>
    }
}

/// The form: current password, new password twice, checked as typed with the server's rule.
/// `forced` when the console shows it because the password is one-time.
#[component]
pub fn PasswordForm(forced: bool) -> impl IntoView {
    let session = use_session();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());

    let request = move || ChangePasswordRequest {
        current_password: current.get(),
        new_password: new.get(),
    };
    let problem = Memo::new(move |_| {
        if new.get().is_empty() {
            return None;
        }
        check_password_change(&request())
            .err()
            .or_else(|| (new.get() != repeat.get()).then(|| "the two new passwords differ".into()))
    });

    let change = Action::new_local(move |request: &ChangePasswordRequest| {
        let request = request.clone();
        async move {
            api::change_password(&request).await?;
            // The session now has a password of its own: the console lets the user go on.
            // (Only then: a new session value re-renders the page, and with it this form.)
            if forced {
                if let Some(info) = api::current_session().await? {
                    session.set(SessionState::SignedIn(info));
                }
            }
            Ok::<_, ApiError>(())
        }
    });
    let pending = change.pending();
    let answer = change.value();
    Effect::new(move |_| {
        if answer.accepted(|_| ()).is_some() {
            current.set(String::new());
            new.set(String::new());
            repeat.set(String::new());
        }
    });
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if problem.get_untracked().is_none() && !pending.get_untracked() {
            change.dispatch_local(request());
        }
    };

    view! {
        <h1>{if forced { "Choose your password" } else { "Change password" }}</h1>
        {forced.then(|| view! {
            <p class="notice" data-testid="one-time-password-notice">
                "You signed in with a one-time password. Choose a password of your own to go on."
            </p>
        })}
        <form class="card" on:submit=submit aria-label="Password">
            <label>
                {if forced { "One-time password" } else { "Current password" }}
                <input type="password" data-testid="current-password" autocomplete="current-password"
                    required bind:value=current />
            </label>
            <label>
                "New password"
                <input type="password" data-testid="new-password" autocomplete="new-password"
                    required aria-describedby="password-problem" bind:value=new />
            </label>
            <label>
                "New password again"
                <input type="password" data-testid="repeat-password" autocomplete="new-password"
                    required bind:value=repeat />
            </label>
            <p id="password-problem" class="error" aria-live="polite" data-testid="password-problem">
                {move || problem.get()}
            </p>
            {move || answer.refused(pending).map(|error| view! {
                <ErrorNote error=error testid="password-error" />
            })}
            {move || answer.accepted(|_| view! {
                <p class="ok" role="status" data-testid="password-changed">
                    "Password changed. Your other sessions were signed out."
                </p>
            })}
            <div class="actions">
                <button type="submit" data-testid="change-password"
                    disabled=move || pending.get() || problem.get().is_some() || new.get().is_empty()>
                    {move || if pending.get() { "Changing…" } else { "Change password" }}
                </button>
            </div>
        </form>
    }
}
