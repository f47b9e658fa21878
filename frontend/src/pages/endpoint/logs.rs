//! The last lines a deployment's instances printed.

use super::use_endpoint;
use crate::api;
use crate::remote::{ErrorNote, Remote};
use leptos::prelude::*;
use shared::api::DeploymentLogs;

const TAIL: u32 = 100;

#[component]
pub fn Logs() -> impl IntoView {
    let data = use_endpoint();
    let chosen = RwSignal::new(String::new());
    let logs = Remote::<DeploymentLogs>::new();
    // Default to the first deployment; drop a choice that no longer exists.
    Effect::new(move |_| {
        let names: Vec<String> = data.deployment_list().into_iter().map(|d| d.name).collect();
        if !names.contains(&chosen.get_untracked()) {
            chosen.set(names.into_iter().next().unwrap_or_default());
        }
    });
    let load = move || {
        let deployment = chosen.get_untracked();
        if deployment.is_empty() || data.in_transit() {
            return;
        }
        let endpoint = data.name();
        logs.load(async move { api::logs(&endpoint, &deployment, TAIL).await });
    };
    Effect::new(move |_| {
        chosen.track();
        load();
    });
    view! {
        <section class="card" aria-labelledby="logs-title" data-testid="logs">
            <h2 id="logs-title">"Logs"</h2>
            <div class="row">
                <label>
                    "Deployment"
                    <select data-testid="logs-deployment" on:change=move |ev| chosen.set(event_target_value(&ev))>
                        {move || data.deployment_list().into_iter().map(|d| {
                            let name = d.name.clone();
                            let selected = move || chosen.get() == name;
                            view! { <option value=d.name.clone() selected=selected>{d.name.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <div class="actions">
                    <button type="button" class="secondary" data-testid="logs-refresh" on:click=move |_| load()>"Refresh"</button>
                </div>
            </div>
            {move || logs.error().map(|error| view! { <ErrorNote error=error /> })}
            {move || logs.ok().map(|l| view! {
                <pre class="output logs" data-testid="logs-content" tabindex="0" aria-label=format!("Last {TAIL} log lines")>
                    {if l.content.is_empty() { "(no output yet)".to_owned() } else { l.content }}
                </pre>
            })}
        </section>
    }
}
