//! Per-deployment metrics over the last hour, as the backend serves them: the model error rate
//! over the window with failures split by whose fault they are, real percentiles, and the
//! history minute by minute (served, so it survives a reload). Read every few seconds and
//! whenever the live feed reports an operation on the endpoint. A deployment failing clearly
//! more than the one taking most live traffic (blue) — or more than 2 % — is shown in red.

mod history;

use super::use_endpoint;
use crate::api::{self, ApiError};
use crate::components::traffic_health::{is_failing, percentiles, window_label, Failures};
use crate::events::use_feed;
use crate::remote::ErrorNote;
use leptos::prelude::*;
use shared::api::metrics::{Comparison, TrafficSummary};
use shared::api::{EndpointMetricsSummary, Split};
use std::time::Duration;

const POLL: Duration = Duration::from_secs(5);
/// The window shown: the longest the backend serves.
const WINDOW_MINUTES: u32 = shared::api::metrics::MAX_METRICS_MINUTES;

/// The deployment taking most live traffic: the one others are compared with.
fn baseline(traffic: &Split) -> Option<String> {
    traffic
        .iter()
        .filter(|(_, w)| **w > 0)
        .max_by_key(|(_, w)| **w)
        .map(|(name, _)| name.clone())
}

/// "live 90 %", "mirror 20 %", "no traffic".
fn role(name: &str, traffic: &Split, mirror: &Split) -> String {
    match (
        traffic.get(name).filter(|w| **w > 0),
        mirror.get(name).filter(|w| **w > 0),
    ) {
        (Some(w), _) => format!("live {w} %"),
        (_, Some(w)) => format!("mirror {w} %"),
        _ => "no traffic".into(),
    }
}

