//! Green vs blue over the last hour: the rollout's two deployments side by side — requests, the
//! model error rate with failures split by kind, latency percentiles, and how mirrored answers
//! compared with live ones — so the approver of the next step sees how the new deployment did
//! before saying yes. A new deployment failing clearly more than the old one is red.

use crate::api;
use crate::components::traffic_health::{is_failing, ms, percent, window_label};
use crate::remote::{ErrorNote, Remote};
use leptos::prelude::*;
use shared::api::metrics::{DeploymentMetricsSummary, MAX_METRICS_MINUTES};
use shared::api::EndpointMetricsSummary;
use std::time::Duration;

/// Often enough to follow a bake; the counters are cheap to read.
const POLL: Duration = Duration::from_secs(5);

/// One deployment's row. `baseline` is the old deployment's model error rate, for the new
/// one's row: a new deployment failing clearly more shows in red.
#[component]
fn Row(
    name: String,
    role: &'static str,
    m: DeploymentMetricsSummary,
    baseline: Option<f64>,
) -> impl IntoView {
    let mirrored = m.mirrored.requests;
    let compared = m.comparison.equal + m.comparison.differ;
    // The new deployment's own failures count whether it takes live or mirrored requests.
    let rate = m
        .live
        .model_error_rate()
        .into_iter()
        .chain(m.mirrored.model_error_rate())
        .reduce(f64::max);
    let failing = is_failing(rate, baseline);
    let failures = format!(
        "{} model · {} throttled · {} client",
        m.live.model_errors() + m.mirrored.model_errors(),
        m.live.throttled() + m.mirrored.throttled(),
        m.live.client_errors() + m.mirrored.client_errors()
    );
    view! {
        <tr data-testid=format!("rollout-metrics-{role}") class:failing=failing data-failing=failing.to_string()>
            <th scope="row">{format!("{name} ({role})")}</th>
            <td data-label="Live requests" data-testid="metric-requests">{m.live.requests}</td>
            <td data-label="Mirrored">{mirrored}</td>
            <td data-label="Model error rate" data-testid="metric-errors">{percent(rate)}</td>
            <td data-label="Failures (model 5xx/424 · throttled 429 · client 4xx)" data-testid="metric-failures">{failures}</td>
            <td data-label="p50 / p95 / p99">{format!("{} / {} / {}", ms(m.live.p50_ms), ms(m.live.p95_ms), ms(m.live.p99_ms))}</td>
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
        metrics.load(async move { api::metrics(&name, MAX_METRICS_MINUTES).await });
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
    let window = move || metrics.ok().map(|m| window_label(&m)).unwrap_or_default();
    view! {
        <div class="table-wrap" data-testid="rollout-compare">
            <p class="muted">"Model error rate and failures " {window} "; latency percentiles of live requests."</p>
            <table class="stack">
                <thead><tr>
                    <th scope="col">"Deployment"</th><th scope="col">"Live requests"</th><th scope="col">"Mirrored"</th>
                    <th scope="col">"Model error rate"</th>
                    <th scope="col">"Failures (model 5xx/424 · throttled 429 · client 4xx)"</th>
                    <th scope="col">"p50 / p95 / p99"</th><th scope="col">"Mirror = live"</th>
                </tr></thead>
                <tbody>
                    {move || {
                        let (new_m, old_m) = (of(&new_name), of(&old_name));
                        let baseline = old_m.live.model_error_rate();
                        view! {
                            <Row name=new_name.clone() role="new" m=new_m baseline=baseline />
                            <Row name=old_name.clone() role="old" m=old_m baseline=None />
                        }
                    }}
                </tbody>
            </table>
            {move || metrics.error().map(|error| view! { <ErrorNote error=error /> })}
        </div>
    }
}
