//! A gate's judgement of one window: [`evaluate`] turns the window's samples into the report —
//! the verdicts, the prediction diff and the series the console draws. Pure: the executor
//! gathers the window's samples and acts on the outcome. What a gate judges, and how strictly,
//! is [`super::config`].

pub use super::config::{Gate, GateMetric, GateRule, KEPT_SAMPLES, MAX_MIN_SAMPLES};
use super::judge::{judge, Judgement, MetricRule, Samples, Statistic, Thresholds, Tolerance};
use super::predictions::{agreement, answer, Agreement, NumberTolerance};
use super::window::{
    is_model_error, is_throttled, AnswerPair, DeploymentSamples, TrafficSamples, WindowSamples,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which of green's traffic a gate judges: its mirrored copies (mirror step; blue answers the
/// clients) or its live share (bake step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JudgedTraffic {
    Mirrored,
    Live,
}

/// How finely the window was sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    PerRequest,
    PerMinute,
}

/// One point of a metric's chart: each side's value over one interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesPoint {
    pub at_ms: i64,
    pub control: Option<f64>,
    pub experiment: Option<f64>,
}

/// A metric over the window, blue and green side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricSeries {
    pub metric: GateMetric,
    pub points: Vec<SeriesPoint>,
}

/// A gate's judgement of one window, with everything the console shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateReport {
    pub control: String,
    pub experiment: String,
    pub traffic: JudgedTraffic,
    pub granularity: Granularity,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Requests counted on each side, and green's throttled ones (not judged).
    pub control_requests: usize,
    pub experiment_requests: usize,
    pub experiment_throttled: usize,
    pub judgement: Judgement,
    /// The prediction diff; none where the workspace keeps no mirrored answers or the step
    /// mirrors nothing.
    pub agreement: Option<Agreement>,
    pub series: Vec<MetricSeries>,
}

/// One side's samples of each metric, and its request counts.
#[derive(Default)]
struct Side {
    errors: Vec<f64>,
    latencies: Vec<f64>,
    p50: Vec<f64>,
    p95: Vec<f64>,
    p99: Vec<f64>,
    requests: usize,
    throttled: usize,
    granularity: Option<Granularity>,
}

impl Side {
    fn of(samples: &TrafficSamples) -> Self {
        let mut side = Side::default();
        match samples {
            TrafficSamples::PerRequest(requests) => {
                side.granularity = Some(Granularity::PerRequest);
                for r in requests {
                    if is_throttled(r.status) {
                        side.throttled += 1;
                        continue;
                    }
                    side.requests += 1;
                    let failed = is_model_error(r.status);
                    side.errors.push(if failed { 1.0 } else { 0.0 });
                    if !failed {
                        side.latencies.push(r.latency_ms);
                    }
                }
            }
            TrafficSamples::PerMinute(minutes) => {
                side.granularity = Some(Granularity::PerMinute);
                for m in minutes {
                    side.throttled += m.throttled.max(0.0) as usize;
                    let judged = (m.requests - m.throttled).max(0.0);
                    if judged <= 0.0 {
                        continue;
                    }
                    side.requests += judged as usize;
                    side.errors.push((m.errors / judged).clamp(0.0, 1.0));
                    side.p50.extend(m.p50_ms);
                    side.p95.extend(m.p95_ms);
                    side.p99.extend(m.p99_ms);
                }
            }
        }
        side
    }

    /// The samples `metric` is tested on, and how its effect is sized.
    fn samples(&self, metric: GateMetric) -> (Vec<f64>, Statistic) {
        let per_request = self.granularity != Some(Granularity::PerMinute);
        match (metric, metric.quantile()) {
            (_, Some(q)) if per_request => (self.latencies.clone(), Statistic::Quantile(q)),
            (GateMetric::LatencyP50, _) => (self.p50.clone(), Statistic::Mean),
            (GateMetric::LatencyP95, _) => (self.p95.clone(), Statistic::Mean),
            (GateMetric::LatencyP99, _) => (self.p99.clone(), Statistic::Mean),
            _ => (self.errors.clone(), Statistic::Mean),
        }
    }
}

