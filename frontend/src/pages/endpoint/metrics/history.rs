//! The last hour minute by minute, as the backend serves it (so it survives a reload): requests
//! per minute, model error rate and p95 latency, one line per deployment — mirrored copies
//! dashed beside the deployment's live traffic.

use crate::components::charts::{ChartSeries, Colour, LineChart};
use leptos::prelude::*;
use shared::api::metrics::TrafficSummary;
use shared::api::EndpointMetricsSummary;
use shared::gates::MinuteSample;

/// A value of a minute, in the chart's unit.
type Pick = fn(&MinuteSample) -> Option<f64>;

fn requests(m: &MinuteSample) -> Option<f64> {
    Some(m.requests)
}

/// Model errors over the minute's requests that reached the model (throttled ones left out).
fn error_percent(m: &MinuteSample) -> Option<f64> {
    let judged = m.requests - m.throttled;
    (judged > 0.0).then(|| (m.errors / judged).clamp(0.0, 1.0) * 100.0)
}

fn p95(m: &MinuteSample) -> Option<f64> {
    m.p95_ms
}

/// One line per deployment and kind of traffic that has minutes.
fn lines(summary: &EndpointMetricsSummary, order: &[String], pick: Pick) -> Vec<ChartSeries> {
    let mut out = Vec::new();
    for (i, name) in order.iter().enumerate() {
        let Some(d) = summary.deployments.get(name) else {
            continue;
        };
        let kinds: [(&TrafficSummary, bool); 2] = [(&d.live, false), (&d.mirrored, true)];
        for (traffic, dashed) in kinds {
            if traffic.minutes.is_empty() {
                continue;
            }
            out.push(ChartSeries {
                name: if dashed {
                    format!("{name} (mirrored)")
                } else {
                    name.clone()
                },
                colour: Colour::nth(i),
                dashed,
                points: traffic.minutes.iter().map(|m| (m.at_ms, pick(m))).collect(),
            });
        }
    }
    out
}

/// `order` lists the deployments, the one taking most live traffic (blue) first, so it gets
/// the blue line.
#[component]
pub fn History(summary: EndpointMetricsSummary, order: Vec<String>) -> impl IntoView {
    let has_minutes = summary
        .deployments
        .values()
        .any(|d| !d.live.minutes.is_empty() || !d.mirrored.minutes.is_empty());
    if !has_minutes {
        return view! {
            <p class="muted" data-testid="metrics-history-empty">
                "No minute-by-minute history from the workspace yet: the numbers below are the totals."
            </p>
        }
        .into_any();
    }
    let range = (summary.start_ms > 0 && summary.end_ms > summary.start_ms)
        .then_some((summary.start_ms, summary.end_ms));
    let charts: [(&str, &'static str, Pick, &str); 3] = [
        ("Requests", "req/min", requests, "history-requests"),
        ("Model errors", "%", error_percent, "history-errors"),
        ("Latency p95", "ms", p95, "history-p95"),
    ];
    view! {
        <div class="chart-grid" data-testid="metrics-history">
            {charts.into_iter().map(|(title, unit, pick, testid)| view! {
                <LineChart title=title.to_owned() unit=unit series=lines(&summary, &order, pick)
                    range=range testid=testid />
            }).collect_view()}
        </div>
    }
    .into_any()
}
