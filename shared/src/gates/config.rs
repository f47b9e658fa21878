//! A step's gate as a plan carries it: which metrics green is judged on against blue, and how
//! strictly. Every field has a default (the seed plan's gate), and [`Gate::problems`] is the
//! rule the plan check applies.

use super::judge::{Direction, Thresholds};
use super::predictions::NumberTolerance;
use crate::rollout::StepDuration;
use serde::{Deserialize, Serialize};

/// What a gate measures on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GateMetric {
    /// Share of requests the model failed (5xx, 424); throttled requests left out.
    ErrorRate,
    LatencyP50,
    LatencyP95,
    LatencyP99,
    /// Share of mirrored requests whose answers agree with the live answers (mirror steps on
    /// a workspace that keeps both answers).
    PredictionAgreement,
}

impl GateMetric {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ErrorRate => "error_rate",
            Self::LatencyP50 => "latency_p50",
            Self::LatencyP95 => "latency_p95",
            Self::LatencyP99 => "latency_p99",
            Self::PredictionAgreement => "prediction_agreement",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::ErrorRate,
            Self::LatencyP50,
            Self::LatencyP95,
            Self::LatencyP99,
            Self::PredictionAgreement,
        ]
        .into_iter()
        .find(|m| m.as_str() == name)
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Self::ErrorRate => "Error rate",
            Self::LatencyP50 => "Latency p50",
            Self::LatencyP95 => "Latency p95",
            Self::LatencyP99 => "Latency p99",
            Self::PredictionAgreement => "Prediction agreement",
        }
    }

    /// The unit of its values: error rate and agreement are shares (0–1), latencies ms.
    pub fn unit(self) -> &'static str {
        match self {
            Self::ErrorRate | Self::PredictionAgreement => "share",
            _ => "ms",
        }
    }

    pub(super) fn direction(self) -> Direction {
        match self {
            Self::PredictionAgreement => Direction::Decrease,
            _ => Direction::Increase,
        }
    }

    pub(super) fn quantile(self) -> Option<f64> {
        match self {
            Self::LatencyP50 => Some(0.50),
            Self::LatencyP95 => Some(0.95),
            Self::LatencyP99 => Some(0.99),
            _ => None,
        }
    }
}

/// One metric of a gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GateRule {
    pub metric: GateMetric,
    /// How much worse green may be: a share of blue's value, and an absolute amount in the
    /// metric's unit; the larger one counts.
    pub relative: f64,
    pub absolute: f64,
    /// Fewer samples on either side: not judged yet.
    pub min_samples: usize,
    pub weight: f64,
    /// Its failure fails the gate whatever the score.
    #[serde(default)]
    pub critical: bool,
    /// Shown, never scored.
    #[serde(default)]
    pub report_only: bool,
}

/// A mirror or bake step's gate. Every field has a default, so `"gate": {}` in a plan is the
/// default gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Gate {
    pub rules: Vec<GateRule>,
    /// Score (0–100) at or above `pass` passes, at or above `marginal` asks an approver, below
    /// it fails and rolls back.
    pub pass_score: f64,
    pub marginal_score: f64,
    /// When two numbers in answers count as the same prediction.
    pub answer_relative: f64,
    pub answer_absolute: f64,
    /// How long after the step's time is up a gate without enough samples keeps watching
    /// before it asks an approver.
    pub patience: StepDuration,
}

/// Differing answer pairs a report keeps.
pub const KEPT_SAMPLES: usize = 5;

impl Default for Gate {
    /// Green fails outright when it fails clearly more requests than blue (2 points over
    /// blue's rate); latency counts when green is both significantly and noticeably slower;
    /// prediction agreement is shown but not scored, because a new model is usually meant to
    /// answer differently — a team that expects the same answers turns `report_only` off.
    fn default() -> Self {
        let rule = |metric, relative, absolute, weight| GateRule {
            metric,
            relative,
            absolute,
            min_samples: 30,
            weight,
            critical: false,
            report_only: false,
        };
        let thresholds = Thresholds::default();
        Self {
            rules: vec![
                GateRule {
                    critical: true,
                    ..rule(GateMetric::ErrorRate, 0.0, 0.02, 40.0)
                },
                rule(GateMetric::LatencyP50, 0.25, 10.0, 10.0),
                rule(GateMetric::LatencyP95, 0.10, 25.0, 20.0),
                rule(GateMetric::LatencyP99, 0.25, 50.0, 10.0),
                GateRule {
                    report_only: true,
                    min_samples: 10,
                    ..rule(GateMetric::PredictionAgreement, 0.0, 0.05, 20.0)
                },
            ],
            pass_score: thresholds.pass,
            marginal_score: thresholds.marginal,
            answer_relative: NumberTolerance::default().relative,
            answer_absolute: NumberTolerance::default().absolute,
            patience: StepDuration::from_secs(5 * 60),
        }
    }
}

