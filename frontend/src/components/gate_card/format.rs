//! How a gate's numbers read: each metric in its own unit (shares as %, latencies in ms), the
//! effect of green against blue, and in words why a metric got its verdict. Plain functions of
//! the report and the step's gate rule.

use shared::gates::judge::ALPHA;
use shared::gates::{GateMetric, GateRule, MetricJudgement, Verdict};

/// The metric a judgement names, if the console knows it.
pub fn metric_of(m: &MetricJudgement) -> Option<GateMetric> {
    GateMetric::parse(&m.name)
}

/// Shares are shown in per cent.
pub fn is_share(metric: Option<GateMetric>) -> bool {
    metric.is_some_and(|m| m.unit() == "share")
}

/// The unit a chart or cell shows a metric's values in.
pub fn display_unit(metric: Option<GateMetric>) -> &'static str {
    if is_share(metric) {
        "%"
    } else {
        "ms"
    }
}

/// A metric's raw value (a share or ms) in its display unit.
pub fn display_value(metric: Option<GateMetric>, v: f64) -> f64 {
    if is_share(metric) {
        v * 100.0
    } else {
        v
    }
}

/// "2.50 %", "184 ms", "—".
pub fn value(metric: Option<GateMetric>, v: Option<f64>) -> String {
    let Some(v) = v else {
        return "—".into();
    };
    if is_share(metric) {
        format!("{:.2} %", v * 100.0)
    } else if v < 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}

/// Green's change against blue: relative when blue's value is not zero, and in the metric's
/// own unit beside it ("+50 % (+1.00 pp)", "+12 % (+24 ms)"); only the absolute change when
/// blue is at zero (an error rate from 0 to 3 % has no relative size).
pub fn effect(metric: Option<GateMetric>, c: Option<f64>, e: Option<f64>) -> String {
    let (Some(c), Some(e)) = (c, e) else {
        return "—".into();
    };
    let absolute = if is_share(metric) {
        format!("{:+.2} pp", (e - c) * 100.0)
    } else {
        format!("{:+.1} ms", e - c)
    };
    if c.abs() < 1e-12 {
        absolute
    } else {
        format!("{:+.1} % ({absolute})", (e - c) / c.abs() * 100.0)
    }
}

/// "0.003", "< 0.001", "—".
pub fn p_value(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "< 0.001".into(),
        Some(p) => format!("{p:.3}"),
        None => "—".into(),
    }
}

/// The verdict in a word or two, and the badge class it is drawn with.
pub fn verdict(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Pass => ("pass", "pass"),
        Verdict::High => ("worse: higher", "fail"),
        Verdict::Low => ("worse: lower", "fail"),
        Verdict::Inconclusive => ("too few samples", "inconclusive"),
        Verdict::NoData => ("no data", "inconclusive"),
    }
}

/// "+10 % of blue or +25 ms, whichever is larger"; "−5.00 pp" for a metric where lower is
/// worse (prediction agreement).
pub fn tolerance(rule: &GateRule) -> String {
    let metric = Some(rule.metric);
    let sign = if rule.metric == GateMetric::PredictionAgreement {
        "−"
    } else {
        "+"
    };
    let absolute = if is_share(metric) {
        format!("{sign}{:.2} pp", rule.absolute * 100.0)
    } else {
        format!("{sign}{} ms", rule.absolute)
    };
    if rule.relative > 0.0 {
        format!(
            "{sign}{:.0} % of blue or {absolute}, whichever is larger",
            rule.relative * 100.0
        )
    } else {
        absolute
    }
}

/// Green's worst tolerated value given blue's (in the metric's raw unit).
pub fn tolerated(rule: &GateRule, control: f64) -> f64 {
    let allowed = (rule.relative * control.abs()).max(rule.absolute);
    match rule.metric {
        GateMetric::PredictionAgreement => control - allowed,
        _ => control + allowed,
    }
}

/// Why a metric got its verdict, in sentences.
pub fn reasons(m: &MetricJudgement, rule: Option<&GateRule>) -> Vec<String> {
    let mut out = Vec::new();
    let tolerance = rule.map(tolerance);
    match m.verdict {
        Verdict::NoData => {
            let side = match (m.control_samples, m.experiment_samples) {
                (0, 0) => "either side",
                (0, _) => "blue's side",
                _ => "green's side",
            };
            out.push(format!("no samples on {side} yet"));
        }
        Verdict::Inconclusive => {
            let needed = rule.map(|r| format!("; needs {} on each", r.min_samples));
            out.push(format!(
                "too few samples: blue {}, green {}{}",
                m.control_samples,
                m.experiment_samples,
                needed.unwrap_or_default()
            ));
        }
        Verdict::High | Verdict::Low => {
            let way = if m.verdict == Verdict::High {
                "higher"
            } else {
                "lower"
            };
            let p = match m.p_value {
                Some(p) if p < 0.001 => "p < 0.001".to_owned(),
                p => format!("p = {}", p_value(p)),
            };
            out.push(format!("green significantly {way} ({p}, below {ALPHA})"));
            if let Some(t) = tolerance {
                out.push(format!("beyond the tolerated {t}"));
            }
        }
        Verdict::Pass => match m.p_value {
            Some(p) if p < ALPHA => out.push(match tolerance {
                Some(t) => format!("a significant difference, but within the tolerated {t}"),
                None => "a significant difference, but within tolerance".into(),
            }),
            _ => out.push(format!("no significant difference (p ≥ {ALPHA})")),
        },
    }
    out
}
