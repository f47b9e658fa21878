//! A gate metric over its window as a chart draws it: blue's and green's value per interval,
//! on one time axis. Per-request samples are cut into about [`POINTS`] intervals (never
//! shorter than [`MIN_INTERVAL_MS`]); per-minute samples are drawn minute by minute.

use super::gate::{GateMetric, MetricSeries, SeriesPoint};
use super::judge::quantile;
use super::window::{is_model_error, is_throttled, MinuteSample, RequestSample, TrafficSamples};
use std::collections::BTreeMap;

/// About how many points a chart of per-request samples gets.
pub const POINTS: i64 = 30;
/// The shortest interval: fewer requests than this many seconds' worth make a noisy point.
pub const MIN_INTERVAL_MS: i64 = 5_000;

/// The interval per-request samples of a window `[start_ms, end_ms)` are cut into.
pub fn interval_ms(start_ms: i64, end_ms: i64) -> i64 {
    ((end_ms - start_ms) / POINTS).max(MIN_INTERVAL_MS)
}

/// `metric` of `control` and `experiment` per interval of the window.
pub fn of(
    metric: GateMetric,
    control: &TrafficSamples,
    experiment: &TrafficSamples,
    start_ms: i64,
    end_ms: i64,
) -> MetricSeries {
    let control = per_interval(metric, control, start_ms, end_ms);
    let experiment = per_interval(metric, experiment, start_ms, end_ms);
    let mut at: Vec<i64> = control.keys().chain(experiment.keys()).copied().collect();
    at.sort_unstable();
    at.dedup();
    MetricSeries {
        metric,
        points: at
            .into_iter()
            .map(|at_ms| SeriesPoint {
                at_ms,
                control: control.get(&at_ms).copied().flatten(),
                experiment: experiment.get(&at_ms).copied().flatten(),
            })
            .collect(),
    }
}

fn per_interval(
    metric: GateMetric,
    samples: &TrafficSamples,
    start_ms: i64,
    end_ms: i64,
) -> BTreeMap<i64, Option<f64>> {
    match samples {
        TrafficSamples::PerRequest(requests) => {
            let interval = interval_ms(start_ms, end_ms);
            let mut buckets: BTreeMap<i64, Vec<&RequestSample>> = BTreeMap::new();
            for r in requests {
                let bucket = start_ms + (r.at_ms - start_ms).div_euclid(interval) * interval;
                buckets.entry(bucket).or_default().push(r);
            }
            buckets
                .into_iter()
                .map(|(at, requests)| (at, request_value(metric, &requests)))
                .collect()
        }
        TrafficSamples::PerMinute(minutes) => minutes
            .iter()
            .map(|m| (m.at_ms, minute_value(metric, m)))
            .collect(),
    }
}

fn request_value(metric: GateMetric, requests: &[&RequestSample]) -> Option<f64> {
    let judged: Vec<&&RequestSample> = requests
        .iter()
        .filter(|r| !is_throttled(r.status))
        .collect();
    if judged.is_empty() {
        return None;
    }
    let q = match metric {
        GateMetric::ErrorRate => {
            let failed = judged.iter().filter(|r| is_model_error(r.status)).count();
            return Some(failed as f64 / judged.len() as f64);
        }
        GateMetric::LatencyP50 => 0.50,
        GateMetric::LatencyP95 => 0.95,
        GateMetric::LatencyP99 => 0.99,
        GateMetric::PredictionAgreement => return None,
    };
    let latencies: Vec<f64> = judged
        .iter()
        .filter(|r| !is_model_error(r.status))
        .map(|r| r.latency_ms)
        .collect();
    quantile(&latencies, q)
}

fn minute_value(metric: GateMetric, m: &MinuteSample) -> Option<f64> {
    match metric {
        GateMetric::ErrorRate => {
            let judged = m.requests - m.throttled;
            (judged > 0.0).then(|| (m.errors / judged).clamp(0.0, 1.0))
        }
        GateMetric::LatencyP50 => m.p50_ms,
        GateMetric::LatencyP95 => m.p95_ms,
        GateMetric::LatencyP99 => m.p99_ms,
        GateMetric::PredictionAgreement => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(at_ms: i64, status: u16, latency_ms: f64) -> RequestSample {
        RequestSample {
            at_ms,
            status,
            latency_ms,
        }
    }

    #[test]
    fn requests_are_cut_into_intervals_with_both_sides_on_one_axis() {
        let control = TrafficSamples::PerRequest(vec![
            request(1_000, 200, 10.0),
            request(2_000, 500, 99.0),
            request(7_000, 200, 12.0),
        ]);
        let experiment =
            TrafficSamples::PerRequest(vec![request(3_000, 200, 20.0), request(4_000, 429, 1.0)]);
        let errors = of(GateMetric::ErrorRate, &control, &experiment, 0, 10_000);
        assert_eq!(
            errors.points,
            vec![
                SeriesPoint {
                    at_ms: 0,
                    control: Some(0.5),
                    experiment: Some(0.0)
                },
                SeriesPoint {
                    at_ms: 5_000,
                    control: Some(0.0),
                    experiment: None
                },
            ],
            "a throttled request is neither a success nor an error"
        );
        let p50 = of(GateMetric::LatencyP50, &control, &experiment, 0, 10_000);
        assert_eq!(
            p50.points[0].control,
            Some(10.0),
            "failed requests' latency left out"
        );
        assert_eq!(p50.points[0].experiment, Some(20.0));
    }

    #[test]
    fn minutes_are_drawn_as_they_are() {
        let minute = MinuteSample {
            at_ms: 60_000,
            requests: 100.0,
            errors: 9.0,
            throttled: 10.0,
            p50_ms: Some(5.0),
            p95_ms: Some(9.0),
            p99_ms: None,
        };
        let samples = TrafficSamples::PerMinute(vec![minute]);
        let errors = of(GateMetric::ErrorRate, &samples, &samples, 0, 120_000);
        assert_eq!(errors.points[0].control, Some(0.1));
        let p99 = of(GateMetric::LatencyP99, &samples, &samples, 0, 120_000);
        assert_eq!(p99.points[0].experiment, None);
    }

    #[test]
    fn long_windows_get_about_thirty_points_short_ones_five_second_steps() {
        assert_eq!(interval_ms(0, 600_000), 20_000);
        assert_eq!(interval_ms(0, 30_000), 5_000);
    }
}
