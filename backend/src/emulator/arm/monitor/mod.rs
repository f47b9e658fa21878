//! Azure Monitor's "Metrics - List" for an online endpoint
//! (`GET {endpoint id}/providers/Microsoft.Insights/metrics`), answered from the requests the
//! scoring router recorded, in Azure's shape, one-minute grain, with the metric and dimension
//! names Azure documents for online endpoints. Like Azure's, the counts take in every request
//! a deployment answered — mirrored copies too: Monitor cannot tell them apart.

pub mod query;

use super::endpoints::EndpointPath;
use super::error::ArmFailure;
use super::ControlState;
use crate::emulator::workspace::LOCATION;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use query::{Aggregation, MetricsQuery};
use shared::arm::monitor::{
    LocalizableString, MetadataValue, Metric, MetricValue, MetricsResponse, TimeSeriesElement,
    DEPLOYMENT, MODEL_STATUS_CODE, REQUESTS_PER_MINUTE, REQUEST_LATENCY, STATUS_CODE,
    STATUS_CODE_CLASS,
};
use shared::gates::judge::quantile;
use shared::gates::{is_throttled, RequestSample, TrafficSamples};
use std::collections::{BTreeMap, HashMap};

const MINUTE_MS: i64 = 60_000;

pub async fn metrics(
    State(state): State<ControlState>,
    Path(path): Path<EndpointPath>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<MetricsResponse>, ArmFailure> {
    let query = MetricsQuery::parse(&raw, Utc::now())?;
    let endpoint = state
        .workspace
        .get_endpoint(&path.workspace.id(), &path.endpoint)
        .await?;
    // Whole minutes: the grain's start, up to the minute that holds the end.
    let start_ms = query.start.timestamp_millis().div_euclid(MINUTE_MS) * MINUTE_MS;
    let end_ms = query.end.timestamp_millis();
    let requests: Vec<(String, RequestSample)> = state
        .workspace
        .routes
        .get(&path.endpoint.to_ascii_lowercase())
        .map(|route| route.metrics.window(start_ms, end_ms))
        .map(|window| {
            window
                .deployments
                .into_iter()
                .flat_map(|(name, samples)| {
                    [samples.live, samples.mirrored]
                        .into_iter()
                        .flat_map(per_request)
                        .map(move |s| (name.clone(), s))
                })
                .collect()
        })
        .unwrap_or_default();
    let value = query
        .metrics
        .iter()
        .map(|name| {
            metric(
                endpoint.id.as_deref().unwrap_or_default(),
                name,
                &query,
                &requests,
                start_ms,
                end_ms,
            )
        })
        .collect();
    Ok(Json(MetricsResponse {
        cost: Some(0),
        timespan: format!("{}/{}", iso(query.start), iso(query.end)),
        interval: Some("PT1M".into()),
        value,
        namespace: Some("Microsoft.MachineLearningServices/workspaces/onlineEndpoints".into()),
        resourceregion: Some(LOCATION.into()),
    }))
}

fn per_request(samples: TrafficSamples) -> Vec<RequestSample> {
    match samples {
        TrafficSamples::PerRequest(samples) => samples,
        TrafficSamples::PerMinute(_) => Vec::new(),
    }
}

fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A dimension's value for one request. A model's status is what its container answered: 200
/// for an answer, 500 behind a 424 (the scoring script raised); nothing when the request never
/// reached a model (429, 408, 503 …).
fn dimension_value(dimension: &str, deployment: &str, status: u16) -> String {
    match dimension {
        DEPLOYMENT => deployment.to_owned(),
        STATUS_CODE => status.to_string(),
        STATUS_CODE_CLASS => format!("{}xx", status / 100),
        MODEL_STATUS_CODE => match status {
            200 => "200".into(),
            424 => "500".into(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// One metric: a time series per combination of the filtered dimensions' values (filtered
/// to the values asked for), every minute of the window, at most `top` series.
fn metric(
    endpoint_id: &str,
    name: &'static str,
    query: &MetricsQuery,
    requests: &[(String, RequestSample)],
    start_ms: i64,
    end_ms: i64,
) -> Metric {
    let mut series: BTreeMap<Vec<String>, BTreeMap<i64, Vec<&RequestSample>>> = BTreeMap::new();
    for (deployment, request) in requests {
        let key: Vec<String> = query
            .filter
            .iter()
            .map(|(dimension, _)| dimension_value(dimension, deployment, request.status))
            .collect();
        let wanted = query.filter.iter().zip(&key).all(|((_, asked), value)| {
            asked.as_ref().is_none_or(|a| a.eq_ignore_ascii_case(value))
        });
        if wanted {
            let minute = request.at_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
            series
                .entry(key)
                .or_default()
                .entry(minute)
                .or_default()
                .push(request);
        }
    }
    let timeseries = series
        .into_iter()
        .take(query.top)
        .map(|(key, by_minute)| TimeSeriesElement {
            metadatavalues: query
                .filter
                .iter()
                .zip(key)
                .map(|((dimension, _), value)| MetadataValue {
                    // Azure answers with dimension names lowercased.
                    name: LocalizableString {
                        value: dimension.to_ascii_lowercase(),
                        localized_value: Some(dimension.to_ascii_lowercase()),
                    },
                    value,
                })
                .collect(),
            data: (start_ms..end_ms)
                .step_by(MINUTE_MS as usize)
                .map(|minute| point(name, minute, by_minute.get(&minute), &query.aggregations))
                .collect(),
        })
        .collect();
    let (unit, description) = if name == REQUESTS_PER_MINUTE {
        (
            "Count",
            "The number of requests sent to online endpoint within a minute",
        )
    } else {
        ("MilliSeconds", "Request latency in milliseconds")
    };
    Metric {
        id: format!("{endpoint_id}/providers/Microsoft.Insights/metrics/{name}"),
        kind: "Microsoft.Insights/metrics".into(),
        name: LocalizableString {
            value: name.into(),
            localized_value: Some(name.replace('_', " ")),
        },
        display_description: Some(description.into()),
        unit: unit.into(),
        timeseries,
        error_code: Some("Success".into()),
        error_message: None,
    }
}

/// One minute of one series: nothing but its time when no request fell in it, as Azure
/// leaves a grain without data.
fn point(
    name: &str,
    minute: i64,
    requests: Option<&Vec<&RequestSample>>,
    aggregations: &[Aggregation],
) -> MetricValue {
    let mut point = MetricValue {
        time_stamp: iso(Utc
            .timestamp_millis_opt(minute)
            .single()
            .unwrap_or_default()),
        ..MetricValue::default()
    };
    let Some(requests) = requests else {
        return point;
    };
    // The grain's values: one count for the request rate; the latency of each request the
    // model saw (a 429 never reached it) for the latency; one percentile for the others.
    let latencies: Vec<f64> = requests
        .iter()
        .filter(|r| !is_throttled(r.status))
        .map(|r| r.latency_ms)
        .collect();
    let values: Vec<f64> = match name {
        REQUESTS_PER_MINUTE => vec![requests.len() as f64],
        REQUEST_LATENCY => latencies,
        percentile => percentile
            .rsplit_once("_P")
            .and_then(|(_, q)| q.parse::<f64>().ok())
            .and_then(|q| quantile(&latencies, q / 100.0))
            .into_iter()
            .collect(),
    };
    if values.is_empty() {
        return point;
    }
    let total: f64 = values.iter().sum();
    for aggregation in aggregations {
        let value = match aggregation {
            Aggregation::Average => total / values.len() as f64,
            Aggregation::Minimum => values.iter().copied().fold(f64::INFINITY, f64::min),
            Aggregation::Maximum => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Aggregation::Total => total,
            Aggregation::Count => values.len() as f64,
        };
        let slot = match aggregation {
            Aggregation::Average => &mut point.average,
            Aggregation::Minimum => &mut point.minimum,
            Aggregation::Maximum => &mut point.maximum,
            Aggregation::Total => &mut point.total,
            Aggregation::Count => &mut point.count,
        };
        *slot = Some(value);
    }
    point
}
