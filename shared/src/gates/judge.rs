//! The judge: green's samples of each metric against blue's over the same window, turned into
//! a verdict per metric and a 0–100 score, in the manner of Kayenta's canary judge
//! (`/work/shared/reference/canary-judge.md`), with what a rollout console needs on top:
//! a tolerated effect that is relative *and* absolute (an error rate going from 0 to 0.1 %
//! has no relative size), a minimum sample count below which the answer is "not yet", and only
//! the direction of concern counting against green.
//!
//! A pure function: samples in, judgement out. Collecting samples and acting on the outcome
//! (rollback, a marginal request for an approver) is the executor's job.

use super::mann_whitney::{mann_whitney_u, Alternative};
use serde::{Deserialize, Serialize};

/// Which change of a metric is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher is worse (latency, error rate).
    Increase,
    /// Lower is worse (prediction agreement, throughput).
    Decrease,
    /// Any change is worse.
    Either,
}

/// How much worse green may be before it counts: beyond `relative` × blue's value *and*
/// beyond `absolute`, whichever is larger.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tolerance {
    pub relative: f64,
    pub absolute: f64,
}

/// What a side's samples are summed up as, to size the effect: the test says whether green
/// differs at all; the statistic says by how much, in the metric's own terms ("p95 10 % worse").
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    #[default]
    Mean,
    /// The `q`-quantile (0–1), interpolated linearly between order statistics.
    Quantile(f64),
}

impl Statistic {
    pub fn of(self, values: &[f64]) -> Option<f64> {
        match self {
            Self::Mean => mean(values),
            Self::Quantile(q) => quantile(values, q),
        }
    }
}

/// The `q`-quantile of `values` (linear interpolation, as NumPy's default); `None` when empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    let fraction = position - low as f64;
    Some(sorted[low] + (sorted[high] - sorted[low]) * fraction)
}

/// One metric's rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricRule {
    pub name: String,
    pub direction: Direction,
    /// How each side is summed up to size the effect.
    #[serde(default)]
    pub statistic: Statistic,
    pub tolerance: Tolerance,
    /// Fewer samples than this on either side: inconclusive.
    pub min_samples: usize,
    /// Its share of the score, relative to the other scored metrics' weights.
    pub weight: f64,
    /// A failure of this metric fails the whole judgement (score 0).
    #[serde(default)]
    pub critical: bool,
    /// Shown, never scored (e.g. prediction agreement when a new model is meant to differ).
    #[serde(default)]
    pub report_only: bool,
}

/// The samples of one metric over the window: blue's (control) and green's (experiment).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    pub control: Vec<f64>,
    pub experiment: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Green is significantly and intolerably higher.
    High,
    /// Green is significantly and intolerably lower.
    Low,
    /// Too few samples yet.
    Inconclusive,
    /// No samples at all on one side.
    NoData,
}

/// One metric's judgement, with what a person needs to see why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricJudgement {
    pub name: String,
    pub verdict: Verdict,
    /// Blue's and green's [`Statistic`] (an error rate, a p95 in ms, …).
    pub control_value: Option<f64>,
    pub experiment_value: Option<f64>,
    /// The one-sided (or, for `Either`, two-sided) p-value of the Mann–Whitney test.
    pub p_value: Option<f64>,
    pub control_samples: usize,
    pub experiment_samples: usize,
    pub report_only: bool,
}

/// Score thresholds: at least `pass` passes, at least `marginal` asks a person.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Thresholds {
    pub pass: f64,
    pub marginal: f64,
}

