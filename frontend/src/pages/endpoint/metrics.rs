//! Per-deployment metrics as small charts. The API reports counters since the workspace
//! started; the page polls them every few seconds and turns successive readings into rates
//! (requests/s, error rate) over the last few minutes, live and mirrored traffic apart.

use super::use_endpoint;
use crate::api::{self, ApiError};
use crate::components::sparkline::Sparkline;
use crate::remote::ErrorNote;
use leptos::prelude::*;
use shared::api::metrics::{Comparison, DeploymentMetricsSummary, TrafficSummary};
use shared::api::EndpointMetricsSummary;
use std::collections::VecDeque;
use std::time::Duration;

const POLL: Duration = Duration::from_secs(3);
/// Five minutes of readings.
const KEEP: usize = 100;

/// One reading: when (ms since the epoch) and what.
type Reading = (f64, EndpointMetricsSummary);

/// Rates between successive readings of one deployment's live or mirrored traffic.
#[derive(Debug, Clone, Default, PartialEq)]
struct Series {
    per_second: Vec<f64>,
    error_percent: Vec<f64>,
    p95_ms: Vec<f64>,
    latest: TrafficSummary,
}

fn series(
    readings: &VecDeque<Reading>,
    deployment: &str,
    pick: fn(&DeploymentMetricsSummary) -> &TrafficSummary,
) -> Series {
    let mut out = Series::default();
    let of = |r: &Reading| {
        r.1.deployments
            .get(deployment)
            .map(|d| pick(d).clone())
            .unwrap_or_default()
    };
    for pair in readings.iter().collect::<Vec<_>>().windows(2) {
        let (before, after) = (of(pair[0]), of(pair[1]));
        let seconds = ((pair[1].0 - pair[0].0) / 1000.0).max(0.001);
        // A restarted workspace starts its counters again: count that step as zero.
        let requests = after.requests.saturating_sub(before.requests) as f64;
        let errors = after.errors.saturating_sub(before.errors) as f64;
        out.per_second.push(requests / seconds);
        out.error_percent.push(if requests > 0.0 {
            errors / requests * 100.0
        } else {
            0.0
        });
        out.p95_ms.push(after.p95_ms.unwrap_or(0.0));
    }
    if let Some(last) = readings.back() {
        out.latest = of(last);
    }
    out
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0} ms"))
        .unwrap_or_else(|| "—".into())
}

#[component]
pub fn Metrics() -> impl IntoView {
    let data = use_endpoint();
    let readings = RwSignal::new(VecDeque::<Reading>::new());
    let failed = RwSignal::new(None::<ApiError>);
    let poll = move || {
        if data.in_transit() {
            return;
        }
        let endpoint = data.name();
        leptos::task::spawn_local(async move {
            match api::metrics(&endpoint).await {
                Ok(summary) => {
                    failed.try_set(None);
                    data.ready_instances.try_set(
                        summary
                            .deployments
                            .iter()
                            .filter_map(|(name, d)| d.ready_instances.map(|r| (name.clone(), r)))
                            .collect(),
                    );
                    readings.try_update(|r| {
                        r.push_back((js_sys::Date::now(), summary));
                        while r.len() > KEEP {
                            r.pop_front();
                        }
                    });
                }
                Err(err) => {
                    failed.try_set(Some(err));
                }
            }
        });
    };
    poll();
    if let Ok(handle) = set_interval_with_handle(poll, POLL) {
        on_cleanup(move || handle.clear());
    }

    let names = Memo::new(move |_| {
        let mut names: Vec<String> = data.deployment_list().into_iter().map(|d| d.name).collect();
        readings.with(|r| {
            if let Some((_, last)) = r.back() {
                for name in last.deployments.keys() {
                    if !names.contains(name) {
                        names.push(name.clone());
                    }
                }
            }
        });
        names
    });

    view! {
        <section class="card" aria-labelledby="metrics-title" data-testid="metrics">
            <h2 id="metrics-title">"Metrics"</h2>
            <p class="muted">"Requests per second, error rate and p95 latency over the last minutes (read every 3 s)."</p>
            {move || failed.get().map(|error| view! { <ErrorNote error=error /> })}
            <div class="metric-grid">
                {move || names.get().into_iter().map(|name| {
                    let live = readings.with(|r| series(r, &name, |d| &d.live));
                    let mirrored = readings.with(|r| series(r, &name, |d| &d.mirrored));
                    let comparison = readings.with(|r| {
                        r.back().and_then(|(_, s)| s.deployments.get(&name)).map(|d| d.comparison.clone())
                    }).unwrap_or_default();
                    view! {
                        <div class="metric" data-testid=format!("metrics-{name}")>
                            <h3>{name.clone()}</h3>
                            <TrafficBlock title="Live" name=name.clone() series=live />
                            {(mirrored.latest.requests > 0).then(|| view! {
                                <TrafficBlock title="Mirrored" name=name.clone() series=mirrored />
                            })}
                            {(comparison.equal + comparison.differ > 0).then(|| view! {
                                <ComparisonView name=name.clone() comparison=comparison />
                            })}
                        </div>
                    }
                }).collect_view()}
            </div>
        </section>
    }
}

#[component]
fn TrafficBlock(title: &'static str, name: String, series: Series) -> impl IntoView {
    let testid = format!("metrics-{}-{name}", title.to_lowercase());
    let latest = series.latest;
    view! {
        <div class="traffic-block" data-testid=testid>
            <h4>{title}</h4>
            <p class="muted">
                {format!("{} requests, {} errors · p50 {} · p95 {}",
                    latest.requests, latest.errors, ms(latest.p50_ms), ms(latest.p95_ms))}
            </p>
            <Sparkline points=series.per_second label="requests" unit="/s"
                description=format!("{title} requests per second to {name}") />
            <Sparkline points=series.error_percent label="errors" unit="%"
                description=format!("{title} error rate of {name}") />
            <Sparkline points=series.p95_ms label="p95" unit="ms"
                description=format!("{title} p95 latency of {name}") />
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
