//! The Prometheus text exposition format (0.0.4): `# HELP`, `# TYPE`, then one line per
//! series. Small enough to write by hand.

use super::{Histogram, LATENCY_BUCKETS};
use std::fmt::Write;

/// The `Content-Type` of the format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A page of metrics being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts metric `name` of `kind` (`counter`, `gauge`, `histogram`).
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let _ = writeln!(self.out, "# HELP {name} {}", help.replace('\n', " "));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        self
    }

    /// One series: `name{labels} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
        self
    }

    /// A whole histogram family with its buckets, sum and count.
    pub fn histogram(&mut self, name: &str, help: &str, histogram: &Histogram) -> &mut Self {
        self.family(name, "histogram", help);
        let (cumulative, sum) = histogram.snapshot();
        let bucket = format!("{name}_bucket");
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&cumulative) {
            self.sample(&bucket, &[("le", &bound.to_string())], *count as f64);
        }
        let total = cumulative.last().copied().unwrap_or(0) as f64;
        self.sample(&bucket, &[("le", "+Inf")], total);
        self.sample(&format!("{name}_sum"), &[], sum);
        self.sample(&format!("{name}_count"), &[], total)
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A label value as the format wants it: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_series_and_escaped_labels() {
        let mut page = Exposition::default();
        page.family("greenlight_x_total", "counter", "Things.")
            .sample(
                "greenlight_x_total",
                &[("route", "/a\"b"), ("s", "200")],
                3.0,
            )
            .sample("greenlight_y", &[], 0.5);
        assert_eq!(
            page.finish(),
            "# HELP greenlight_x_total Things.\n# TYPE greenlight_x_total counter\n\
             greenlight_x_total{route=\"/a\\\"b\",s=\"200\"} 3\ngreenlight_y 0.5\n"
        );
    }

    #[test]
    fn a_histogram_ends_with_inf_sum_and_count() {
        let histogram = Histogram::default();
        histogram.observe(std::time::Duration::from_millis(20));
        let mut page = Exposition::default();
        page.histogram("h", "Latency.", &histogram);
        let text = page.finish();
        assert!(text.contains("h_bucket{le=\"0.01\"} 0\n"), "{text}");
        assert!(text.contains("h_bucket{le=\"0.025\"} 1\n"), "{text}");
        assert!(
            text.contains("h_bucket{le=\"+Inf\"} 1\nh_sum 0.02\nh_count 1\n"),
            "{text}"
        );
    }
}