/// Green's samples of the judged `traffic`. Azure Monitor does not tell mirrored copies from
/// live requests (a mirror deployment's requests count as its own): where the window has
/// per-minute series and no mirrored ones, green's own series are its mirrored traffic — during
/// a mirror step green takes no live traffic (a plan rule), so all it served were the copies.
fn judged(green: &DeploymentSamples, traffic: JudgedTraffic) -> &TrafficSamples {
    match (traffic, &green.mirrored, &green.live) {
        (
            JudgedTraffic::Mirrored,
            TrafficSamples::PerMinute(copies),
            TrafficSamples::PerMinute(_),
        ) if copies.is_empty() => &green.live,
        (JudgedTraffic::Mirrored, _, _) => &green.mirrored,
        (JudgedTraffic::Live, _, _) => &green.live,
    }
}

/// Judges `experiment` (green) against `control` (blue) over `window`: green's `traffic`
/// against blue's live traffic.
pub fn evaluate(
    gate: &Gate,
    window: &WindowSamples,
    control: &str,
    experiment: &str,
    traffic: JudgedTraffic,
) -> GateReport {
    let empty = Default::default();
    let blue = window.deployments.get(control).unwrap_or(&empty);
    let green = window.deployments.get(experiment).unwrap_or(&empty);
    let control_side = Side::of(&blue.live);
    let experiment_samples = judged(green, traffic);
    let experiment_side = Side::of(experiment_samples);
    let pairs: Option<Vec<&AnswerPair>> = match (traffic, &window.pairs) {
        (JudgedTraffic::Mirrored, Some(pairs)) => Some(
            pairs
                .iter()
                .filter(|p| p.live_deployment == control && p.mirror_deployment == experiment)
                .collect(),
        ),
        _ => None,
    };
    let tolerance = NumberTolerance {
        relative: gate.answer_relative,
        absolute: gate.answer_absolute,
    };
    let agreement: Option<Agreement> = pairs.as_ref().map(|pairs| {
        let parsed: Vec<(Value, Value)> = pairs
            .iter()
            .map(|p| (answer(&p.live), answer(&p.mirrored)))
            .collect();
        agreement_of(&parsed, tolerance)
    });
    let mut rules = Vec::new();
    for rule in &gate.rules {
        let samples = if rule.metric == GateMetric::PredictionAgreement {
            // Blue's answers agree with themselves: its side is all ones; green's is one 0/1
            // per mirrored request. Without pairs (Azure, or a bake) the rule is left out.
            let Some(agreement) = &agreement else {
                continue;
            };
            let n = agreement.requests;
            let agreeing = agreement.agreeing;
            Samples {
                control: vec![1.0; n],
                experiment: (0..n)
                    .map(|i| if i < agreeing { 1.0 } else { 0.0 })
                    .collect(),
            }
        } else {
            let (control, statistic) = control_side.samples(rule.metric);
            let (experiment, _) = experiment_side.samples(rule.metric);
            rules.push((
                metric_rule(rule, statistic),
                Samples {
                    control,
                    experiment,
                },
            ));
            continue;
        };
        rules.push((metric_rule(rule, Statistic::Mean), samples));
    }
    let judgement: Judgement = judge(
        &rules,
        Thresholds {
            pass: gate.pass_score,
            marginal: gate.marginal_score,
        },
    );
    let granularity = match (&blue.live, experiment_side.granularity) {
        (TrafficSamples::PerMinute(_), _) | (_, Some(Granularity::PerMinute)) => {
            Granularity::PerMinute
        }
        _ => Granularity::PerRequest,
    };
    let series = gate
        .rules
        .iter()
        .filter(|r| r.metric != GateMetric::PredictionAgreement)
        .map(|r| {
            super::series::of(
                r.metric,
                &blue.live,
                experiment_samples,
                window.start_ms,
                window.end_ms,
            )
        })
        .collect();
    GateReport {
        control: control.to_owned(),
        experiment: experiment.to_owned(),
        traffic,
        granularity,
        start_ms: window.start_ms,
        end_ms: window.end_ms,
        control_requests: control_side.requests,
        experiment_requests: experiment_side.requests,
        experiment_throttled: experiment_side.throttled,
        judgement,
        agreement,
        series,
    }
}

fn agreement_of(pairs: &[(Value, Value)], tolerance: NumberTolerance) -> Agreement {
    agreement(pairs, tolerance, KEPT_SAMPLES)
}