/// The most samples a rule may ask for before judging: more than a day of steady traffic at
/// ten requests a second would never be reached by a step.
pub const MAX_MIN_SAMPLES: usize = 1_000_000;

impl Gate {
    /// Every broken rule of the gate, as (field below `gate`, sentence). The plan check
    /// reports them under the step's field.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let finite_share = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        if self.rules.is_empty() {
            out.push(("rules".into(), "a gate judges at least one metric".into()));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |name: &str| format!("rules[{i}].{name}");
            if self.rules[..i].iter().any(|r| r.metric == rule.metric) {
                out.push((
                    at("metric"),
                    format!(
                        "{} is judged twice; keep one rule per metric",
                        rule.metric.as_str()
                    ),
                ));
            }
            if !(rule.relative.is_finite() && rule.relative >= 0.0) {
                out.push((at("relative"), "a tolerated share is 0 or more".into()));
            }
            let absolute_ok = match rule.metric.unit() {
                "share" => finite_share(rule.absolute),
                _ => rule.absolute.is_finite() && rule.absolute >= 0.0,
            };
            if !absolute_ok {
                out.push((
                    at("absolute"),
                    format!(
                        "a tolerated amount of {} is {}",
                        rule.metric.as_str(),
                        if rule.metric.unit() == "share" {
                            "0 to 1"
                        } else {
                            "0 ms or more"
                        }
                    ),
                ));
            }
            if !(1..=MAX_MIN_SAMPLES).contains(&rule.min_samples) {
                out.push((
                    at("min_samples"),
                    format!("a rule needs 1 to {MAX_MIN_SAMPLES} samples per side"),
                ));
            }
            if !(rule.weight.is_finite() && rule.weight >= 0.0) {
                out.push((at("weight"), "a weight is 0 or more".into()));
            }
        }
        let score = |v: f64| v.is_finite() && (0.0..=100.0).contains(&v);
        if !score(self.pass_score) {
            out.push(("pass_score".into(), "a score is 0 to 100".into()));
        }
        if !score(self.marginal_score) || self.marginal_score > self.pass_score {
            out.push((
                "marginal_score".into(),
                "the marginal score is 0 to 100 and at most the pass score".into(),
            ));
        }
        if !finite_share(self.answer_relative) {
            out.push((
                "answer_relative".into(),
                "a tolerated share is 0 to 1".into(),
            ));
        }
        if !(self.answer_absolute.is_finite() && self.answer_absolute >= 0.0) {
            out.push((
                "answer_absolute".into(),
                "a tolerated amount is 0 or more".into(),
            ));
        }
        if self.patience.0 > crate::rollout::MAX_STEP_DURATION {
            out.push((
                "patience".into(),
                "a gate waits at most a day for enough samples".into(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_gate_keeps_its_own_rules_and_broken_ones_are_named() {
        assert_eq!(Gate::default().problems(), Vec::<(String, String)>::new());
        let mut gate = Gate::default();
        // Rule 1 becomes a second error rate whose 10 (ms, before) is no share.
        gate.rules[1].metric = GateMetric::ErrorRate;
        gate.rules[0].absolute = 2.0;
        gate.rules[2].min_samples = 0;
        gate.rules[3].weight = f64::NAN;
        gate.marginal_score = 99.0;
        let fields: Vec<String> = gate.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "rules[0].absolute",
                "rules[1].metric",
                "rules[1].absolute",
                "rules[2].min_samples",
                "rules[3].weight",
                "marginal_score"
            ]
        );
    }

    #[test]
    fn an_empty_gate_in_a_plan_is_the_default_gate() {
        let gate: Gate = serde_json::from_str("{}").unwrap_or_else(|_| Gate {
            rules: Vec::new(),
            ..Gate::default()
        });
        assert_eq!(gate, Gate::default());
        let refused = serde_json::from_str::<Gate>("{\"rulez\": []}");
        assert!(refused.is_err(), "unknown fields are refused");
    }
}
