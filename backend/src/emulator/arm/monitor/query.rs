//! The query of "Metrics - List" as the local workspace understands it: `metricnames`,
//! `timespan`, `interval` (one-minute grains only), `aggregation`, `$filter` (`dim eq 'value'`
//! clauses joined by `and`, `'*'` for every value) and `top`. Each refusal is Azure's 400 and
//! names the parameter.

use crate::emulator::arm::error::ArmFailure;
use chrono::{DateTime, Utc};
use shared::arm::monitor::{
    DEPLOYMENT, MODEL_STATUS_CODE, REQUESTS_PER_MINUTE, REQUEST_LATENCY, REQUEST_LATENCY_P50,
    REQUEST_LATENCY_P90, REQUEST_LATENCY_P95, REQUEST_LATENCY_P99, STATUS_CODE, STATUS_CODE_CLASS,
};
use std::collections::HashMap;

/// The metrics the local workspace serves for an online endpoint (Azure's names).
pub const METRICS: [&str; 6] = [
    REQUESTS_PER_MINUTE,
    REQUEST_LATENCY,
    REQUEST_LATENCY_P50,
    REQUEST_LATENCY_P90,
    REQUEST_LATENCY_P95,
    REQUEST_LATENCY_P99,
];

/// The dimensions Azure documents for `metric`.
pub fn dimensions(metric: &str) -> &'static [&'static str] {
    if metric == REQUESTS_PER_MINUTE {
        &[
            DEPLOYMENT,
            STATUS_CODE,
            STATUS_CODE_CLASS,
            MODEL_STATUS_CODE,
        ]
    } else {
        &[DEPLOYMENT]
    }
}

/// One way of summing a grain's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    Average,
    Minimum,
    Maximum,
    Total,
    Count,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    /// Known names, in Azure's spelling, in the order asked.
    pub metrics: Vec<&'static str>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub aggregations: Vec<Aggregation>,
    /// `(dimension in Azure's spelling, value)`, `None` for `'*'`.
    pub filter: Vec<(&'static str, Option<String>)>,
    pub top: usize,
}

impl MetricsQuery {
    pub fn parse(query: &HashMap<String, String>, now: DateTime<Utc>) -> Result<Self, ArmFailure> {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
        };
        let names = get("metricnames")
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                ArmFailure::invalid_field("metricnames", "metricnames names the metrics to read")
            })?;
        let metrics = names
            .split(',')
            .map(|name| {
                let name = name.trim();
                METRICS
                    .into_iter()
                    .find(|known| known.eq_ignore_ascii_case(name))
                    .ok_or_else(|| ArmFailure::unknown_metric(name, &METRICS))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (start, end) = match get("timespan") {
            None => (now - chrono::Duration::hours(1), now),
            Some(span) => timespan(span)?,
        };
        if let Some(interval) = get("interval") {
            if !interval.eq_ignore_ascii_case("PT1M") {
                return Err(ArmFailure::invalid_field(
                    "interval",
                    format!("the local workspace keeps one-minute grains: interval must be PT1M (got {interval:?})"),
                ));
            }
        }
        let aggregations = match get("aggregation") {
            None => vec![Aggregation::Average],
            Some(list) => list
                .split(',')
                .map(aggregation)
                .collect::<Result<Vec<_>, _>>()?,
        };
        let filter = match get("$filter") {
            None => Vec::new(),
            Some(text) => filter(text)?,
        };
        for metric in &metrics {
            if let Some((dimension, _)) = filter
                .iter()
                .find(|(dimension, _)| !dimensions(metric).contains(dimension))
            {
                return Err(ArmFailure::invalid_field(
                    "$filter",
                    format!("metric {metric} has no dimension {dimension}"),
                ));
            }
        }
        let top = match get("top") {
            None => 10,
            Some(raw) => raw.parse::<usize>().map_err(|_| {
                ArmFailure::invalid_field("top", format!("top must be a number (got {raw:?})"))
            })?,
        };
        Ok(Self {
            metrics,
            start,
            end,
            aggregations,
            filter,
            top,
        })
    }
}

/// `start/end`, each ISO 8601.
fn timespan(span: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), ArmFailure> {
    let refuse = || {
        ArmFailure::invalid_field(
            "timespan",
            format!(
                "timespan must be two ISO 8601 times, start/end, the start first (got {span:?})"
            ),
        )
    };
    let (start, end) = span.split_once('/').ok_or_else(refuse)?;
    let time = |t: &str| {
        DateTime::parse_from_rfc3339(t.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| refuse())
    };
    let (start, end) = (time(start)?, time(end)?);
    if start > end {
        return Err(refuse());
    }
    Ok((start, end))
}

