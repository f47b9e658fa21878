//! The webhooks page (admins): every outgoing webhook with its events and format, a test
//! delivery, enable / disable and delete, its delivery log (state, attempts, the receiver's
//! status, the next retry), and a form for a new one. The URL and secret are checked here as
//! typed, with the same `shared` rules the server applies.

use crate::api::{self, ApiError};
use crate::components::change_request::clock;
use crate::components::list_card::{listing, Empty, ListTable};
use crate::pages::{current_role, SignedIn};
use crate::remote::{ErrorNote, Remote};
use crate::submit::{submit_when_valid, AnswerExt};
use leptos::prelude::*;
use shared::api::webhooks::{
    CreateWebhookRequest, DeliveryPage, DeliveryView, UpdateWebhookRequest, WebhookList,
    WebhookView,
};
use shared::webhooks::{check_secret, check_url, WebhookEvent, WebhookFormat};
use shared::Role;
use std::time::Duration;

/// How often an open delivery log is read again (retries happen on the server's schedule).
const POLL: Duration = Duration::from_secs(2);

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let list = Remote::<WebhookList>::new();
    let reload = move || list.load(api::webhooks());
    let is_admin = move || current_role().is_some_and(|r| r.allows(Role::Admin));
    Effect::new(move |_| {
        if is_admin() {
            reload();
        }
    });
    let on_change = Callback::new(move |_| reload());
    view! {
        <SignedIn>
            <main class="page" data-testid="webhooks-page">
                <p class="crumbs"><a href="/">"Endpoints"</a> " / Webhooks"</p>
                <h1>"Webhooks"</h1>
                {move || if is_admin() {
                    view! {
                        <p class="muted">"Greenlight POSTs the events you pick to each URL, signed with HMAC-SHA256 of the secret (see the README)."</p>
                        {listing(list, |list| list.items, Empty("webhooks-empty", "No webhooks yet."), move |hooks| {
                            hooks.into_iter().map(|hook| view! { <WebhookCard hook=hook on_change=on_change /> }).collect_view().into_any()
                        })}
                        <NewWebhook on_created=on_change />
                    }.into_any()
                } else {
                    view! { <p class="error" data-testid="webhooks-forbidden">"Managing webhooks needs the admin role."</p> }.into_any()
                }}
            </main>
        </SignedIn>
    }
}

/// One webhook: what it sends where, its actions, and its delivery log.
#[component]
fn WebhookCard(hook: WebhookView, on_change: Callback<()>) -> impl IntoView {
    let id = hook.id;
    let log = Remote::<DeliveryPage>::new();
    let load = move || log.load(api::deliveries(id));
    load();
    if let Ok(handle) = set_interval_with_handle(load, POLL) {
        on_cleanup(move || handle.clear());
    }
    let act = Action::new_local(move |what: &&'static str| {
        let what = *what;
        let enabled = hook.enabled;
        async move {
            match what {
                "test" => api::test_webhook(id).await.map(drop)?,
                "delete" => api::delete_webhook(id).await?,
                _ => {
                    let request = UpdateWebhookRequest {
                        enabled: Some(!enabled),
                        ..UpdateWebhookRequest::default()
                    };
                    api::update_webhook(id, &request).await.map(drop)?
                }
            }
            if what == "test" {
                load();
            } else {
                on_change.run(());
            }
            Ok::<_, ApiError>(())
        }
    });
    let pending = act.pending();
    let answer = act.value();
    let events = hook
        .events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let state = if hook.enabled { "enabled" } else { "disabled" };
    view! {
        <section class="card" data-testid="webhook" data-id=id.to_string() aria-label=format!("Webhook {}", hook.url)>
            <h2 class="webhook-url" data-testid="webhook-url">{hook.url.clone()}</h2>
            <p>
                <span class="badge" data-testid="webhook-format">{hook.format.as_str()}</span>" "
                <span class=format!("badge {state}") data-testid="webhook-state">{state}</span>" "
                <span class="muted" data-testid="webhook-events">{events}</span>
            </p>
            <p class="muted">{format!("Secret set {} · created by {}", clock(hook.secret_set_at), hook.created_by)}</p>
            <div class="row-actions">
                <button type="button" class="small" data-testid="webhook-test" disabled=move || pending.get()
                    on:click=move |_| { act.dispatch_local("test"); }>"Send test"</button>
                <button type="button" class="small secondary" data-testid="webhook-toggle" disabled=move || pending.get()
                    on:click=move |_| { act.dispatch_local("toggle"); }>{if hook.enabled { "Disable" } else { "Enable" }}</button>
                <button type="button" class="small danger" data-testid="webhook-delete" disabled=move || pending.get()
                    on:click=move |_| { act.dispatch_local("delete"); }>"Delete"</button>
                {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error testid="webhook-error" /> })}
            </div>
            <DeliveryLog log=log />
        </section>
    }
}

