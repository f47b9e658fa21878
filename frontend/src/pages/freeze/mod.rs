//! Freeze windows (issue 13): every window with where it stands now, and — for admins — a form
//! for a new one-off or weekly window and a delete button per window. Everyone signed in reads
//! them; the server refuses the rest below admin.

mod form;

use crate::api::{self, ApiError};
use crate::components::change_request::clock;
use crate::components::list_card::{listing, Empty, ListTable};
use crate::pages::{current_role, SignedIn};
use crate::remote::{ErrorNote, Remote};
use crate::submit::AnswerExt;
use leptos::prelude::*;
use shared::api::freeze::{FreezeWindow, FreezeWindowList};
use shared::freeze::Schedule;
use shared::Role;

#[component]
pub fn FreezePage() -> impl IntoView {
    let list = Remote::<FreezeWindowList>::new();
    let reload = move || list.load(api::freeze_windows());
    reload();
    let is_admin = move || current_role().is_some_and(|r| r.allows(Role::Admin));
    let changed = Callback::new(move |_| reload());
    view! {
        <SignedIn>
            <main class="page wide">
                <p class="crumbs"><a href="/">"Endpoints"</a> " / Freeze windows"</p>
                <h1>"Freeze windows"</h1>
                <p class="muted">
                    "While a window is in force no change request is applied to the endpoints it covers: approving is refused, and rollouts wait at their next traffic step. Rolling back to the known-good split still works."
                </p>
                <section class="card" aria-labelledby="freeze-list-title">
                    <h2 id="freeze-list-title">"Windows"</h2>
                    {listing(list, |list| list.items, Empty("freeze-none", "No freeze windows."), move |windows| view! {
                        <ListTable testid="freeze-table" columns=&["Reason", "Covers", "When", "Now", "Set by", "Actions"]>
                            {windows.into_iter().map(|w| view! { <WindowRow window=w on_change=changed /> }).collect_view()}
                        </ListTable>
                    }.into_any())}
                </section>
                {move || is_admin().then(|| view! { <form::NewWindow on_created=changed /> })}
            </main>
        </SignedIn>
    }
}

/// The schedule in words: "2026-12-24 11:00 UTC to 2026-12-27 08:00 UTC", "fri, sat 22:00–06:00 Europe/Berlin".
fn when(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Once { starts_at, ends_at } => {
            format!("{} to {}", clock(*starts_at), clock(*ends_at))
        }
        Schedule::Weekly {
            days,
            start,
            end,
            time_zone,
        } => {
            let days: Vec<&str> = days.iter().map(|d| d.as_str()).collect();
            format!("every {} {start}–{end} {time_zone}", days.join(", "))
        }
    }
}

#[component]
fn WindowRow(window: FreezeWindow, on_change: Callback<()>) -> impl IntoView {
    let id = window.id;
    let delete = Action::new_local(move |_: &()| async move {
        api::delete_freeze_window(id).await?;
        on_change.run(());
        Ok::<_, ApiError>(())
    });
    let pending = delete.pending();
    let answer = delete.value();
    let covers = match &window.endpoint {
        Some(e) => format!("{} / {e}", window.workspace),
        None => format!("all of {}", window.workspace),
    };
    let now = match (window.active, window.next) {
        (Some(a), _) => format!("in force until {}", clock(a.ends_at)),
        (None, Some(n)) => format!("next from {}", clock(n.starts_at)),
        (None, None) => "over".to_owned(),
    };
    let is_admin = move || current_role().is_some_and(|r| r.allows(Role::Admin));
    view! {
        <tr data-testid="freeze-row" data-window-id=id.to_string()>
            <th scope="row" data-testid="freeze-reason">{window.reason.clone()}</th>
            <td data-label="Covers">{covers}</td>
            <td data-label="When">{when(&window.schedule)}</td>
            <td data-label="Now" data-testid="freeze-now">{now}</td>
            <td data-label="Set by">{format!("{} at {}", window.created_by, clock(window.created_at))}</td>
            <td data-label="Actions">
                {move || is_admin().then(|| view! {
                    <button type="button" class="danger-outline small" data-testid="freeze-delete"
                        disabled=move || pending.get()
                        on:click=move |_| { delete.dispatch_local(()); }>"Delete"</button>
                })}
                {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error /> })}
            </td>
        </tr>
    }
}
