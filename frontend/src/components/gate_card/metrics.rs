//! The gate's metrics as a table: blue's value beside green's in the metric's unit, the
//! effect, the p-value, the verdict, whether the metric is critical or only reported, and why.

use super::format::{self, metric_of};
use leptos::prelude::*;
use shared::gates::{Gate, GateRule, MetricJudgement};

/// The step's rule for a judged metric (critical, tolerance, minimum samples).
pub fn rule_for<'a>(gate: Option<&'a Gate>, m: &MetricJudgement) -> Option<&'a GateRule> {
    let metric = metric_of(m)?;
    gate?.rules.iter().find(|r| r.metric == metric)
}

#[component]
fn MetricRow(m: MetricJudgement, rule: Option<GateRule>) -> impl IntoView {
    let metric = metric_of(&m);
    let label = metric
        .map(|m| m.label().to_owned())
        .unwrap_or_else(|| m.name.clone());
    let (verdict, class) = format::verdict(m.verdict);
    let critical = rule.as_ref().is_some_and(|r| r.critical);
    let reasons = format::reasons(&m, rule.as_ref());
    view! {
        <tr data-testid=format!("gate-metric-{}", m.name) data-verdict=class>
            <th scope="row">
                {label}
                {critical.then(|| view! { " " <span class="mark critical" title="Its failure fails the gate whatever the score">"critical"</span> })}
                {m.report_only.then(|| view! { " " <span class="mark" title="Shown, never scored">"report only"</span> })}
            </th>
            <td data-label="Blue">{format::value(metric, m.control_value)}
                <span class="muted samples">{format!(" n={}", m.control_samples)}</span></td>
            <td data-label="Green">{format::value(metric, m.experiment_value)}
                <span class="muted samples">{format!(" n={}", m.experiment_samples)}</span></td>
            <td data-label="Effect">{format::effect(metric, m.control_value, m.experiment_value)}</td>
            <td data-label="p-value" class="p-value">{format::p_value(m.p_value)}</td>
            <td data-label="Verdict"><span class=format!("badge gate-{class}") data-testid="gate-metric-verdict">{verdict}</span></td>
            <td data-label="Why" class="wide">{reasons.join("; ")}</td>
        </tr>
    }
}

/// One row per judged metric. `control` and `experiment` name the columns (the deployments).
#[component]
pub fn MetricTable(
    metrics: Vec<MetricJudgement>,
    gate: Option<Gate>,
    control: String,
    experiment: String,
) -> impl IntoView {
    let rows = metrics
        .into_iter()
        .map(|m| {
            let rule = rule_for(gate.as_ref(), &m).cloned();
            view! { <MetricRow m=m rule=rule /> }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="stack gate-metrics" data-testid="gate-metrics">
                <thead><tr>
                    <th scope="col">"Metric"</th>
                    <th scope="col">{format!("Blue: {control}")}</th>
                    <th scope="col">{format!("Green: {experiment}")}</th>
                    <th scope="col">"Effect (green vs blue)"</th>
                    <th scope="col">"p-value"</th>
                    <th scope="col">"Verdict"</th>
                    <th scope="col">"Why"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