fn aggregation(name: &str) -> Result<Aggregation, ArmFailure> {
    match name.trim().to_ascii_lowercase().as_str() {
        "average" => Ok(Aggregation::Average),
        "minimum" => Ok(Aggregation::Minimum),
        "maximum" => Ok(Aggregation::Maximum),
        "total" => Ok(Aggregation::Total),
        "count" => Ok(Aggregation::Count),
        _ => Err(ArmFailure::invalid_field(
            "aggregation",
            format!("aggregation {name:?} is not one of average, minimum, maximum, total, count"),
        )),
    }
}

/// `deployment eq '*' and statusCode eq '424'`: each clause a known dimension, `eq`, a quoted
/// value. Dimension names compare without case, as Azure's do.
fn filter(text: &str) -> Result<Vec<(&'static str, Option<String>)>, ArmFailure> {
    let refuse = |why: String| ArmFailure::invalid_field("$filter", why);
    let known = [
        DEPLOYMENT,
        STATUS_CODE,
        STATUS_CODE_CLASS,
        MODEL_STATUS_CODE,
    ];
    let lowered = text.to_ascii_lowercase();
    let mut clauses = Vec::new();
    let mut rest = text;
    let mut rest_lowered = lowered.as_str();
    loop {
        let (clause, next) = match rest_lowered.find(" and ") {
            Some(at) => (&rest[..at], Some(at + " and ".len())),
            None => (rest, None),
        };
        let mut words = clause.trim().splitn(3, ' ');
        let (Some(name), Some(op), Some(value)) = (words.next(), words.next(), words.next()) else {
            return Err(refuse(format!("{clause:?} is not `dimension eq 'value'`")));
        };
        let dimension = known
            .into_iter()
            .find(|d| d.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                refuse(format!(
                    "{name} is not a dimension of online endpoint metrics"
                ))
            })?;
        let value = value
            .trim()
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .filter(|_| op.eq_ignore_ascii_case("eq"))
            .ok_or_else(|| refuse(format!("{clause:?} is not `dimension eq 'value'`")))?;
        clauses.push((dimension, (value != "*").then(|| value.to_owned())));
        match next {
            Some(at) => {
                rest = &rest[at..];
                rest_lowered = &rest_lowered[at..];
            }
            None => return Ok(clauses),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_query_reads_as_azure_writes_it() {
        let parsed = MetricsQuery::parse(
            &query(&[
                ("metricnames", "requestsperminute"),
                ("timespan", "2024-05-01T10:00:00Z/2024-05-01T11:00:00Z"),
                ("interval", "PT1M"),
                ("aggregation", "Total,count"),
                ("$filter", "Deployment eq '*' and statusCode eq '424'"),
            ]),
            Utc::now(),
        )
        .expect("parses");
        assert_eq!(parsed.metrics, vec![REQUESTS_PER_MINUTE]);
        assert_eq!(
            parsed.aggregations,
            vec![Aggregation::Total, Aggregation::Count]
        );
        assert_eq!(
            parsed.filter,
            vec![(DEPLOYMENT, None), (STATUS_CODE, Some("424".to_owned()))]
        );
        assert_eq!(parsed.top, 10);
    }

    #[test]
    fn each_refusal_names_its_parameter() {
        let now = Utc::now();
        let refused = |pairs: &[(&str, &str)]| {
            MetricsQuery::parse(&query(pairs), now)
                .err()
                .and_then(|f| f.error().target.clone())
        };
        let metric = [("metricnames", "RequestsPerMinute")];
        assert_eq!(
            refused(&[("metricnames", "Nope")]).as_deref(),
            Some("metricnames")
        );
        assert_eq!(refused(&[]).as_deref(), Some("metricnames"));
        for (name, value) in [
            ("timespan", "yesterday"),
            ("interval", "PT5M"),
            ("aggregation", "median"),
            ("$filter", "deployment = blue"),
            ("top", "ten"),
        ] {
            let pairs = [metric[0], (name, value)];
            assert_eq!(refused(&pairs).as_deref(), Some(name), "{name}={value}");
        }
        let latency_by_status = [
            ("metricnames", "RequestLatency_P99"),
            ("$filter", "statusCode eq '*'"),
        ];
        assert_eq!(refused(&latency_by_status).as_deref(), Some("$filter"));
    }
}
