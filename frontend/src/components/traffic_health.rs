//! How a deployment's traffic over a window reads, the same on the endpoint page and the
//! rollout page: the model error rate over the window (never all 4xx/5xx lumped together),
//! failures split by whose fault they are, real percentiles, and one rule for when a
//! deployment's error rate is bad enough to show in red.

use leptos::prelude::*;
use shared::api::metrics::TrafficSummary;
use shared::api::EndpointMetricsSummary;

/// Any deployment failing more than this share of requests is shown as failing.
pub const FAILING_RATE: f64 = 0.02;
/// A deployment failing this many points more than the one it is compared with (blue) is
/// shown as failing, even under [`FAILING_RATE`].
pub const WORSE_BY: f64 = 0.01;

/// Whether a model error rate is bad: above [`FAILING_RATE`], or clearly above blue's.
pub fn is_failing(rate: Option<f64>, baseline: Option<f64>) -> bool {
    let Some(rate) = rate else {
        return false;
    };
    rate > FAILING_RATE || baseline.is_some_and(|b| rate - b > WORSE_BY)
}

/// "over the last 60 min", or "since the workspace started" when the backend serves counters
/// without a window.
pub fn window_label(summary: &EndpointMetricsSummary) -> String {
    let span = summary.end_ms - summary.start_ms;
    if summary.start_ms > 0 && span > 0 {
        format!(
            "over the last {} min",
            (span as f64 / 60_000.0).round().max(1.0)
        )
    } else {
        "since the workspace started".into()
    }
}

/// "3.2 %", "—" without requests.
pub fn percent(rate: Option<f64>) -> String {
    rate.map(|r| format!("{:.1} %", r * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// "184 ms", "—".
pub fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0} ms"))
        .unwrap_or_else(|| "—".into())
}

/// "p50 12 ms · p95 180 ms · p99 240 ms".
pub fn percentiles(t: &TrafficSummary) -> String {
    format!(
        "p50 {} · p95 {} · p99 {}",
        ms(t.p50_ms),
        ms(t.p95_ms),
        ms(t.p99_ms)
    )
}

/// The model error rate in bold (red when failing) and the failures split by kind: model
/// errors (5xx, 424), throttled (429), client errors (4xx). `baseline` is blue's rate, to
/// compare with; `blue` names it.
#[component]
pub fn Failures(
    traffic: TrafficSummary,
    window: String,
    #[prop(default = None)] baseline: Option<f64>,
    #[prop(default = None)] blue: Option<String>,
) -> impl IntoView {
    let rate = traffic.model_error_rate();
    let failing = is_failing(rate, baseline);
    let versus = match (&blue, baseline, failing) {
        (Some(blue), Some(b), true) => Some(format!(" — worse than {blue} ({})", percent(Some(b)))),
        _ => None,
    };
    view! {
        <div class="failures" class:failing=failing data-testid="failures" data-failing=failing.to_string()>
            <p>
                <strong data-testid="model-error-rate">{format!("Model errors {}", percent(rate))}</strong>
                " " <span class="muted">{window}</span>
                {versus}
            </p>
            <dl class="split" data-testid="failure-split">
                <div><dt>"Requests"</dt><dd data-testid="split-requests">{traffic.requests}</dd></div>
                <div><dt>"Model errors (5xx, 424)"</dt><dd data-testid="split-model-errors">{traffic.model_errors()}</dd></div>
                <div><dt>"Throttled (429)"</dt><dd data-testid="split-throttled">{traffic.throttled()}</dd></div>
                <div><dt>"Client errors (4xx)"</dt><dd data-testid="split-client-errors">{traffic.client_errors()}</dd></div>
            </dl>
        </div>
    }
}
