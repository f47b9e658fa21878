//! A window of an endpoint's traffic summed up as the console shows it: per deployment and
//! traffic kind the requests, statuses and real latency percentiles over the window, its
//! history minute by minute, and how mirrored answers compared with the live ones. One
//! function for both workspaces: per-request samples (local) give percentiles computed from
//! the requests; per-minute samples (Azure Monitor) give Monitor's own percentiles.

use shared::api::metrics::{
    Comparison, DeploymentMetricsSummary, DifferingSample, EndpointMetricsSummary, TrafficSummary,
};
use shared::gates::judge::quantile;
use shared::gates::predictions::{answer, compare, NumberTolerance};
use shared::gates::{
    is_model_error, is_throttled, AnswerPair, MinuteSample, RequestSample, TrafficSamples,
    WindowSamples,
};
use std::collections::BTreeMap;

/// Differing mirrored answers shown per deployment (the latest ones).
pub const MAX_SAMPLES: usize = 5;
/// Characters shown of each part of a differing sample; a longer one is cut and ends in `…`.
pub const MAX_SAMPLE_CHARS: usize = 200;

const MINUTE_MS: i64 = 60_000;

/// Requests per status per deployment, where the samples are per minute and so cannot say
/// (Monitor's `statusCode` split).
pub type Statuses = BTreeMap<String, BTreeMap<u16, u64>>;

/// Sums `window` up. `statuses` gives the per-status counts of per-minute samples; `ready`
/// each deployment's ready instances where the workspace knows them.
pub fn summarize(
    window: &WindowSamples,
    statuses: &Statuses,
    ready: &BTreeMap<String, u64>,
) -> EndpointMetricsSummary {
    let mut deployments: BTreeMap<String, DeploymentMetricsSummary> = window
        .deployments
        .iter()
        .map(|(name, samples)| {
            let none = BTreeMap::new();
            let statuses = statuses.get(name).unwrap_or(&none);
            let summary = DeploymentMetricsSummary {
                ready_instances: ready.get(name).copied(),
                live: traffic(&samples.live, statuses),
                mirrored: traffic(&samples.mirrored, &none),
                comparison: comparison(name, window.pairs.as_deref().unwrap_or_default()),
            };
            (name.clone(), summary)
        })
        .collect();
    for (name, count) in ready {
        deployments.entry(name.clone()).or_default().ready_instances = Some(*count);
    }
    EndpointMetricsSummary {
        start_ms: window.start_ms,
        end_ms: window.end_ms,
        deployments,
    }
}

fn traffic(samples: &TrafficSamples, statuses: &BTreeMap<u16, u64>) -> TrafficSummary {
    match samples {
        TrafficSamples::PerRequest(requests) => per_request(requests),
        TrafficSamples::PerMinute(minutes) => per_minute(minutes, statuses),
    }
}

/// Latencies of the requests the model saw: a throttled request (429) was turned away before
/// it and answers at once, so it would pull the percentiles down.
fn latencies<'a>(requests: impl Iterator<Item = &'a RequestSample>) -> Vec<f64> {
    requests
        .filter(|r| !is_throttled(r.status))
        .map(|r| r.latency_ms)
        .collect()
}

fn per_request(requests: &[RequestSample]) -> TrafficSummary {
    let mut statuses = BTreeMap::new();
    for r in requests {
        *statuses.entry(r.status).or_default() += 1;
    }
    let all = latencies(requests.iter());
    let mut by_minute: BTreeMap<i64, Vec<&RequestSample>> = BTreeMap::new();
    for r in requests {
        by_minute
            .entry(r.at_ms.div_euclid(MINUTE_MS) * MINUTE_MS)
            .or_default()
            .push(r);
    }
    let minutes = by_minute
        .into_iter()
        .map(|(at_ms, requests)| {
            let latencies = latencies(requests.iter().copied());
            let count =
                |rule: fn(u16) -> bool| requests.iter().filter(|r| rule(r.status)).count() as f64;
            MinuteSample {
                at_ms,
                requests: requests.len() as f64,
                errors: count(is_model_error),
                throttled: count(is_throttled),
                p50_ms: quantile(&latencies, 0.50),
                p95_ms: quantile(&latencies, 0.95),
                p99_ms: quantile(&latencies, 0.99),
            }
        })
        .collect();
    TrafficSummary {
        requests: requests.len() as u64,
        errors: requests.iter().filter(|r| r.status >= 400).count() as u64,
        statuses,
        p50_ms: quantile(&all, 0.50),
        p95_ms: quantile(&all, 0.95),
        p99_ms: quantile(&all, 0.99),
        minutes,
    }
}

/// Monitor's minutes: a window's percentile is the mean of the minutes' percentiles weighted
/// by the requests each minute served the model (Monitor aggregates `RequestLatency_Pxx` over
/// a longer grain by a plain average; weighting keeps a quiet minute from counting as a busy
/// one). An estimate, as any percentile of percentiles is.
fn per_minute(minutes: &[MinuteSample], statuses: &BTreeMap<u16, u64>) -> TrafficSummary {
    let weighted = |pick: fn(&MinuteSample) -> Option<f64>| {
        let (sum, weight) = minutes
            .iter()
            .filter_map(|m| pick(m).map(|v| (v, (m.requests - m.throttled).max(1.0))))
            .fold((0.0, 0.0), |(s, w), (v, weight)| {
                (s + v * weight, w + weight)
            });
        (weight > 0.0).then(|| sum / weight)
    };
    let requests = minutes.iter().map(|m| m.requests).sum::<f64>().round() as u64;
    let errors = if statuses.is_empty() {
        minutes
            .iter()
            .map(|m| m.errors + m.throttled)
            .sum::<f64>()
            .round() as u64
    } else {
        statuses
            .iter()
            .filter(|(status, _)| **status >= 400)
            .map(|(_, n)| n)
            .sum()
    };
    TrafficSummary {
        requests,
        errors,
        statuses: statuses.clone(),
        p50_ms: weighted(|m| m.p50_ms),
        p95_ms: weighted(|m| m.p95_ms),
        p99_ms: weighted(|m| m.p99_ms),
        minutes: minutes.to_vec(),
    }
}

