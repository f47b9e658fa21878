//! One audit event: when, who, what, on what; links to its rollout and change request; and its
//! before / after as a key-level diff, or its details as they were recorded.

use crate::api;
use crate::components::change_request::clock;
use leptos::prelude::*;
use serde_json::Value;
use shared::api::{AuditEventView, AuditQuery};
use shared::audit_diff::{diff, show, KeyChange};

/// The id in `details[key]`, when there is one.
fn id_in(details: &Value, key: &str) -> Option<String> {
    details
        .get(key)
        .and_then(Value::as_str)
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .map(str::to_owned)
}

#[component]
pub fn EventRow(event: AuditEventView) -> impl IntoView {
    let open = RwSignal::new(false);
    let changes = diff(&event.details);
    let has_diff = changes.is_some();
    let rollout = id_in(&event.details, "rollout_id").map(|id| {
        view! {
            <a href=format!("/rollouts/{id}") data-testid="audit-rollout-link">"Rollout"</a>
            " "
        }
    });
    let endpoint = event
        .target
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let request = id_in(&event.details, "change_request_id").map(|id| {
        let trail = api::audit_page_href(&AuditQuery {
            change_request: Some(id),
            ..AuditQuery::default()
        });
        // A change request has no page of its own: its card is on its endpoint's page.
        view! {
            <a href=format!("/endpoints/{endpoint}") data-testid="audit-request-link">"Change request"</a>
            " · " <a href=trail data-testid="audit-request-trail">"its events"</a>
        }
    });
    let details = serde_json::to_string_pretty(&event.details).unwrap_or_default();
    view! {
        <li class="audit-event" data-testid="audit-event" data-id=event.id.to_string() data-action=event.action.clone()>
            <div class="audit-head">
                <span class="muted">{format!("#{}", event.id)}</span>
                <time>{clock(event.at)}</time>
                <strong data-testid="audit-action">{event.action.clone()}</strong>
                <span data-testid="audit-actor">{event.actor.clone()}</span>
                <span class="muted">"on "</span><span data-testid="audit-target">{event.target.clone()}</span>
                <span class="audit-links">{rollout}{request}</span>
                {has_diff.then(|| view! {
                    <button type="button" class="secondary small" data-testid="audit-diff-toggle"
                        on:click=move |_| open.update(|o| *o = !*o)>
                        {move || if open.get() { "Hide changes" } else { "Show changes" }}
                    </button>
                })}
            </div>
            {move || open.get().then(|| changes.clone().map(|changes| view! { <DiffTable changes=changes /> }))}
            <details>
                <summary>"Details"</summary>
                <pre data-testid="audit-details">{details}</pre>
            </details>
        </li>
    }
}

#[component]
fn DiffTable(changes: Vec<KeyChange>) -> impl IntoView {
    let rows = if changes.is_empty() {
        view! { <tr><td colspan="3" class="muted">"Nothing changed."</td></tr> }.into_any()
    } else {
        changes
            .into_iter()
            .map(|change| {
                view! {
                    <tr data-testid="audit-diff-row" data-key=change.key.clone()>
                        <th scope="row">{change.key.clone()}</th>
                        <td class="before" data-testid="audit-diff-before">{show(change.before.as_ref())}</td>
                        <td class="after" data-testid="audit-diff-after">{show(change.after.as_ref())}</td>
                    </tr>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <div class="table-wrap">
            <table class="stack audit-diff" data-testid="audit-diff">
                <thead><tr><th scope="col">"Key"</th><th scope="col">"Before"</th><th scope="col">"After"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
