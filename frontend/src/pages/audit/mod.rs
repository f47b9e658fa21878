//! `/audit`: the audit log for review — the hash chain's state on top, filters that live in the
//! URL (so the rollout page and a change request's card can link here filtered to them), the
//! matching events newest first a page at a time, each with its before / after as a diff, and
//! the filtered set's export.

mod chain;
mod event;
mod filters;

use crate::api;
use crate::pages::SignedIn;
use crate::remote::ErrorNote;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use shared::api::{AuditEventView, AuditQuery, ExportFormat};
use shared::audit_filter::AuditFilter;

#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| params.with(api::audit_query_of));
    view! {
        <SignedIn>
            <main class="page wide" data-testid="audit-page">
                <p class="crumbs"><a href="/">"Endpoints"</a> " / Audit log"</p>
                <h1>"Audit log"</h1>
                <chain::ChainState />
                {move || {
                    let query = query.get();
                    view! {
                        <filters::Filters query=query.clone() />
                        <Events query=query />
                    }
                }}
            </main>
        </SignedIn>
    }
}

/// The events matching `query`, newest first (the API's default page), with "Load more" while
/// there are more.
#[component]
fn Events(query: AuditQuery) -> impl IntoView {
    // The console checks the filters by the API's rules before asking.
    let problems = AuditFilter::parse(&query).err();
    let events = RwSignal::new(Vec::<AuditEventView>::new());
    let next = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<api::ApiError>);
    let loading = RwSignal::new(false);
    let stored = StoredValue::new(query.clone());
    let load = move |after: Option<String>| {
        loading.set(true);
        let query = stored.get_value();
        leptos::task::spawn_local(async move {
            match api::audit_events(&query, after.as_deref()).await {
                Ok(page) => {
                    events.update(|events| events.extend(page.items));
                    next.set(page.next);
                    error.set(None);
                }
                Err(err) => error.set(Some(err)),
            }
            loading.set(false);
        });
    };
    if problems.is_none() {
        load(None);
    }
    let exports = [(ExportFormat::Jsonl, "JSON lines"), (ExportFormat::Csv, "CSV")]
        .map(|(format, label)| {
            let href = api::audit_export_href(&query, format);
            view! { <a href=href download data-testid=format!("audit-export-{label}")>{format!("Export {label}")}</a> }
        });
    view! {
        <section class="card" aria-label="Events" data-testid="audit-events">
            {problems.map(|problems| view! {
                <ul class="error problems" role="alert" data-testid="audit-filter-error">
                    {problems.into_iter().map(|p| view! { <li>{format!("{}: {}", p.field, p.message)}</li> }).collect_view()}
                </ul>
            })}
            <p class="actions">{exports}</p>
            {move || error.get().map(|error| view! { <ErrorNote error=error /> })}
            {move || (!loading.get() && error.with(Option::is_none) && events.with(Vec::is_empty)).then(|| view! {
                <p class="muted" data-testid="audit-empty">"No event matches these filters."</p>
            })}
            <ol class="audit-events">
                <For each=move || events.get() key=|e| e.id let:event>
                    <event::EventRow event=event />
                </For>
            </ol>
            {move || next.get().map(|after| view! {
                <button type="button" data-testid="audit-more" disabled=move || loading.get()
                    on:click=move |_| load(Some(after.clone()))>"Load more"</button>
            })}
        </section>
    }
}
