//! A tiny line chart: enough to see a trend at a glance, without a chart library's weight.

use leptos::prelude::*;

/// Draws `points` (oldest first) scaled to the largest, with the latest value beside it.
/// `label` is the short caption ("req/s"); `description` says in full what it is, for screen
/// readers ("Live requests/s to blue").
#[component]
pub fn Sparkline(
    points: Vec<f64>,
    label: &'static str,
    description: String,
    unit: &'static str,
) -> impl IntoView {
    let max = points.iter().copied().fold(0.0_f64, f64::max);
    let n = points.len();
    let coords: String = points
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = if n > 1 {
                i as f64 * 100.0 / (n - 1) as f64
            } else {
                100.0
            };
            let y = if max > 0.0 {
                22.0 - v / max * 20.0
            } else {
                22.0
            };
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let latest = points
        .last()
        .map(|v| format!("{v:.1} {unit}"))
        .unwrap_or_else(|| "—".into());
    let aria = format!("{description}: {latest}");
    view! {
        <figure class="spark">
            <svg viewBox="0 0 100 24" preserveAspectRatio="none" role="img" aria-label=aria>
                <polyline points=coords fill="none" stroke="currentColor" stroke-width="1.5"
                    vector-effect="non-scaling-stroke" />
            </svg>
            <figcaption aria-hidden="true">{label} " " <strong>{latest}</strong></figcaption>
        </figure>
    }
}
