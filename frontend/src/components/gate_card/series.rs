//! One chart per gate metric: blue's and green's value over the window on one time axis, with
//! the worst value green was allowed (blue's value plus the tolerance) as a dashed line.

use super::format::{self, display_unit, display_value};
use crate::components::charts::{ChartSeries, Colour, LineChart, Threshold};
use leptos::prelude::*;
use shared::gates::{Gate, GateReport, JudgedTraffic, MetricSeries};

/// The series of one metric as the chart's two lines.
fn lines(series: &MetricSeries, report: &GateReport) -> Vec<ChartSeries> {
    let metric = Some(series.metric);
    let scaled = |pick: fn(&shared::gates::SeriesPoint) -> Option<f64>| {
        series
            .points
            .iter()
            .map(|p| (p.at_ms, pick(p).map(|v| display_value(metric, v))))
            .collect()
    };
    let green = match report.traffic {
        JudgedTraffic::Mirrored => format!("{} (mirrored copies)", report.experiment),
        JudgedTraffic::Live => report.experiment.clone(),
    };
    vec![
        ChartSeries {
            name: report.control.clone(),
            colour: Colour::Blue,
            dashed: false,
            points: scaled(|p| p.control),
        },
        ChartSeries {
            name: green,
            colour: Colour::Green,
            dashed: false,
            points: scaled(|p| p.experiment),
        },
    ]
}

/// Where green's line may not go: blue's judged value plus the rule's tolerance.
fn threshold(series: &MetricSeries, report: &GateReport, gate: Option<&Gate>) -> Option<Threshold> {
    let rule = gate?.rules.iter().find(|r| r.metric == series.metric)?;
    let judged = report
        .judgement
        .metrics
        .iter()
        .find(|m| m.name == series.metric.as_str())?;
    let control = judged.control_value?;
    let metric = Some(series.metric);
    Some(Threshold {
        value: display_value(metric, format::tolerated(rule, control)),
        label: format!("tolerated for green ({})", format::tolerance(rule)),
    })
}

#[component]
pub fn SeriesCharts(report: GateReport, gate: Option<Gate>) -> impl IntoView {
    let range = Some((report.start_ms, report.end_ms));
    let charts = report
        .series
        .iter()
        .map(|s| {
            let metric = Some(s.metric);
            view! {
                <LineChart title=s.metric.label().to_owned() unit=display_unit(metric)
                    series=lines(s, &report) threshold=threshold(s, &report, gate.as_ref())
                    range=range testid=format!("gate-chart-{}", s.metric.as_str()) />
            }
            .into_any()
        })
        .collect_view();
    view! { <div class="chart-grid" data-testid="gate-charts">{charts}</div> }
}
