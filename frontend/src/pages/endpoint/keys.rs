//! The endpoint's keys: masked for everyone; operators may reveal them (audited) or regenerate
//! one, each after confirming.

use super::{is_operator, use_endpoint};
use crate::api::{self, ApiError};
use crate::components::operation_progress::TrackedOperation;
use crate::events::use_feed;
use crate::remote::{ErrorNote, Remote};
use crate::submit::AnswerExt;
use leptos::prelude::*;
use shared::api::{EndpointKeys, KeyName, OperationKind, OperationStatus};

/// What waits for a second click.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Reveal,
    Regenerate(KeyName),
}

fn key_label(key: KeyName) -> &'static str {
    match key {
        KeyName::Primary => "primary",
        KeyName::Secondary => "secondary",
    }
}

#[component]
pub fn Keys() -> impl IntoView {
    let data = use_endpoint();
    let feed = use_feed();
    let keys = Remote::<EndpointKeys>::new();
    let load = move || {
        if data.in_transit() {
            return;
        }
        let name = data.name();
        keys.load(async move { api::keys(&name).await });
    };
    load();
    // A regenerated key changes what is shown; a created endpoint has keys from then on. Read
    // from what the feed knows of this endpoint, not from the last event alone, which a burst
    // of events about other endpoints may hide.
    let ended = Memo::new(move |_| {
        feed.of_endpoint(&data.name())
            .into_iter()
            .filter(|op| {
                matches!(
                    op.kind,
                    OperationKind::KeysRegenerate | OperationKind::EndpointCreate
                ) && op.status != OperationStatus::Running
            })
            .map(|op| op.id)
            .collect::<Vec<_>>()
    });
    Effect::new(move |first: Option<()>| {
        ended.with(|_| ());
        if first.is_some() {
            load();
        }
    });
    let asking = RwSignal::new(None::<Asked>);
    // Revealed keys show in place of the masked ones; a regeneration is an operation to follow.
    let confirmed = Action::new_local(move |asked: &Asked| {
        let (asked, name) = (*asked, data.name());
        async move {
            match asked {
                Asked::Reveal => {
                    keys.show(api::reveal_keys(&name).await?);
                    Ok::<_, ApiError>(None)
                }
                Asked::Regenerate(key) => {
                    let op = api::regenerate_key(&name, key).await?;
                    feed.record(op.clone());
                    Ok(Some(op))
                }
            }
        }
    });
    let pending = confirmed.pending();
    let answer = confirmed.value();
    let running = Signal::derive(move || answer.accepted(|op| op.as_ref().map(|op| op.id))?);

    let confirm = move |_| {
        if let (Some(asked), false) = (asking.get_untracked(), pending.get_untracked()) {
            asking.set(None);
            confirmed.dispatch_local(asked);
        }
    };

    view! {
        <section class="card" aria-labelledby="keys-title" data-testid="keys">
            <h2 id="keys-title">"Keys"</h2>
            {move || keys.error().map(|error| view! { <ErrorNote error=error /> })}
            {move || keys.ok().map(|k| view! {
                <dl class="facts">
                    <div><dt>"Primary"</dt><dd><code data-testid="key-primary">{k.primary_key}</code></dd></div>
                    <div><dt>"Secondary"</dt><dd><code data-testid="key-secondary">{k.secondary_key}</code></dd></div>
                </dl>
            })}
            {move || is_operator().then(|| view! {
                <div class="actions">
                    {move || if keys.ok().is_some_and(|k| !k.masked) {
                        view! { <button type="button" class="secondary" data-testid="keys-hide"
                            disabled=move || pending.get() on:click=move |_| load()>"Hide"</button> }.into_any()
                    } else {
                        view! { <button type="button" class="secondary" data-testid="keys-reveal"
                            disabled=move || pending.get()
                            on:click=move |_| asking.set(Some(Asked::Reveal))>"Reveal…"</button> }.into_any()
                    }}
                    {[KeyName::Primary, KeyName::Secondary].map(|key| view! {
                        <button type="button" class="secondary" data-testid=format!("keys-regenerate-{}", key_label(key))
                            disabled=move || pending.get()
                            on:click=move |_| asking.set(Some(Asked::Regenerate(key)))>
                            {format!("Regenerate {}…", key_label(key))}
                        </button>
                    })}
                </div>
            })}
            {move || asking.get().map(|action| {
                let question = match action {
                    Asked::Reveal => "Show both keys in clear? Revealing is recorded in the audit log.".to_owned(),
                    Asked::Regenerate(key) => format!(
                        "Regenerate the {} key? Clients still using it will be refused.", key_label(key)),
                };
                view! {
                    <div class="confirm-box" role="alertdialog" aria-label="Confirm">
                        <p>{question}</p>
                        <button type="button" data-testid="keys-confirm" on:click=confirm>"Confirm"</button>
                        <button type="button" class="secondary" data-testid="keys-cancel" on:click=move |_| asking.set(None)>"Cancel"</button>
                    </div>
                }
            })}
            {move || answer.refused(pending).map(|error| view! { <ErrorNote error=error /> })}
            <TrackedOperation id=running />
        </section>
    }
}