/// How the mirrored answers of `deployment` compared with the live answers to the same
/// requests: structurally (numbers within the default tolerance), as the gates compare them.
fn comparison(deployment: &str, pairs: &[AnswerPair]) -> Comparison {
    let mut found = Comparison::default();
    for pair in pairs.iter().filter(|p| p.mirror_deployment == deployment) {
        let agree = compare(
            &answer(&pair.live),
            &answer(&pair.mirrored),
            NumberTolerance::default(),
        )
        .agree;
        if agree {
            found.equal += 1;
            continue;
        }
        found.differ += 1;
        if found.samples.len() == MAX_SAMPLES {
            found.samples.remove(0);
        }
        found.samples.push(DifferingSample {
            request: cut(&pair.request),
            live: cut(&pair.live),
            mirror: cut(&pair.mirrored),
        });
    }
    found
}

/// The first [`MAX_SAMPLE_CHARS`] characters of `text`, with `…` when cut (a text already cut
/// with `…` is kept as it is).
fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_SAMPLE_CHARS) {
        Some((end, _)) if text[end..] != *"…" => format!("{}…", &text[..end]),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::gates::DeploymentSamples;

    fn sample(at_ms: i64, status: u16, latency_ms: f64) -> RequestSample {
        RequestSample {
            at_ms,
            status,
            latency_ms,
        }
    }

    fn window(live: Vec<RequestSample>, pairs: Vec<AnswerPair>) -> WindowSamples {
        WindowSamples {
            start_ms: 0,
            end_ms: 120_000,
            deployments: BTreeMap::from([(
                "green".to_owned(),
                DeploymentSamples {
                    live: TrafficSamples::PerRequest(live),
                    mirrored: TrafficSamples::default(),
                },
            )]),
            pairs: Some(pairs),
        }
    }

    #[test]
    fn percentiles_are_the_requests_own_and_429s_are_left_out_of_them() {
        let mut live: Vec<RequestSample> = (0..10)
            .map(|i| sample(i * 1_000, 200, 200.0 + i as f64))
            .collect();
        live.push(sample(61_000, 424, 205.0));
        live.extend((0..5).map(|_| sample(62_000, 429, 0.5)));
        let summary = summarize(
            &window(live, Vec::new()),
            &Statuses::new(),
            &BTreeMap::new(),
        );
        let green = &summary.deployments["green"].live;
        assert_eq!(green.requests, 16);
        assert_eq!(
            green.p50_ms,
            Some(205.0),
            "NumPy's linear median of 200..209 and 205"
        );
        assert_eq!((green.model_errors(), green.throttled()), (1, 5));
        assert_eq!(green.minutes.len(), 2);
        assert_eq!(
            (green.minutes[1].errors, green.minutes[1].throttled),
            (1.0, 5.0)
        );
        assert_eq!(green.minutes[1].p50_ms, Some(205.0));
    }

    #[test]
    fn monitor_minutes_give_weighted_percentiles_and_their_statuses() {
        let minute = |at_ms, requests, p50| MinuteSample {
            at_ms,
            requests,
            p50_ms: Some(p50),
            ..MinuteSample::default()
        };
        let mut window = window(Vec::new(), Vec::new());
        window.pairs = None;
        if let Some(green) = window.deployments.get_mut("green") {
            green.live = TrafficSamples::PerMinute(vec![
                minute(0, 30.0, 100.0),
                minute(60_000, 10.0, 200.0),
            ]);
        }
        let statuses = Statuses::from([("green".into(), BTreeMap::from([(200, 36), (424, 4)]))]);
        let summary = summarize(&window, &statuses, &BTreeMap::new());
        let green = &summary.deployments["green"].live;
        assert_eq!(
            (green.requests, green.errors, green.model_errors()),
            (40, 4, 4)
        );
        assert_eq!(green.p50_ms, Some(125.0));
        assert_eq!(green.minutes.len(), 2);
    }

    #[test]
    fn mirrored_answers_compare_structurally_and_ready_counts_show() {
        let pair = |live: &str, mirrored: &str| AnswerPair {
            at_ms: 0,
            live_deployment: "blue".into(),
            mirror_deployment: "green".into(),
            live: live.into(),
            mirrored: mirrored.into(),
            request: "{\"data\": [[1]]}".into(),
        };
        let pairs = vec![pair("[1.0]", "[1]"), pair("[1]", "[2]"), pair("ok", "ok")];
        let ready = BTreeMap::from([("green".to_owned(), 0), ("blue".to_owned(), 1)]);
        let summary = summarize(&window(Vec::new(), pairs), &Statuses::new(), &ready);
        let green = &summary.deployments["green"];
        assert_eq!((green.comparison.equal, green.comparison.differ), (2, 1));
        assert_eq!(green.comparison.samples[0].mirror, "[2]");
        assert_eq!(green.ready_instances, Some(0));
        assert_eq!(summary.deployments["blue"].ready_instances, Some(1));
        assert_eq!(cut(&"x".repeat(300)).chars().count(), MAX_SAMPLE_CHARS + 1);
    }
}
