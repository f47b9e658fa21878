//! Greenlight's own health as Prometheus metrics: what is counted as it happens (HTTP requests
//! per route, ARM calls and their latency) in lock-free atomics, and the text format that
//! `GET /metrics` answers with. Gauges read from the database are taken at scrape time.
//!
//! Labels stay bounded: a request is counted under its route *template* (never its raw path),
//! methods and statuses outside small fixed sets share one bucket each.

pub mod text;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The statuses counted one by one; any other counts under its class (`4xx`).
const STATUSES: [u16; 26] = [
    200, 201, 202, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 406, 409, 412, 413,
    415, 422, 429, 500, 502, 503, 504,
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// One counter per status (plus one per class, for the rest).
#[derive(Debug, Default)]
pub struct StatusCounters {
    exact: [AtomicU64; STATUSES.len()],
    class: [AtomicU64; CLASSES.len()],
    /// No status at all: the call failed before an answer (ARM transport errors).
    failed: AtomicU64,
}

impl StatusCounters {
    pub fn count(&self, status: Option<u16>) {
        let counter = match status {
            None => &self.failed,
            Some(status) => match STATUSES.binary_search(&status) {
                Ok(i) => &self.exact[i],
                Err(_) => &self.class[usize::from(status / 100).clamp(1, 5) - 1],
            },
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `(status label, count)` of every status counted at least once.
    pub fn counted(&self) -> Vec<(String, u64)> {
        let exact = STATUSES
            .iter()
            .zip(&self.exact)
            .map(|(status, n)| (status.to_string(), n.load(Ordering::Relaxed)));
        let class = CLASSES
            .iter()
            .zip(&self.class)
            .map(|(class, n)| ((*class).to_owned(), n.load(Ordering::Relaxed)));
        let failed = std::iter::once(("error".to_owned(), self.failed.load(Ordering::Relaxed)));
        exact
            .chain(class)
            .chain(failed)
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// Upper bounds (seconds) of the latency histogram's buckets; `+Inf` is implied.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A latency histogram of atomics: per-bucket counts (cumulated when written out), the sum in
/// microseconds and the count.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Cumulative counts per bucket (the last is `+Inf`, the total), and the sum in seconds.
    pub fn snapshot(&self) -> (Vec<u64>, f64) {
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|n| {
                total += n.load(Ordering::Relaxed);
                total
            })
            .collect();
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        (cumulative, sum)
    }
}

/// The methods counted one by one; any other counts as `other`.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
];

/// The route label of a request no route matched (the console's static files, unknown paths).
pub const UNMATCHED: &str = "unmatched";

/// Requests per route template, method and status. The routes are fixed when the app is
/// built, so counting is a map lookup and an atomic increment: no lock.
#[derive(Debug)]
pub struct HttpMetrics {
    routes: HashMap<String, Box<[StatusCounters; METHODS.len()]>>,
}

impl HttpMetrics {
    /// Counters for `routes` (templates such as `/api/v1/endpoints/{endpoint}`) and for
    /// [`UNMATCHED`].
    pub fn new<'a>(routes: impl IntoIterator<Item = &'a str>) -> Self {
        let routes = routes
            .into_iter()
            .chain([UNMATCHED])
            .map(|route| (route.to_owned(), Box::default()))
            .collect();
        Self { routes }
    }

    /// Counts a request to `route` (its template, or `None` when no route matched).
    pub fn count(&self, route: Option<&str>, method: &str, status: u16) {
        let counters = route
            .and_then(|route| self.routes.get(route))
            .or_else(|| self.routes.get(UNMATCHED));
        let m = METHODS
            .iter()
            .position(|known| *known == method)
            .unwrap_or(METHODS.len() - 1);
        if let Some(counters) = counters {
            counters[m].count(Some(status));
        }
    }

    /// `(route, method, status, count)` of everything counted, sorted by route.
    pub fn counted(&self) -> Vec<(&str, &'static str, String, u64)> {
        let mut rows: Vec<_> = self
            .routes
            .iter()
            .flat_map(|(route, per_method)| {
                METHODS
                    .iter()
                    .zip(per_method.iter())
                    .flat_map(move |(m, c)| {
                        c.counted()
                            .into_iter()
                            .map(move |(status, n)| (route.as_str(), *m, status, n))
                    })
            })
            .collect();
        rows.sort();
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_outside_the_known_set_count_under_their_class() {
        let counters = StatusCounters::default();
        for status in [Some(200), Some(200), Some(418), Some(599), None] {
            counters.count(status);
        }
        assert_eq!(
            counters.counted(),
            vec![
                ("200".into(), 2),
                ("4xx".into(), 1),
                ("5xx".into(), 1),
                ("error".into(), 1)
            ]
        );
    }

    #[test]
    fn routes_count_by_template_and_the_rest_as_unmatched() {
        let metrics = HttpMetrics::new(["/api/v1/endpoints/{endpoint}"]);
        metrics.count(Some("/api/v1/endpoints/{endpoint}"), "GET", 200);
        metrics.count(None, "GET", 200);
        metrics.count(Some("/not/a/route"), "BREW", 404);
        assert_eq!(
            metrics.counted(),
            vec![
                ("/api/v1/endpoints/{endpoint}", "GET", "200".into(), 1),
                (UNMATCHED, "GET", "200".into(), 1),
                (UNMATCHED, "other", "404".into(), 1),
            ]
        );
    }

    #[test]
    fn the_histogram_is_cumulative() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_millis(300));
        histogram.observe(Duration::from_secs(100));
        let (buckets, sum) = histogram.snapshot();
        assert_eq!(buckets[0], 1);
        assert_eq!(buckets[6], 2);
        assert_eq!(*buckets.last().expect("+Inf"), 3);
        assert!((sum - 100.303).abs() < 1e-6);
    }
}
