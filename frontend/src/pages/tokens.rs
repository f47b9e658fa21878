//! The API tokens page: a token for a script or service account, created with a name, a role no
//! higher than your own and an expiry, its secret shown once; your tokens (an admin: everyone's)
//! with their role, expiry, last use and state, each with a revoke button.

use crate::api::{self, ApiError};
use crate::components::clipboard::copy;
use crate::components::list_card::{listing, Empty, ListTable};
use crate::pages::{current_role, SignedIn};
use crate::remote::{ErrorNote, Remote};
use crate::submit::{submit_when_valid, AnswerExt};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use shared::api::tokens::{CreateTokenRequest, CreatedToken, TokenInfo, TokenList};
use shared::Role;

/// The expiries the form offers, in days.
const LIFETIMES: [(u32, &str); 4] = [
    (7, "7 days"),
    (30, "30 days"),
    (90, "90 days"),
    (365, "1 year"),
];

#[component]
pub fn TokensPage() -> impl IntoView {
    let list = Remote::<TokenList>::new();
    let reload = move || list.load(api::tokens());
    Effect::new(move |_| reload());
    view! {
        <SignedIn>
            <main class="page">
                <h1>"API tokens"</h1>
                <p class="muted">
                    "A token lets a script act as you, with the role you give it (at most your own), until it expires or is revoked. Send it as "
                    <code>"Authorization: Bearer <token>"</code>"."
                </p>
                <NewToken on_created=Callback::new(move |_| reload()) />
                <TokenTable list=list on_change=Callback::new(move |_| reload()) />
            </main>
        </SignedIn>
    }
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[component]
fn TokenTable(list: Remote<TokenList>, on_change: Callback<()>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="tokens-title">
            <h2 id="tokens-title">"Tokens"</h2>
            {listing(list, |list| list.items, Empty("no-tokens", "No tokens yet."), move |tokens| view! {
                <ListTable testid="token-table"
                    columns=&["Name", "Created by", "Role", "Expires", "Last used", "State", "Actions"]>
                    {tokens.into_iter().map(|token| view! { <TokenRow token=token on_change=on_change /> }).collect_view()}
                </ListTable>
            }.into_any())}
        </section>
    }
}

#[component]
fn TokenRow(token: TokenInfo, on_change: Callback<()>) -> impl IntoView {
    let name = token.name.clone();
    let testid = move |what: &str| format!("token-{what}-{name}");
    let id = token.id;
    let revoke = Action::new_local(move |_: &()| async move {
        let token = api::revoke_token(id).await?;
        on_change.run(());
        Ok::<_, ApiError>(token)
    });
    let pending = revoke.pending();
    let answer = revoke.value();
    let expired = token.expires_at <= crate::components::change_request::now();
    let state = match (&token.revoked_at, &token.revoked_by, expired) {
        (Some(at), Some(by), _) => format!("Revoked {} by {by}", when(*at)),
        (Some(at), None, _) => format!("Revoked {}", when(*at)),
        (None, _, true) => "Expired".to_owned(),
        (None, _, false) => "Active".to_owned(),
    };
    let live = token.revoked_at.is_none();
    view! {
        <tr data-testid=testid("row")>
            <th scope="row">{token.name.clone()}</th>
            <td data-label="Created by">{token.created_by.to_string()}</td>
            <td data-label="Role" data-testid=testid("role")>{token.role.to_string()}</td>
            <td data-label="Expires">{when(token.expires_at)}</td>
            <td data-label="Last used" data-testid=testid("last-used")>
                {token.last_used_at.map_or_else(|| "never".to_owned(), when)}
            </td>
            <td data-label="State" data-testid=testid("state")>{state}</td>
            <td class="row-actions">
                {live.then(|| view! {
                    <button type="button" class="small danger" data-testid=testid("revoke")
                        disabled=move || pending.get()
                        on:click=move |_| { revoke.dispatch_local(()); }>"Revoke"</button>
                })}
                {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error /> })}
            </td>
        </tr>
    }
}

/// The create form, and the new token's secret, shown this once with a copy button.
#[component]
fn NewToken(on_created: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let days = RwSignal::new(30u32);
    let copied = RwSignal::new(None::<String>);
    let own_role = move || current_role().unwrap_or(Role::Viewer);
    let problems = Memo::new(move |_| {
        let request = CreateTokenRequest {
            name: name.get().trim().to_owned(),
            role: role.get(),
            expires_in_days: days.get(),
        };
        request
            .check(own_role())
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.message)
            .collect::<Vec<_>>()
    });
    let create = Action::new_local(move |request: &CreateTokenRequest| {
        let request = request.clone();
        async move {
            let created = api::create_token(&request).await?;
            on_created.run(());
            name.set(String::new());
            copied.set(None);
            Ok::<_, ApiError>(created)
        }
    });
    let pending = create.pending();
    let answer = create.value();
    let submit = submit_when_valid(
        create,
        move || problems.with_untracked(Vec::is_empty),
        move || CreateTokenRequest {
            name: name.get_untracked().trim().to_owned(),
            role: role.get_untracked(),
            expires_in_days: days.get_untracked(),
        },
    );
    view! {
        <form class="card" on:submit=submit aria-labelledby="new-token-title">
            <h2 id="new-token-title">"New token"</h2>
            <div class="row">
                <label>
                    "Name"
                    <input data-testid="new-token-name" autocomplete="off" placeholder="ci-deployer" required bind:value=name />
                </label>
                <label>
                    "Role"
                    <select data-testid="new-token-role"
                        on:change=move |ev| { if let Ok(r) = event_target_value(&ev).parse::<Role>() { role.set(r) } }>
                        {move || Role::ALL.into_iter().filter(|r| own_role().allows(*r)).map(|r| view! {
                            <option value=r.as_str() selected=move || role.get() == r>{r.to_string()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Expires in"
                    <select data-testid="new-token-expiry"
                        on:change=move |ev| { if let Ok(d) = event_target_value(&ev).parse::<u32>() { days.set(d) } }>
                        {LIFETIMES.into_iter().map(|(d, label)| view! {
                            <option value=d.to_string() selected=d == 30>{label}</option>
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <ul class="problems" aria-live="polite">
                {move || (!name.get().is_empty()).then(|| problems.get().into_iter().map(|p| view! {
                    <li class="error" data-testid="new-token-problem">{p}</li>
                }).collect_view())}
            </ul>
            {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error /> })}
            {move || answer.accepted(|created: &CreatedToken| {
                let secret = created.secret.clone();
                view! {
                    <div class="ok" role="status" data-testid="new-token-created">
                        <p>{format!("Created {}. Copy the token now: it is shown only this once.", created.token.name)}</p>
                        <p class="uri">
                            <code data-testid="new-token-secret">{created.secret.clone()}</code>
                            <button type="button" class="secondary small" data-testid="copy-token"
                                aria-label="Copy the token" on:click=move |_| copy(&secret, "token", copied)>"Copy"</button>
                            <span class="muted" role="status">{move || copied.get()}</span>
                        </p>
                    </div>
                }
            })}
            <div class="actions">
                <button type="submit" data-testid="new-token-create"
                    disabled=move || pending.get() || !problems.get().is_empty()>
                    {move || if pending.get() { "Creating…" } else { "Create token" }}
                </button>
            </div>
        </form>
    }
}
