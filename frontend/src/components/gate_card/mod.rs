//! A gated step's card: the gate's outcome and score against its thresholds, what it judged
//! (which traffic, how finely, over which window, how many requests on each side), every
//! metric blue against green with its verdict and why, a chart per metric, and the prediction
//! diff — so the person watching a rollout sees why green passed or was rolled back. A step
//! whose gate has not judged yet shows the gate's settings instead.

mod agreement;
mod format;
mod metrics;
mod series;

use crate::components::charts::scale::clock_seconds;
use leptos::prelude::*;
use shared::api::rollouts::GateCheck;
use shared::gates::{Gate, GateReport, Granularity, JudgedTraffic, Outcome};
use std::time::Duration;

/// "5 min", "90 s", "1 h 30 min".
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// The outcome's word, which is also its badge's class (`gate-pass`, …).
fn word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Marginal => "marginal",
        Outcome::Fail => "fail",
        Outcome::Inconclusive => "inconclusive",
    }
}

/// What the outcome means for the rollout: what happened once decided, or that the gate still
/// watches.
fn meaning(o: Outcome, decided: bool) -> String {
    let so_far = |how: &str| format!("{how} so far: the gate keeps watching until the window ends");
    match (o, decided) {
        (Outcome::Pass, true) => "green passed: the rollout went on".into(),
        (Outcome::Marginal, true) => "neither clearly good nor bad: an approver decides".into(),
        (Outcome::Fail, true) => "green failed: traffic went back to blue".into(),
        (Outcome::Inconclusive, true) => {
            "not enough data in the window: an approver decides".into()
        }
        (Outcome::Inconclusive, false) => "not enough data yet: the gate keeps watching".into(),
        (Outcome::Pass, false) => so_far("passing"),
        (Outcome::Marginal, false) => so_far("marginal"),
        (Outcome::Fail, false) => so_far("failing"),
    }
}

/// "Score 40 of 100 (pass ≥ 95, marginal ≥ 75)".
fn score(score: Option<f64>, gate: Option<&Gate>) -> String {
    let thresholds = gate
        .map(|g| {
            format!(
                " (pass ≥ {:.0}, marginal ≥ {:.0})",
                g.pass_score, g.marginal_score
            )
        })
        .unwrap_or_default();
    match score {
        Some(s) => format!("Score {s:.0} of 100{thresholds}"),
        None => format!("No score yet{thresholds}"),
    }
}

/// What was judged, as facts.
#[component]
fn Judged(report: GateReport) -> impl IntoView {
    let traffic = match report.traffic {
        JudgedTraffic::Mirrored => format!(
            "{}'s mirrored copies of live requests vs {}'s live requests",
            report.experiment, report.control
        ),
        JudgedTraffic::Live => format!(
            "{}'s live share vs {}'s live share",
            report.experiment, report.control
        ),
    };
    let granularity = match report.granularity {
        Granularity::PerRequest => "per request",
        Granularity::PerMinute => "per minute (aggregates)",
    };
    let length = Duration::from_millis((report.end_ms - report.start_ms).max(0) as u64);
    let window = format!(
        "{} → {} UTC ({})",
        clock_seconds(report.start_ms),
        clock_seconds(report.end_ms),
        span(length)
    );
    view! {
        <dl class="facts gate-judged" data-testid="gate-judged">
            <div class="grow"><dt>"Judged"</dt><dd data-testid="gate-traffic">{traffic}</dd></div>
            <div><dt>"Samples"</dt><dd>{granularity}</dd></div>
            <div><dt>"Window"</dt><dd>{window}</dd></div>
            <div><dt>{format!("Requests to {}", report.control)}</dt><dd>{report.control_requests}</dd></div>
            <div><dt>{format!("Requests to {}", report.experiment)}</dt><dd data-testid="gate-experiment-requests">{report.experiment_requests}</dd></div>
            <div><dt>{format!("{} throttled (429, not judged)", report.experiment)}</dt>
                <dd data-testid="gate-throttled">{report.experiment_throttled}</dd></div>
        </dl>
    }
}

/// A step's latest gate judgement. `gate` is the step's gate (thresholds, critical metrics,
/// tolerances); without it the card shows the report alone.
#[component]
pub fn GateCard(check: GateCheck, gate: Option<Gate>) -> impl IntoView {
    let report = check.report;
    let (word, meaning) = (
        word(report.judgement.outcome),
        meaning(report.judgement.outcome, check.decided),
    );
    let class = word;
    let when = if check.decided {
        "decided"
    } else {
        "latest judgement"
    };
    let judged_at = format!(
        "{when} at {} UTC",
        clock_seconds(check.judged_at.timestamp_millis())
    );
    view! {
        <section class=format!("gate-card gate-{class}") data-testid="gate-card" data-outcome=word
            data-decided=check.decided.to_string() aria-label="Gate">
            <header class="gate-head">
                <strong>"Gate"</strong>
                <span class=format!("badge gate-{class}") data-testid="gate-outcome">{word}</span>
                <span data-testid="gate-score">{score(report.judgement.score, gate.as_ref())}</span>
                <span class="muted">{judged_at}</span>
            </header>
            <p class="gate-meaning">{meaning}</p>
            <Judged report=report.clone() />
            <metrics::MetricTable metrics=report.judgement.metrics.clone() gate=gate.clone()
                control=report.control.clone() experiment=report.experiment.clone() />
            {report.agreement.clone().map(|a| view! {
                <agreement::AgreementView agreement=a control=report.control.clone() experiment=report.experiment.clone() />
            })}
            <details class="gate-series" open=report.judgement.outcome != Outcome::Pass>
                <summary>"Blue vs green over the window"</summary>
                <series::SeriesCharts report=report.clone() gate=gate />
            </details>
        </section>
    }
}

/// A gated step before its first judgement: the gate's settings.
#[component]
pub fn GateWaiting(gate: Gate, window: Option<Duration>) -> impl IntoView {
    let window = window
        .map(|d| format!("judged over the step's {}", span(d)))
        .unwrap_or_else(|| "judged over the step's window".into());
    let rules = gate
        .rules
        .iter()
        .map(|r| {
            let mut marks = vec![format!("tolerated {}", format::tolerance(r))];
            if r.critical {
                marks.push("critical".into());
            }
            if r.report_only {
                marks.push("report only".into());
            }
            marks.push(format!("at least {} samples", r.min_samples));
            view! { <li>{r.metric.label()} " — " {marks.join(", ")}</li> }
        })
        .collect_view();
    view! {
        <section class="gate-card gate-waiting" data-testid="gate-waiting" aria-label="Gate">
            <p><strong>"Gate: waiting for the window"</strong> " (" {window} "; "
                {format!("pass ≥ {:.0}, marginal ≥ {:.0}; without enough samples it watches {} longer, then asks an approver",
                    gate.pass_score, gate.marginal_score, span(gate.patience.0))} ")"</p>
            <ul class="gate-rules">{rules}</ul>
        </section>
    }
}