impl Default for Thresholds {
    /// Kayenta's common choice.
    fn default() -> Self {
        Self {
            pass: 95.0,
            marginal: 75.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    /// Neither clearly good nor clearly bad: an approver decides.
    Marginal,
    /// Roll back.
    Fail,
    /// Not enough data yet: keep watching.
    Inconclusive,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Marginal => "marginal",
            Self::Fail => "fail",
            Self::Inconclusive => "inconclusive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Judgement {
    pub outcome: Outcome,
    /// 0–100; none while inconclusive.
    pub score: Option<f64>,
    pub metrics: Vec<MetricJudgement>,
}

/// The significance level below which a difference counts.
pub const ALPHA: f64 = 0.05;

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// 1 for each value above `bound`, else 0. A tail metric is tested on these: a rank test of
/// the whole distribution hardly notices green's slowest tenth getting three times slower (the
/// ranks barely move), while the share of green's requests beyond blue's p95 jumps from 5 % to
/// 10 % — the question a p95 rule asks.
fn beyond(values: &[f64], bound: f64) -> Vec<f64> {
    values
        .iter()
        .map(|v| if *v > bound { 1.0 } else { 0.0 })
        .collect()
}

/// One metric's verdict. A mean-sized metric is tested on its samples; a quantile-sized one on
/// the share of each side beyond blue's quantile (see [`beyond`]).
pub fn judge_metric(rule: &MetricRule, samples: &Samples) -> MetricJudgement {
    let (control, experiment) = (&samples.control, &samples.experiment);
    let mut judged = MetricJudgement {
        name: rule.name.clone(),
        verdict: Verdict::Pass,
        control_value: rule.statistic.of(control),
        experiment_value: rule.statistic.of(experiment),
        p_value: None,
        control_samples: control.len(),
        experiment_samples: experiment.len(),
        report_only: rule.report_only,
    };
    if control.is_empty() || experiment.is_empty() {
        judged.verdict = Verdict::NoData;
        return judged;
    }
    if control.len() < rule.min_samples || experiment.len() < rule.min_samples {
        judged.verdict = Verdict::Inconclusive;
        return judged;
    }
    let alternative = match rule.direction {
        Direction::Increase => Alternative::Greater,
        Direction::Decrease => Alternative::Less,
        Direction::Either => Alternative::TwoSided,
    };
    let test = match (rule.statistic, judged.control_value) {
        (Statistic::Quantile(_), Some(bound)) => {
            let (control, experiment) = (beyond(control, bound), beyond(experiment, bound));
            mann_whitney_u(&experiment, &control, alternative)
        }
        _ => mann_whitney_u(experiment, control, alternative),
    };
    let Some(test) = test else {
        judged.verdict = Verdict::NoData;
        return judged;
    };
    judged.p_value = Some(test.p_value);
    let (Some(c), Some(e)) = (judged.control_value, judged.experiment_value) else {
        return judged;
    };
    let allowed = (rule.tolerance.relative * c.abs()).max(rule.tolerance.absolute);
    let significant = test.p_value < ALPHA;
    let higher = e - c > allowed;
    let lower = c - e > allowed;
    judged.verdict = match rule.direction {
        Direction::Increase | Direction::Either if significant && higher => Verdict::High,
        Direction::Decrease | Direction::Either if significant && lower => Verdict::Low,
        _ => Verdict::Pass,
    };
    judged
}

/// Every metric judged, and the outcome: a failed critical metric fails outright; a scored
/// metric without enough samples makes the whole judgement inconclusive; otherwise the score
/// (the weighted share of scored metrics that pass) against the thresholds.
pub fn judge(rules: &[(MetricRule, Samples)], thresholds: Thresholds) -> Judgement {
    let metrics: Vec<MetricJudgement> = rules
        .iter()
        .map(|(rule, samples)| judge_metric(rule, samples))
        .collect();
    let scored: Vec<(&MetricRule, &MetricJudgement)> = rules
        .iter()
        .map(|(rule, _)| rule)
        .zip(&metrics)
        .filter(|(rule, _)| !rule.report_only)
        .collect();
    let failed = |m: &MetricJudgement| matches!(m.verdict, Verdict::High | Verdict::Low);
    if scored.iter().any(|(rule, m)| rule.critical && failed(m)) {
        return Judgement {
            outcome: Outcome::Fail,
            score: Some(0.0),
            metrics,
        };
    }
    let waiting = scored.is_empty()
        || scored
            .iter()
            .any(|(_, m)| matches!(m.verdict, Verdict::Inconclusive | Verdict::NoData));
    if waiting {
        return Judgement {
            outcome: Outcome::Inconclusive,
            score: None,
            metrics,
        };
    }
    let total: f64 = scored.iter().map(|(rule, _)| rule.weight.max(0.0)).sum();
    let passed: f64 = scored
        .iter()
        .filter(|(_, m)| m.verdict == Verdict::Pass)
        .map(|(rule, _)| rule.weight.max(0.0))
        .sum();
    let score = if total > 0.0 {
        100.0 * passed / total
    } else {
        100.0
    };
    let outcome = if score >= thresholds.pass {
        Outcome::Pass
    } else if score >= thresholds.marginal {
        Outcome::Marginal
    } else {
        Outcome::Fail
    };
    Judgement {
        outcome,
        score: Some(score),
        metrics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, direction: Direction, weight: f64) -> MetricRule {
        MetricRule {
            name: name.into(),
            direction,
            statistic: Statistic::Mean,
            tolerance: Tolerance {
                relative: 0.10,
                absolute: 0.0,
            },
            min_samples: 20,
            weight,
            critical: false,
            report_only: false,
        }
    }

    /// Latencies around `center` ms, deterministic.
    fn latencies(center: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| center + (i % 7) as f64 - 3.0).collect()
    }

    /// 0/1 error indicators with `errors` errors in `n` requests.
    fn errors(errors: usize, n: usize) -> Vec<f64> {
        (0..n).map(|i| if i < errors { 1.0 } else { 0.0 }).collect()
    }

    fn error_rule() -> MetricRule {
        MetricRule {
            tolerance: Tolerance {
                relative: 0.10,
                absolute: 0.01,
            },
            critical: true,
            ..rule("error_rate", Direction::Increase, 1.0)
        }
    }

    #[test]
    fn quantiles_interpolate_between_order_statistics_as_numpy_does() {
        let values = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(quantile(&values, 0.5), Some(3.0));
        assert_eq!(quantile(&values, 0.95), Some(4.8));
        assert_eq!(quantile(&values, 0.0), Some(1.0));
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn the_effect_of_a_tail_metric_is_sized_on_its_quantile_not_the_mean() {
        // Same median, but green's slowest tenth is three times slower: the mean moves ~65 %,
        // the p95 ~200 %. With a 100 % tolerance the mean-sized rule passes and the
        // p95-sized rule fails.
        let blue: Vec<f64> = (0..200)
            .map(|i| {
                if i % 10 == 0 {
                    100.0
                } else {
                    20.0 + (i % 7) as f64
                }
            })
            .collect();
        let green: Vec<f64> = (0..200)
            .map(|i| {
                if i % 10 == 0 {
                    300.0
                } else {
                    20.0 + (i % 7) as f64
                }
            })
            .collect();
        let samples = Samples {
            control: blue,
            experiment: green,
        };
        let tolerant = |statistic| MetricRule {
            statistic,
            tolerance: Tolerance {
                relative: 1.0,
                absolute: 0.0,
            },
            ..rule("latency", Direction::Increase, 1.0)
        };
        let by_mean = judge_metric(&tolerant(Statistic::Mean), &samples);
        let by_p95 = judge_metric(&tolerant(Statistic::Quantile(0.95)), &samples);
        assert_eq!(by_mean.verdict, Verdict::Pass, "{by_mean:?}");
        assert_eq!(by_p95.verdict, Verdict::High, "{by_p95:?}");
        assert_eq!(by_p95.experiment_value, Some(300.0));
    }

    #[test]
    fn a_green_as_good_as_blue_passes() {
        let judged = judge(
            &[
                (
                    rule("latency", Direction::Increase, 1.0),
                    Samples {
                        control: latencies(100.0, 60),
                        experiment: latencies(100.0, 60),
                    },
                ),
                (
                    error_rule(),
                    Samples {
                        control: errors(0, 60),
                        experiment: errors(0, 60),
                    },
                ),
            ],
            Thresholds::default(),
        );
        assert_eq!(judged.outcome, Outcome::Pass, "{judged:?}");
        assert_eq!(judged.score, Some(100.0));
    }

    #[test]
    fn a_faulty_green_fails_on_its_critical_error_rate() {
        let judged = judge(
            &[(
                error_rule(),
                Samples {
                    control: errors(0, 100),
                    experiment: errors(30, 100),
                },
            )],
            Thresholds::default(),
        );
        assert_eq!(judged.outcome, Outcome::Fail);
        assert_eq!(judged.metrics[0].verdict, Verdict::High);
        assert!(judged.metrics[0].p_value.is_some_and(|p| p < 1e-6));
    }

    #[test]
    fn only_the_direction_of_concern_counts_against_green() {
        let faster = judge_metric(
            &rule("latency", Direction::Increase, 1.0),
            &Samples {
                control: latencies(200.0, 60),
                experiment: latencies(100.0, 60),
            },
        );
        assert_eq!(faster.verdict, Verdict::Pass);
        let slower = judge_metric(
            &rule("latency", Direction::Increase, 1.0),
            &Samples {
                control: latencies(100.0, 60),
                experiment: latencies(200.0, 60),
            },
        );
        assert_eq!(slower.verdict, Verdict::High);
    }

    #[test]
    fn a_significant_but_tolerated_effect_passes() {
        // 5 % slower, significant with this many samples, but within the 10 % tolerated.
        let judged = judge_metric(
            &rule("latency", Direction::Increase, 1.0),
            &Samples {
                control: latencies(100.0, 500),
                experiment: latencies(105.0, 500),
            },
        );
        assert!(judged.p_value.is_some_and(|p| p < ALPHA), "{judged:?}");
        assert_eq!(judged.verdict, Verdict::Pass);
    }

    #[test]
    fn too_few_samples_are_inconclusive_and_so_is_the_judgement() {
        let judged = judge(
            &[(
                rule("latency", Direction::Increase, 1.0),
                Samples {
                    control: latencies(100.0, 5),
                    experiment: latencies(300.0, 5),
                },
            )],
            Thresholds::default(),
        );
        assert_eq!(judged.metrics[0].verdict, Verdict::Inconclusive);
        assert_eq!(judged.outcome, Outcome::Inconclusive);
        assert_eq!(judged.score, None);
    }

    #[test]
    fn one_failing_metric_of_five_weighted_equally_is_marginal() {
        let mut rules: Vec<(MetricRule, Samples)> = (0..4)
            .map(|i| {
                (
                    rule(&format!("m{i}"), Direction::Increase, 1.0),
                    Samples {
                        control: latencies(100.0, 60),
                        experiment: latencies(100.0, 60),
                    },
                )
            })
            .collect();
        rules.push((
            rule("p99", Direction::Increase, 1.0),
            Samples {
                control: latencies(100.0, 60),
                experiment: latencies(150.0, 60),
            },
        ));
        let judged = judge(&rules, Thresholds::default());
        assert_eq!(judged.score, Some(80.0));
        assert_eq!(judged.outcome, Outcome::Marginal);
    }

    #[test]
    fn report_only_metrics_are_shown_but_never_scored() {
        let mut agreement = rule("prediction_agreement", Direction::Decrease, 1.0);
        agreement.report_only = true;
        let judged = judge(
            &[
                (
                    agreement,
                    Samples {
                        control: vec![1.0; 60],
                        experiment: errors(10, 60),
                    },
                ),
                (
                    rule("latency", Direction::Increase, 1.0),
                    Samples {
                        control: latencies(100.0, 60),
                        experiment: latencies(100.0, 60),
                    },
                ),
            ],
            Thresholds::default(),
        );
        assert_eq!(
            judged.metrics[0].verdict,
            Verdict::Low,
            "still judged, for the report"
        );
        assert_eq!(judged.outcome, Outcome::Pass);
    }
}
