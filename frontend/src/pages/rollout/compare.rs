//! Green vs blue so far: the workspace's counters for the rollout's two deployments side by
//! side — requests, errors, latency, and how mirrored answers compared with live ones — so the
//! approver of the next step sees how the new deployment did before saying yes.

use crate::api;
use crate::remote::{ErrorNote, Remote};
use leptos::prelude::*;
use shared::api::metrics::DeploymentMetricsSummary;
use shared::api::EndpointMetricsSummary;
use std::time::Duration;

/// Often enough to follow a bake; the counters are cheap to read.
const POLL: Duration = Duration::from_secs(5);

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0} ms"))
        .unwrap_or_else(|| "—".into())
}

fn error_rate(requests: u64, errors: u64) -> String {
    if requests == 0 {
        "—".into()
    } else {
        format!("{:.1} %", errors as f64 / requests as f64 * 100.0)
    }
}

#[component]
fn Row(name: String, role: &'static str, m: DeploymentMetricsSummary) -> impl IntoView {
    let mirrored = m.mirrored.requests;
    let compared = m.comparison.equal + m.comparison.differ;
    view! {
        <tr data-testid=format!("rollout-metrics-{role}")>
            <th scope="row">{format!("{name} ({role})")}</th>
            <td data-label="Live requests" data-testid="metric-requests">{m.live.requests}</td>
            <td data-label="Error rate" data-testid="metric-errors">{error_rate(m.live.requests, m.live.errors)}</td>
            <td data-label="p95">{ms(m.live.p95_ms)}</td>
            <td data-label="Mirrored">{mirrored}</td>
            <td data-label="Mirror = live">{if compared == 0 { "—".to_owned() } else {
                format!("{} of {compared}", m.comparison.equal)
            }}</td>
        </tr>
    }
}

/// The two deployments' numbers, reloaded every few seconds and whenever `moved` changes.
#[component]
pub fn Compare(
    endpoint: String,
    old: String,
    new: String,
    #[prop(into)] moved: Signal<u64>,
) -> impl IntoView {
    let metrics = Remote::<EndpointMetricsSummary>::new();
    let name = StoredValue::new(endpoint);
    let load = move || {
        let name = name.get_value();
        metrics.load(async move { api::metrics(&name).await });
    };
    Effect::new(move |_| {
        moved.track();
        load();
    });
    if let Ok(handle) = set_interval_with_handle(load, POLL) {
        on_cleanup(move || handle.clear());
    }
    let of = move |deployment: &str| {
        metrics
            .ok()
            .and_then(|m| m.deployments.get(deployment).cloned())
            .unwrap_or_default()
    };
    let (old_name, new_name) = (old.clone(), new.clone());
    view! {
        <div class="table-wrap" data-testid="rollout-compare">
            <table class="stack">
                <thead><tr>
                    <th scope="col">"Deployment"</th><th scope="col">"Live requests"</th><th scope="col">"Error rate"</th>
                    <th scope="col">"p95"</th><th scope="col">"Mirrored"</th><th scope="col">"Mirror = live"</th>
                </tr></thead>
                <tbody>
                    {move || view! {
                        <Row name=new_name.clone() role="new" m=of(&new_name) />
                        <Row name=old_name.clone() role="old" m=of(&old_name) />
                    }}
                </tbody>
            </table>
            {move || metrics.error().map(|error| view! { <ErrorNote error=error /> })}
        </div>
    }
}