#[component]
pub fn Metrics() -> impl IntoView {
    let data = use_endpoint();
    let feed = use_feed();
    let latest = RwSignal::new(None::<EndpointMetricsSummary>);
    let failed = RwSignal::new(None::<ApiError>);
    let poll = move || {
        if data.in_transit() {
            return;
        }
        let endpoint = data.name();
        leptos::task::spawn_local(async move {
            match api::metrics(&endpoint, WINDOW_MINUTES).await {
                Ok(summary) => {
                    failed.try_set(None);
                    data.ready_instances.try_set(
                        summary
                            .deployments
                            .iter()
                            .filter_map(|(name, d)| d.ready_instances.map(|r| (name.clone(), r)))
                            .collect(),
                    );
                    latest.try_set(Some(summary));
                }
                Err(err) => {
                    failed.try_set(Some(err));
                }
            }
        });
    };
    if let Ok(handle) = set_interval_with_handle(poll, POLL) {
        on_cleanup(move || handle.clear());
    }
    let activity = Memo::new(move |_| data.name.with_value(|n| feed.activity_of(n)));
    Effect::new(move |_| {
        activity.with(|_| ());
        poll();
    });

    let split = Memo::new(move |_| {
        data.traffic()
            .map(|t| (t.traffic, t.mirror_traffic))
            .unwrap_or_default()
    });
    // Blue first (the blue line), then the others as the deployment list has them.
    let names = Memo::new(move |_| {
        let mut names: Vec<String> = data.deployment_list().into_iter().map(|d| d.name).collect();
        latest.with(|l| {
            for name in l.iter().flat_map(|l| l.deployments.keys()) {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        });
        if let Some(blue) = split.with(|(t, _)| baseline(t)) {
            if let Some(i) = names.iter().position(|n| *n == blue) {
                let first = names.remove(i);
                names.insert(0, first);
            }
        }
        names
    });

    view! {
        <section class="card" aria-labelledby="metrics-title" data-testid="metrics">
            <h2 id="metrics-title">"Metrics"</h2>
            <p class="muted">{format!("Live and mirrored traffic per deployment over the last {WINDOW_MINUTES} min, read every {} s. Failures are split by whose fault they are: the model's (5xx, 424), capacity (429), the caller's (4xx).", POLL.as_secs())}</p>
            {move || failed.get().map(|error| view! { <ErrorNote error=error /> })}
            {move || latest.get().map(|summary| view! { <history::History summary=summary order=names.get() /> })}
            <div class="metric-grid">
                {move || latest.get().map(|summary| {
                    let (traffic, mirror) = split.get();
                    let blue = baseline(&traffic);
                    let blue_rate = blue.as_ref()
                        .and_then(|b| summary.deployments.get(b))
                        .and_then(|d| d.live.model_error_rate());
                    let window = window_label(&summary);
                    names.get().into_iter().map(|name| {
                        let d = summary.deployments.get(&name).cloned().unwrap_or_default();
                        let compare = (blue.as_deref() != Some(name.as_str())).then(|| blue.clone()).flatten();
                        let baseline = compare.as_ref().and(blue_rate);
                        let failing = is_failing(d.live.model_error_rate(), baseline)
                            || is_failing(d.mirrored.model_error_rate(), baseline);
                        let role = role(&name, &traffic, &mirror);
                        view! {
                            <div class="metric" class:failing=failing data-testid=format!("metrics-{name}")
                                data-failing=failing.to_string()>
                                <h3>{name.clone()} " " <span class="muted deployment-role">{role}</span></h3>
                                // A mirror-only deployment's empty live block would only add noise.
                                {(d.live.requests > 0 || d.mirrored.requests == 0).then(|| view! {
                                    <TrafficBlock title="Live" name=name.clone() traffic=d.live.clone()
                                        window=window.clone() baseline=baseline blue=compare.clone() />
                                })}
                                {(d.mirrored.requests > 0).then(|| view! {
                                    <TrafficBlock title="Mirrored" name=name.clone() traffic=d.mirrored.clone()
                                        window=window.clone() baseline=baseline blue=compare.clone() />
                                })}
                                {(d.comparison.equal + d.comparison.differ > 0).then(|| view! {
                                    <ComparisonView name=name.clone() comparison=d.comparison.clone() />
                                })}
                            </div>
                        }
                    }).collect_view()
                })}
            </div>
        </section>
    }
}

/// One kind of traffic to a deployment: its failures and percentiles over the window.
#[component]
fn TrafficBlock(
    title: &'static str,
    name: String,
    traffic: TrafficSummary,
    window: String,
    baseline: Option<f64>,
    blue: Option<String>,
) -> impl IntoView {
    let testid = format!("metrics-{}-{name}", title.to_lowercase());
    let latency = percentiles(&traffic);
    view! {
        <div class="traffic-block" data-testid=testid>
            <h4>{title}</h4>
            <Failures traffic=traffic window=window baseline=baseline blue=blue />
            <p class="muted" data-testid="percentiles">{latency}</p>
        </div>
    }
}

/// Mirrored answers against the live ones for the same requests.
#[component]
fn ComparisonView(name: String, comparison: Comparison) -> impl IntoView {
    view! {
        <div class="comparison" data-testid=format!("comparison-{name}")>
            <h4>"Mirrored vs live answers"</h4>
            <p>
                <span data-testid="comparison-equal">{format!("{} equal", comparison.equal)}</span>
                " · "
                <span data-testid="comparison-differ">{format!("{} differ", comparison.differ)}</span>
            </p>
            {(!comparison.samples.is_empty()).then(|| view! {
                <details>
                    <summary>{format!("{} differing samples", comparison.samples.len())}</summary>
                    {comparison.samples.into_iter().map(|s| view! {
                        <dl class="sample">
                            <dt>"Request"</dt><dd><code>{s.request}</code></dd>
                            <dt>"Live"</dt><dd><code>{s.live}</code></dd>
                            <dt>"Mirror"</dt><dd><code>{s.mirror}</code></dd>
                        </dl>
                    }).collect_view()}
                </details>
            })}
        </div>
    }
}
