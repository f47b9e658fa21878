//! The test panel: send a scoring request by traffic (as clients do) or straight to one
//! deployment (the seed's "test green before it gets traffic"), and see who answered what.

use super::use_endpoint;
use crate::api;
use crate::remote::ErrorNote;
use leptos::prelude::*;
use serde_json::Value;
use shared::api::InvokeRequest;

/// What the panel starts with when the model ships no sample request.
const FALLBACK_SAMPLE: &str = r#"{"data": [[1,2,3,4,5,6,7,8,9,10]]}"#;

#[component]
pub fn TestPanel() -> impl IntoView {
    let data = use_endpoint();
    let body = RwSignal::new(String::new());
    let edited = RwSignal::new(false);
    let target = RwSignal::new(String::new());

    // Prefill with the first deployment's sample request, once, unless the user typed already.
    let prefilled = StoredValue::new(false);
    Effect::new(move |_| {
        let Some(first) = data.deployment_list().into_iter().next() else {
            return;
        };
        if prefilled.get_value() || edited.get_untracked() {
            return;
        }
        prefilled.set_value(true);
        let endpoint = data.name();
        leptos::task::spawn_local(async move {
            let text = match api::sample_request(&endpoint, &first.name).await {
                Ok(Some(sample)) => {
                    serde_json::to_string(&sample).unwrap_or_else(|_| FALLBACK_SAMPLE.into())
                }
                _ => FALLBACK_SAMPLE.to_owned(),
            };
            if !edited.get_untracked() {
                body.set(text);
            }
        });
    });

    let parsed =
        Memo::new(move |_| serde_json::from_str::<Value>(&body.get()).map_err(|e| e.to_string()));
    // The last answer stays on screen while the next request is on its way.
    let invoke = Action::new_local(move |request: &InvokeRequest| {
        let (endpoint, request) = (data.name(), request.clone());
        async move { api::invoke(&endpoint, &request).await }
    });
    let pending = invoke.pending();
    let result = invoke.value();
    let send = move |_| {
        let Ok(body) = parsed.get_untracked() else {
            return;
        };
        let deployment = Some(target.get_untracked()).filter(|t| !t.is_empty());
        if !pending.get_untracked() {
            invoke.dispatch_local(InvokeRequest { body, deployment });
        }
    };

    view! {
        <section class="card" aria-labelledby="test-title" data-testid="test-panel">
            <h2 id="test-title">"Test"</h2>
            <label>
                "Request body (JSON)"
                <textarea data-testid="invoke-body" rows="6" spellcheck="false"
                    prop:value=move || body.get()
                    on:input=move |ev| { edited.set(true); body.set(event_target_value(&ev)) }></textarea>
            </label>
            {move || parsed.get().err().filter(|_| !body.with(String::is_empty)).map(|e| view! {
                <p class="error" role="alert" data-testid="invoke-body-problem">{format!("not valid JSON: {e}")}</p>
            })}
            <div class="row">
                <label>
                    "Send to"
                    <select data-testid="invoke-target" on:change=move |ev| target.set(event_target_value(&ev))>
                        <option value="" selected=move || target.get().is_empty()>"By traffic (as clients do)"</option>
                        {move || data.deployment_list().into_iter().map(|d| {
                            let name = d.name.clone();
                            let selected = move || target.get() == name;
                            view! { <option value=d.name.clone() selected=selected>{format!("{} only", d.name)}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <div class="actions">
                    <button type="button" data-testid="invoke-send" on:click=send
                        disabled=move || pending.get() || parsed.get().is_err()>
                        {move || if pending.get() { "Sending…" } else { "Send" }}
                    </button>
                </div>
            </div>
            <div aria-live="polite">
                {move || result.get().map(|answer| match answer {
                    Ok(r) => view! {
                        <dl class="facts" data-testid="invoke-result">
                            <div><dt>"Status"</dt><dd data-testid="invoke-status">{r.status}</dd></div>
                            <div><dt>"Answered by"</dt><dd data-testid="invoke-deployment">{r.deployment.unwrap_or_else(|| "—".into())}</dd></div>
                            <div><dt>"Latency"</dt><dd data-testid="invoke-latency">{format!("{:.0} ms", r.latency_ms)}</dd></div>
                        </dl>
                        <pre class="output" data-testid="invoke-answer">{serde_json::to_string_pretty(&r.body).unwrap_or_default()}</pre>
                    }.into_any(),
                    Err(error) => view! { <ErrorNote error=error /> }.into_any(),
                })}
            </div>
        </section>
    }
}