#[component]
fn DeliveryLog(log: Remote<DeliveryPage>) -> impl IntoView {
    view! {
        <h3>"Deliveries"</h3>
        {listing(log, |page| page.items, Empty("deliveries-empty", "Nothing sent yet."), |deliveries| view! {
            <ListTable testid="deliveries"
                columns=&["#", "Event", "Endpoint", "State", "Attempts", "Last answer", "Next retry"]>
                {deliveries.into_iter().map(|d| view! { <DeliveryRow delivery=d /> }).collect_view()}
            </ListTable>
        }.into_any())}
    }
}

#[component]
fn DeliveryRow(delivery: DeliveryView) -> impl IntoView {
    let state = delivery.state.as_str();
    let answer = match (delivery.last_status, &delivery.last_error) {
        (Some(status), _) => format!("HTTP {status}"),
        (None, Some(error)) => error.clone(),
        (None, None) => "—".to_owned(),
    };
    let next = delivery
        .next_attempt_at
        .map(clock)
        .unwrap_or_else(|| "—".to_owned());
    view! {
        <tr data-testid="delivery" data-event=delivery.event.clone() data-state=state>
            <th scope="row">{delivery.id}</th>
            <td data-label="Event">{delivery.event.clone()}</td>
            <td data-label="Endpoint">{delivery.endpoint.clone().unwrap_or_default()}</td>
            <td data-label="State"><span class=format!("badge {state}") data-testid="delivery-state">{state}</span></td>
            <td data-label="Attempts" data-testid="delivery-attempts">{delivery.attempts}</td>
            <td data-label="Last answer" title=delivery.last_error.clone().unwrap_or_default() data-testid="delivery-answer">{answer}</td>
            <td data-label="Next retry">{next}</td>
        </tr>
    }
}

/// A new webhook: URL, events, secret and body format.
#[component]
fn NewWebhook(on_created: Callback<()>) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let format = RwSignal::new(WebhookFormat::Json);
    let events = RwSignal::new(Vec::<WebhookEvent>::new());
    let problems = Memo::new(move |_| {
        let mut found = Vec::new();
        if let Err(message) = check_url(url.get().trim()) {
            found.push(message);
        }
        if events.with(Vec::is_empty) {
            found.push("pick at least one event".to_owned());
        }
        if let Err(message) = check_secret(&secret.get()) {
            found.push(message);
        }
        found
    });
    let create = Action::new_local(move |request: &CreateWebhookRequest| {
        let request = request.clone();
        async move {
            let created = api::create_webhook(&request).await?;
            on_created.run(());
            url.set(String::new());
            secret.set(String::new());
            events.set(Vec::new());
            Ok::<_, ApiError>(created)
        }
    });
    let pending = create.pending();
    let answer = create.value();
    let submit = submit_when_valid(
        create,
        move || problems.with_untracked(Vec::is_empty),
        move || CreateWebhookRequest {
            url: url.get_untracked().trim().to_owned(),
            events: events
                .get_untracked()
                .iter()
                .map(|e| e.as_str().to_owned())
                .collect(),
            secret: secret.get_untracked(),
            format: Some(format.get_untracked().as_str().to_owned()),
            enabled: None,
        },
    );
    let touched = move || !url.get().is_empty() || !secret.get().is_empty();
    view! {
        <form class="card" on:submit=submit aria-labelledby="new-webhook-title" data-testid="new-webhook">
            <h2 id="new-webhook-title">"New webhook"</h2>
            <div class="row">
                <label class="grow">
                    "URL"
                    <input type="url" data-testid="new-webhook-url" autocomplete="off" required bind:value=url />
                </label>
                <label>
                    "Format"
                    <select data-testid="new-webhook-format"
                        on:change=move |ev| { if let Some(f) = WebhookFormat::parse(&event_target_value(&ev)) { format.set(f) } }>
                        <option value="json" selected=true>"JSON"</option>
                        <option value="slack">"Slack"</option>
                        <option value="teams">"Teams"</option>
                    </select>
                </label>
                <label class="grow">
                    "Secret (16+ characters; shown never again)"
                    <input type="password" data-testid="new-webhook-secret" autocomplete="new-password" required bind:value=secret />
                </label>
            </div>
            <fieldset class="webhook-events">
                <legend>"Events"</legend>
                {WebhookEvent::ALL.into_iter().map(|event| view! {
                    <label class="check">
                        <input type="checkbox" data-testid=format!("new-webhook-event-{}", event.as_str())
                            prop:checked=move || events.with(|e| e.contains(&event))
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                events.update(|e| {
                                    e.retain(|x| *x != event);
                                    if on { e.push(event) }
                                });
                            } />
                        {event.label()}
                    </label>
                }).collect_view()}
            </fieldset>
            <ul class="problems" aria-live="polite">
                {move || touched().then(|| problems.get().into_iter().map(|p| view! {
                    <li class="error" data-testid="new-webhook-problem">{p}</li>
                }).collect_view())}
            </ul>
            {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error /> })}
            <div class="actions">
                <button type="submit" data-testid="new-webhook-create"
                    disabled=move || pending.get() || !problems.get().is_empty()>
                    {move || if pending.get() { "Creating…" } else { "Create webhook" }}
                </button>
            </div>
        </form>
    }
}
