//! A new freeze window: one-off (two local date-times, sent as UTC instants) or weekly (days,
//! local start and end, an IANA time zone — the browser's own by default). The server checks
//! every rule and names the field it refuses.

use crate::api::{self, ApiError};
use crate::remote::ErrorNote;
use crate::submit::AnswerExt;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use shared::freeze::{Day, NewFreezeWindow, ScheduleInput};

/// The browser's time zone (`Europe/Berlin`), or UTC when it won't say.
fn browser_zone() -> String {
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
        .resolved_options();
    js_sys::Reflect::get(&options, &"timeZone".into())
        .ok()
        .and_then(|z| z.as_string())
        .unwrap_or_else(|| "UTC".into())
}

/// A `datetime-local` value (the browser's local time) as an RFC 3339 UTC instant; the text
/// as typed when the browser can't read it (the server then names the field).
fn instant(local: &str) -> String {
    let date = js_sys::Date::new(&local.into());
    if date.get_time().is_nan() {
        return local.to_owned();
    }
    String::from(date.to_iso_string())
}

#[component]
pub fn NewWindow(on_created: Callback<()>) -> impl IntoView {
    let weekly = RwSignal::new(false);
    let workspace = RwSignal::new("local".to_owned());
    let endpoint = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let starts = RwSignal::new(String::new());
    let ends = RwSignal::new(String::new());
    let days = RwSignal::new(Vec::<Day>::new());
    let start = RwSignal::new("22:00".to_owned());
    let end = RwSignal::new("06:00".to_owned());
    let zone = RwSignal::new(browser_zone());

    let create = Action::new_local(move |request: &NewFreezeWindow| {
        let request = request.clone();
        async move {
            let window = api::create_freeze_window(&request).await?;
            on_created.run(());
            Ok::<_, ApiError>(window)
        }
    });
    let pending = create.pending();
    let answer = create.value();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let schedule = if weekly.get_untracked() {
            ScheduleInput::Weekly {
                days: days
                    .get_untracked()
                    .iter()
                    .map(|d| d.as_str().to_owned())
                    .collect(),
                start: start.get_untracked(),
                end: end.get_untracked(),
                time_zone: zone.get_untracked(),
            }
        } else {
            ScheduleInput::Once {
                starts_at: instant(&starts.get_untracked()),
                ends_at: instant(&ends.get_untracked()),
            }
        };
        let endpoint = Some(endpoint.get_untracked()).filter(|e| !e.trim().is_empty());
        create.dispatch_local(NewFreezeWindow {
            workspace: workspace.get_untracked(),
            endpoint,
            reason: reason.get_untracked(),
            schedule,
        });
    };
    let toggle = move |day: Day| {
        days.update(|d| match d.iter().position(|x| *x == day) {
            Some(i) => {
                d.remove(i);
            }
            None => d.push(day),
        })
    };

    view! {
        <form class="card" aria-labelledby="freeze-new-title" data-testid="freeze-form" on:submit=submit>
            <h2 id="freeze-new-title">"New freeze window"</h2>
            <fieldset class="choices">
                <legend>"Kind"</legend>
                <label><input type="radio" name="freeze-kind" data-testid="freeze-kind-once"
                    prop:checked=move || !weekly.get() on:change=move |_| weekly.set(false) />" One-off"</label>
                <label><input type="radio" name="freeze-kind" data-testid="freeze-kind-weekly"
                    prop:checked=move || weekly.get() on:change=move |_| weekly.set(true) />" Weekly"</label>
            </fieldset>
            <label>"Workspace" <input data-testid="freeze-workspace" required bind:value=workspace /></label>
            <label>"Endpoint (empty: every endpoint of the workspace)" <input data-testid="freeze-endpoint" bind:value=endpoint /></label>
            <label>"Reason" <input data-testid="freeze-reason-input" required bind:value=reason /></label>
            {move || if weekly.get() {
                view! {
                    <fieldset class="choices">
                        <legend>"Days"</legend>
                        {Day::ALL.into_iter().map(|day| view! {
                            <label>
                                <input type="checkbox" data-testid=format!("freeze-day-{}", day.as_str())
                                    prop:checked=move || days.with(|d| d.contains(&day))
                                    on:change=move |_| toggle(day) />
                                " " {day.as_str()}
                            </label>
                        }).collect_view()}
                    </fieldset>
                    <label>"From (local time)" <input type="time" data-testid="freeze-start" bind:value=start /></label>
                    <label>"To (local time; earlier than From ends the next day)" <input type="time" data-testid="freeze-end" bind:value=end /></label>
                    <label>"Time zone (IANA)" <input data-testid="freeze-zone" bind:value=zone /></label>
                }.into_any()
            } else {
                view! {
                    <label>"From (your local time)" <input type="datetime-local" data-testid="freeze-starts" required bind:value=starts /></label>
                    <label>"To (your local time)" <input type="datetime-local" data-testid="freeze-ends" required bind:value=ends /></label>
                }.into_any()
            }}
            {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error testid="freeze-error" /> })}
            <button type="submit" data-testid="freeze-create" disabled=move || pending.get()>"Set freeze window"</button>
        </form>
    }
}
