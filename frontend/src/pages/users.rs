//! The users page (admins): every account with its role and state, a role picker and a
//! disable / enable button per account, one-time passwords for new and locked-out people.
//! What the server would refuse (your own demotion, a short password, a bad name) is refused
//! here as it is typed, with the same `shared` rules.

use crate::api::{self, ApiError};
use crate::pages::{current_role, SignedIn};
use crate::remote::{ErrorNote, Remote};
use crate::session::{use_session, SessionState};
use crate::submit::{submit_when_valid, AnswerExt};
use leptos::prelude::*;
use shared::api::{
    check_new_password, check_user_update, CreateUserRequest, ResetPasswordRequest,
    UpdateUserRequest, UserInfo, UserList,
};
use shared::{Role, Username};

const ROLES: [Role; 4] = [Role::Viewer, Role::Operator, Role::Approver, Role::Admin];

#[component]
pub fn UsersPage() -> impl IntoView {
    let list = Remote::<UserList>::new();
    let reload = move || list.load(api::users());
    let is_admin = move || current_role().is_some_and(|r| r.allows(Role::Admin));
    Effect::new(move |_| {
        if is_admin() {
            reload();
        }
    });
    view! {
        <SignedIn>
            <main class="page">
                <h1>"Users"</h1>
                {move || if is_admin() {
                    view! {
                        <UserTable list=list on_change=Callback::new(move |_| reload()) />
                        <NewUser on_created=Callback::new(move |_| reload()) />
                    }.into_any()
                } else {
                    view! { <p class="error" data-testid="users-forbidden">"Managing users needs the admin role."</p> }.into_any()
                }}
            </main>
        </SignedIn>
    }
}

/// The signed-in admin's own name, to tell their row apart.
fn me() -> Option<Username> {
    match use_session().get() {
        SessionState::SignedIn(info) => Some(info.user.username),
        _ => None,
    }
}

#[component]
fn UserTable(list: Remote<UserList>, on_change: Callback<()>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="users-title">
            <h2 id="users-title">"Accounts"</h2>
            {move || list.error().map(|error| view! { <ErrorNote error=error /> })}
            {move || list.ok().map(|list| view! {
                <div class="table-wrap">
                    <table class="stack" data-testid="user-table">
                        <thead><tr>
                            <th scope="col">"Name"</th><th scope="col">"Role"</th>
                            <th scope="col">"State"</th><th scope="col">"Actions"</th>
                        </tr></thead>
                        <tbody>
                            {list.items.into_iter().map(|user| view! { <UserRow user=user on_change=on_change /> }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
        </section>
    }
}

/// One account: its role picker, its state, and what an admin can do to it.
#[component]
fn UserRow(user: UserInfo, on_change: Callback<()>) -> impl IntoView {
    let name = user.username.clone();
    let testid = move |what: &str| format!("user-{what}-{name}");
    let username = user.username.clone();
    let update = Action::new_local(move |request: &UpdateUserRequest| {
        let (request, username) = (request.clone(), username.clone());
        async move {
            let user = api::update_user(username.as_str(), &request).await?;
            on_change.run(());
            Ok::<_, ApiError>(user)
        }
    });
    let pending = update.pending();
    let answer = update.value();
    // What the server would refuse for this row (your own demotion or disabling), with why.
    let refusal = {
        let target = user.username.clone();
        move |request: &UpdateUserRequest| {
            me().and_then(|me| {
                check_user_update(&me, &target, request)
                    .err()
                    .map(|(_, m)| m)
            })
        }
    };
    let own_role_refusal = {
        let refusal = refusal.clone();
        move || {
            refusal(&UpdateUserRequest {
                role: Some(Role::Viewer),
                disabled: None,
            })
        }
    };
    let disable = UpdateUserRequest {
        role: None,
        disabled: Some(!user.disabled),
    };
    let disable_refusal = refusal(&disable);
    let current_role = user.role;
    let state = match (user.disabled, user.must_change_password) {
        (true, _) => "Disabled",
        (false, true) => "Active · one-time password",
        (false, false) => "Active",
    };
    view! {
        <tr data-testid=testid("row")>
            <th scope="row">{user.username.to_string()}</th>
            <td data-label="Role">
                <select data-testid=testid("role") aria-label=format!("Role of {}", user.username)
                    title=own_role_refusal.clone()
                    disabled=move || pending.get() || own_role_refusal().is_some()
                    on:change=move |ev| {
                        if let Ok(role) = event_target_value(&ev).parse::<Role>() {
                            update.dispatch_local(UpdateUserRequest { role: Some(role), disabled: None });
                        }
                    }>
                    {ROLES.into_iter().map(|role| view! {
                        <option value=role.as_str() selected=role == current_role>{role.to_string()}</option>
                    }).collect_view()}
                </select>
            </td>
            <td data-label="State" data-testid=testid("state")>{state}</td>
            <td class="row-actions">
                <button type="button" class="small" data-testid=testid("toggle")
                    title=disable_refusal.clone()
                    disabled=move || pending.get() || disable_refusal.is_some()
                    on:click=move |_| { update.dispatch_local(disable.clone()); }>
                    {if user.disabled { "Enable" } else { "Disable" }}
                </button>
                <ResetPassword username=user.username.clone() on_change=on_change />
                {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error testid="user-error" /> })}
            </td>
        </tr>
    }
}

/// "Set one-time password": for someone who forgot theirs. Their sessions end.
#[component]
fn ResetPassword(username: Username, on_change: Callback<()>) -> impl IntoView {
    let open = RwSignal::new(false);
    let password = RwSignal::new(String::new());
    let problem = Memo::new(move |_| check_new_password(&password.get()).err());
    let name = username.to_string();
    let reset = Action::new_local(move |password: &String| {
        let (password, username) = (password.clone(), username.clone());
        async move {
            let request = ResetPasswordRequest { password };
            let user = api::reset_password(username.as_str(), &request).await?;
            on_change.run(());
            Ok::<_, ApiError>(user)
        }
    });
    let pending = reset.pending();
    let answer = reset.value();
    let submit = submit_when_valid(
        reset,
        move || problem.with_untracked(Option::is_none),
        move || password.get_untracked(),
    );
    let testid = move |what: &str| format!("user-{what}-{name}");
    view! {
        {move || if open.get() {
            view! {
                <form class="confirm-delete" on:submit=submit>
                    <label>
                        "One-time password"
                        <input type="text" autocomplete="off" data-testid=testid("reset-password") bind:value=password />
                    </label>
                    <button type="submit" class="small" data-testid=testid("reset-confirm")
                        disabled=move || pending.get() || problem.get().is_some()>"Set"</button>
                    <button type="button" class="small" on:click=move |_| open.set(false)>"Cancel"</button>
                    {move || (!password.get().is_empty()).then(|| problem.get()).flatten().map(|p| view! { <span class="error">{p}</span> })}
                    {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error /> })}
                </form>
            }.into_any()
        } else {
            view! {
                <button type="button" class="small" data-testid=testid("reset")
                    on:click=move |_| open.set(true)>"Set one-time password"</button>
            }.into_any()
        }}
    }
}