fn metric_rule(rule: &GateRule, statistic: Statistic) -> MetricRule {
    MetricRule {
        name: rule.metric.as_str().to_owned(),
        direction: rule.metric.direction(),
        statistic,
        tolerance: Tolerance {
            relative: rule.relative,
            absolute: rule.absolute,
        },
        min_samples: rule.min_samples,
        weight: rule.weight,
        critical: rule.critical,
        report_only: rule.report_only,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::judge::{Outcome, Verdict};
    use crate::gates::window::{DeploymentSamples, MinuteSample, RequestSample};

    /// `n` requests over a minute, latencies around `ms`, every `fail_every`-th failing (0:
    /// none), every `throttle_every`-th throttled (0: none).
    fn requests(n: usize, ms: f64, fail_every: usize, throttle_every: usize) -> Vec<RequestSample> {
        (0..n)
            .map(|i| RequestSample {
                at_ms: (i as i64 * 60_000) / n as i64,
                status: if throttle_every > 0 && i % throttle_every == 1 {
                    429
                } else if fail_every > 0 && i % fail_every == 0 {
                    500
                } else {
                    200
                },
                latency_ms: ms + (i % 5) as f64,
            })
            .collect()
    }

    fn pair(live: &str, mirrored: &str) -> AnswerPair {
        AnswerPair {
            at_ms: 0,
            live_deployment: "blue".into(),
            mirror_deployment: "green".into(),
            live: live.into(),
            mirrored: mirrored.into(),
            request: String::new(),
        }
    }

    fn mirror_window(green: Vec<RequestSample>, pairs: Vec<AnswerPair>) -> WindowSamples {
        let mut window = WindowSamples {
            start_ms: 0,
            end_ms: 60_000,
            pairs: Some(pairs),
            ..WindowSamples::default()
        };
        window.deployments.insert(
            "blue".into(),
            DeploymentSamples {
                live: TrafficSamples::PerRequest(requests(200, 5.0, 0, 0)),
                ..DeploymentSamples::default()
            },
        );
        window.deployments.insert(
            "green".into(),
            DeploymentSamples {
                mirrored: TrafficSamples::PerRequest(green),
                ..DeploymentSamples::default()
            },
        );
        window
    }

    /// The default gate's judgement of green's mirrored requests in `window`.
    fn mirror_report(window: &WindowSamples) -> GateReport {
        evaluate(
            &Gate::default(),
            window,
            "blue",
            "green",
            JudgedTraffic::Mirrored,
        )
    }

    fn verdict(report: &GateReport, metric: GateMetric) -> Option<Verdict> {
        report
            .judgement
            .metrics
            .iter()
            .find(|m| m.name == metric.as_str())
            .map(|m| m.verdict)
    }

    #[test]
    fn a_green_failing_a_third_of_its_mirrored_requests_fails_the_default_gate() {
        let window = mirror_window(requests(60, 5.0, 3, 0), vec![pair("[1.0]", "[1.0]")]);
        let report = mirror_report(&window);
        assert_eq!(report.judgement.outcome, Outcome::Fail, "{report:?}");
        assert_eq!(verdict(&report, GateMetric::ErrorRate), Some(Verdict::High));
        assert_eq!(report.experiment_requests, 60);
        assert!(
            report.failed_critically(&Gate::default()),
            "error rate is critical"
        );
        let line = report.summary();
        assert!(
            line.starts_with("gate fail (score 0; error_rate 0.333 vs 0.000"),
            "{line}"
        );
    }

    #[test]
    fn a_failure_of_a_non_critical_metric_is_not_a_critical_one() {
        let mut gate = Gate::default();
        for rule in &mut gate.rules {
            rule.critical = false;
        }
        let window = mirror_window(requests(60, 5.0, 3, 0), vec![]);
        let report = evaluate(&gate, &window, "blue", "green", JudgedTraffic::Mirrored);
        assert_eq!(verdict(&report, GateMetric::ErrorRate), Some(Verdict::High));
        assert!(!report.failed_critically(&gate));
        assert!(report.failed_critically(&Gate::default()));
    }

    #[test]
    fn a_green_like_blue_that_answers_differently_passes_and_reports_the_difference() {
        let mut pairs = vec![pair("[10.5]", "[10.5]"); 8];
        pairs.extend(vec![pair("[10.5]", "[11.0]"); 12]);
        let window = mirror_window(requests(60, 5.0, 0, 0), pairs);
        let report = mirror_report(&window);
        assert_eq!(report.judgement.outcome, Outcome::Pass, "{report:?}");
        let agreement = report.agreement.as_ref().expect("mirrored pairs compared");
        assert_eq!((agreement.requests, agreement.agreeing), (20, 8));
        assert!((agreement.max_abs_diff - 0.5).abs() < 1e-12);
        assert_eq!(agreement.samples.len(), KEPT_SAMPLES);
        let judged = verdict(&report, GateMetric::PredictionAgreement);
        assert_eq!(judged, Some(Verdict::Low), "judged, shown, not scored");
        assert_eq!(report.judgement.score, Some(100.0));
        let bare = report.clone().without_samples();
        let kept = bare.agreement.as_ref().expect("the numbers stay");
        assert!(kept.samples.is_empty());
        assert_eq!((kept.requests, kept.agreeing), (20, 8));
    }

    #[test]
    fn a_scored_prediction_agreement_fails_a_green_that_disagrees() {
        let mut gate = Gate::default();
        for rule in &mut gate.rules {
            if rule.metric == GateMetric::PredictionAgreement {
                rule.report_only = false;
                rule.critical = true;
            }
        }
        let window = mirror_window(
            requests(60, 5.0, 0, 0),
            vec![pair("{\"y\": 1}", "{\"y\": 2}"); 20],
        );
        let report = evaluate(&gate, &window, "blue", "green", JudgedTraffic::Mirrored);
        assert_eq!(report.judgement.outcome, Outcome::Fail, "{report:?}");
    }

    #[test]
    fn throttled_mirror_requests_are_counted_apart_and_never_judged_as_errors() {
        let window = mirror_window(requests(90, 5.0, 0, 3), vec![]);
        let report = mirror_report(&window);
        assert_eq!(report.experiment_throttled, 30);
        assert_eq!(report.experiment_requests, 60);
        assert_eq!(verdict(&report, GateMetric::ErrorRate), Some(Verdict::Pass));
    }

    #[test]
    fn too_few_mirrored_requests_leave_the_gate_inconclusive() {
        let window = mirror_window(requests(10, 5.0, 0, 0), vec![]);
        let report = mirror_report(&window);
        assert_eq!(report.judgement.outcome, Outcome::Inconclusive);
    }

    #[test]
    fn per_minute_samples_are_judged_on_their_series_and_without_answers() {
        let minute = |i: i64, errors: f64, p95: f64| MinuteSample {
            at_ms: i * 60_000,
            requests: 100.0,
            errors,
            throttled: 0.0,
            p50_ms: Some(p95 / 3.0),
            p95_ms: Some(p95),
            p99_ms: Some(p95 * 1.5),
        };
        let mut window = WindowSamples {
            start_ms: 0,
            end_ms: 40 * 60_000,
            pairs: None,
            ..WindowSamples::default()
        };
        window.deployments.insert(
            "blue".into(),
            DeploymentSamples {
                live: TrafficSamples::PerMinute((0..40).map(|i| minute(i, 0.0, 30.0)).collect()),
                ..DeploymentSamples::default()
            },
        );
        window.deployments.insert(
            "green".into(),
            DeploymentSamples {
                live: TrafficSamples::PerMinute((0..40).map(|i| minute(i, 30.0, 200.0)).collect()),
                ..DeploymentSamples::default()
            },
        );
        let report = evaluate(
            &Gate::default(),
            &window,
            "blue",
            "green",
            JudgedTraffic::Live,
        );
        assert_eq!(report.granularity, Granularity::PerMinute);
        assert_eq!(report.agreement, None, "Azure keeps no mirrored answers");
        assert_eq!(report.judgement.outcome, Outcome::Fail);
        assert_eq!(
            verdict(&report, GateMetric::LatencyP95),
            Some(Verdict::High)
        );
        assert_eq!(verdict(&report, GateMetric::PredictionAgreement), None);
        assert_eq!(report.series.len(), 4);
        assert_eq!(report.series[0].points.len(), 40);

        // A mirror step on Azure: Monitor counts green's copies as its own requests (the
        // window's mirrored series are empty), so they are what the mirror gate judges.
        if let Some(green) = window.deployments.get_mut("green") {
            green.mirrored = TrafficSamples::PerMinute(Vec::new());
        }
        let mirrored = mirror_report(&window);
        assert_eq!(mirrored.experiment_requests, 40 * 100);
        assert_eq!(mirrored.judgement.outcome, Outcome::Fail);
        assert_eq!(mirrored.series[0].points.len(), 40);
    }

    #[test]
    fn local_mirrored_samples_are_judged_as_they_are_even_when_empty() {
        let mut window = mirror_window(Vec::new(), Vec::new());
        if let Some(green) = window.deployments.get_mut("green") {
            green.live = TrafficSamples::PerRequest(requests(60, 5.0, 0, 0));
        }
        let report = mirror_report(&window);
        assert_eq!(
            report.experiment_requests, 0,
            "green's live requests are not its mirror"
        );
        assert_eq!(report.judgement.outcome, Outcome::Inconclusive);
    }
}
