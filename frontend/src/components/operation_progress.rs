//! Long-running operations as the user follows them: what runs, its last step, and how it
//! ended — with Azure's own message when it failed. Fed by the live feed, so it moves on its own.

use crate::events::use_feed;
use chrono::Timelike;
use leptos::prelude::*;
use shared::api::{Operation, OperationKind, OperationStatus};
use uuid::Uuid;

fn kind_label(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::EndpointCreate => "Create endpoint",
        OperationKind::EndpointDelete => "Delete endpoint",
        OperationKind::DeploymentCreate => "Create deployment",
        OperationKind::DeploymentScale => "Scale deployment",
        OperationKind::DeploymentDelete => "Delete deployment",
        OperationKind::TrafficChange => "Change traffic",
        OperationKind::KeysRegenerate => "Regenerate key",
    }
}

/// One operation on one line (plus its error, if it failed).
#[component]
pub fn OperationLine(op: Operation) -> impl IntoView {
    let status = op.status.as_str();
    let what = match &op.deployment {
        Some(d) => format!("{} {d}", kind_label(op.kind)),
        None => kind_label(op.kind).to_owned(),
    };
    // The last step says what is going on while it runs; once ended, the badge says it all.
    let step = if op.status == OperationStatus::Running {
        op.progress
            .last()
            .map(|p| p.message.clone())
            .unwrap_or_default()
    } else {
        String::new()
    };
    // By hand rather than `format("%H:%M:%S")`: chrono's formatter is sizeable in wasm.
    let t = op.created_at.time();
    let time = format!("{:02}:{:02}:{:02} UTC", t.hour(), t.minute(), t.second());
    let error = op.error.map(|e| {
        view! {
            <p class="error" role="alert" data-testid="operation-error">
                {format!("{}: {}", e.code, e.message)}
            </p>
        }
    });
    view! {
        <div class="operation" data-testid="operation" data-status=status data-kind=op.kind.as_str()
            data-operation-id=op.id.to_string()>
            <span class=format!("badge {status}")>{status}</span>
            <span class="what">{what}</span>
            <span class="step" data-testid="operation-step">{step}</span>
            <time class="muted">{time} " · " {op.requested_by}</time>
            {error}
        </div>
    }
}

/// The operation a form just started, followed live; nothing while `id` is empty.
#[component]
pub fn TrackedOperation(#[prop(into)] id: Signal<Option<Uuid>>) -> impl IntoView {
    let feed = use_feed();
    move || {
        id.get()
            .and_then(|id| feed.operation(id))
            .map(|op| view! { <div aria-live="polite"><OperationLine op=op /></div> })
    }
}

/// Recent operations on an endpoint, newest first, as they happen.
#[component]
pub fn Activity(endpoint: String) -> impl IntoView {
    let feed = use_feed();
    view! {
        <section class="card" aria-labelledby="activity-title" data-testid="activity">
            <h2 id="activity-title">"Activity"</h2>
            {move || {
                let ops = feed.of_endpoint(&endpoint);
                if ops.is_empty() {
                    view! { <p class="muted">"No operations yet."</p> }.into_any()
                } else {
                    ops.into_iter()
                        .take(12)
                        .map(|op| view! { <OperationLine op=op /> })
                        .collect_view()
                        .into_any()
                }
            }}
        </section>
    }
}