/// A new account with a one-time password, which its owner changes at first sign-in.
#[component]
fn NewUser(on_created: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let password = RwSignal::new(String::new());
    let problems = Memo::new(move |_| {
        let mut found = Vec::new();
        if let Err(err) = Username::parse(name.get().trim()) {
            found.push(err.to_string());
        }
        if let Err(message) = check_new_password(&password.get()) {
            found.push(message);
        }
        found
    });
    let create = Action::new_local(move |request: &CreateUserRequest| {
        let request = request.clone();
        async move {
            let user = api::create_user(&request).await?;
            on_created.run(());
            name.set(String::new());
            password.set(String::new());
            Ok::<_, ApiError>(user)
        }
    });
    let pending = create.pending();
    let answer = create.value();
    let submit = submit_when_valid(
        create,
        move || problems.with_untracked(Vec::is_empty),
        move || CreateUserRequest {
            username: name.get_untracked().trim().to_owned(),
            role: role.get_untracked(),
            password: password.get_untracked(),
        },
    );
    view! {
        <form class="card" on:submit=submit aria-labelledby="new-user-title">
            <h2 id="new-user-title">"New user"</h2>
            <div class="row">
                <label>
                    "User name"
                    <input data-testid="new-user-name" autocomplete="off" required bind:value=name />
                </label>
                <label>
                    "Role"
                    <select data-testid="new-user-role"
                        on:change=move |ev| { if let Ok(r) = event_target_value(&ev).parse::<Role>() { role.set(r) } }>
                        {ROLES.into_iter().map(|r| view! {
                            <option value=r.as_str() selected=r == Role::Viewer>{r.to_string()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class="grow">
                    "One-time password (they change it at first sign-in)"
                    <input type="text" autocomplete="off" data-testid="new-user-password" required bind:value=password />
                </label>
            </div>
            <ul class="problems" aria-live="polite">
                {move || (!name.get().is_empty() || !password.get().is_empty()).then(|| problems.get().into_iter().map(|p| view! {
                    <li class="error" data-testid="new-user-problem">{p}</li>
                }).collect_view())}
            </ul>
            {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error /> })}
            {move || answer.accepted(|user| view! {
                <p class="ok" role="status" data-testid="new-user-created">
                    {format!("Created {}: give them the one-time password.", user.username)}
                </p>
            })}
            <div class="actions">
                <button type="submit" data-testid="new-user-create"
                    disabled=move || pending.get() || !problems.get().is_empty()>
                    {move || if pending.get() { "Creating…" } else { "Create user" }}
                </button>
            </div>
        </form>
    }
}
