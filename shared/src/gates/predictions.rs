//! Prediction diff: a mirrored request's answer from green against the live answer from blue to
//! the same request, compared structurally — numbers within a tolerance, arrays element by
//! element, objects key by key, everything else exactly. What gates call "prediction
//! agreement" is the share of requests whose answers agree; the differing samples are kept,
//! truncated, for people to look at.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Two numbers agree when they differ by at most `absolute`, or by at most `relative` of the
/// larger magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberTolerance {
    pub relative: f64,
    pub absolute: f64,
}

impl Default for NumberTolerance {
    fn default() -> Self {
        Self {
            relative: 1e-6,
            absolute: 1e-9,
        }
    }
}

/// How one pair of answers compares.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub agree: bool,
    /// The largest absolute difference between numbers at the same place.
    pub max_abs_diff: f64,
    /// Where they first differ (`[0].score`), when they do.
    pub first_difference: Option<String>,
}

/// An answer body as JSON, or as a JSON string when it is not JSON (then compared exactly).
/// The one reading of an answer for the gates, the console's comparison counts and the local
/// workspace's.
pub fn answer(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Compares `live` with `mirrored`.
pub fn compare(live: &Value, mirrored: &Value, tolerance: NumberTolerance) -> Comparison {
    let mut found = Comparison {
        agree: true,
        max_abs_diff: 0.0,
        first_difference: None,
    };
    walk(live, mirrored, tolerance, String::new(), &mut found);
    found
}

fn differ(found: &mut Comparison, path: &str) {
    if found.agree {
        found.agree = false;
        found.first_difference = Some(if path.is_empty() {
            "$".into()
        } else {
            path.into()
        });
    }
}

fn walk(a: &Value, b: &Value, tolerance: NumberTolerance, path: String, found: &mut Comparison) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (Some(x), Some(y)) = (x.as_f64(), y.as_f64()) else {
                return differ(found, &path);
            };
            let diff = (x - y).abs();
            found.max_abs_diff = found.max_abs_diff.max(diff);
            let allowed = tolerance
                .absolute
                .max(tolerance.relative * x.abs().max(y.abs()));
            if diff > allowed {
                differ(found, &path);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                differ(found, &path);
            }
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                walk(x, y, tolerance, format!("{path}[{i}]"), found);
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() || x.keys().any(|k| !y.contains_key(k)) {
                differ(found, &path);
            }
            for (key, x) in x {
                if let Some(y) = y.get(key) {
                    walk(x, y, tolerance, format!("{path}.{key}"), found);
                }
            }
        }
        (x, y) if x == y => {}
        _ => differ(found, &path),
    }
}

/// A pair of answers that differ, cut for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DifferingSample {
    pub live: String,
    pub mirrored: String,
    pub first_difference: String,
}

/// How far green's answers agree with blue's over a window of mirrored requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agreement {
    pub requests: usize,
    pub agreeing: usize,
    /// `agreeing / requests`; none without requests.
    pub share: Option<f64>,
    pub max_abs_diff: f64,
    pub mean_abs_diff: f64,
    pub samples: Vec<DifferingSample>,
}

/// The longest text a sample keeps of each answer.
pub const SAMPLE_CHARS: usize = 200;

fn cut(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(SAMPLE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

/// The agreement of `pairs` (live answer, mirrored answer), keeping up to `keep` differing
/// samples.
pub fn agreement(pairs: &[(Value, Value)], tolerance: NumberTolerance, keep: usize) -> Agreement {
    let mut result = Agreement {
        requests: pairs.len(),
        agreeing: 0,
        share: None,
        max_abs_diff: 0.0,
        mean_abs_diff: 0.0,
        samples: Vec::new(),
    };
    let mut total_diff = 0.0;
    for (live, mirrored) in pairs {
        let compared = compare(live, mirrored, tolerance);
        result.max_abs_diff = result.max_abs_diff.max(compared.max_abs_diff);
        total_diff += compared.max_abs_diff;
        if compared.agree {
            result.agreeing += 1;
        } else if result.samples.len() < keep {
            result.samples.push(DifferingSample {
                live: cut(live),
                mirrored: cut(mirrored),
                first_difference: compared.first_difference.unwrap_or_default(),
            });
        }
    }
    if !pairs.is_empty() {
        result.share = Some(result.agreeing as f64 / pairs.len() as f64);
        result.mean_abs_diff = total_diff / pairs.len() as f64;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_within_the_tolerance_agree_and_beyond_it_differ() {
        let tolerance = NumberTolerance {
            relative: 0.01,
            absolute: 0.0,
        };
        assert!(compare(&json!([100.0]), &json!([100.5]), tolerance).agree);
        let far = compare(&json!([100.0, 2.0]), &json!([100.0, 3.0]), tolerance);
        assert!(!far.agree);
        assert_eq!(far.first_difference.as_deref(), Some("[1]"));
        assert_eq!(far.max_abs_diff, 1.0);
    }

    #[test]
    fn arrays_compare_element_wise_and_objects_key_wise() {
        let tolerance = NumberTolerance::default();
        let shorter = compare(&json!([1, 2, 3]), &json!([1, 2]), tolerance);
        assert!(!shorter.agree);
        let nested = compare(
            &json!({ "scores": [0.1, 0.2], "label": "a" }),
            &json!({ "scores": [0.1, 0.2], "label": "b" }),
            tolerance,
        );
        assert_eq!(nested.first_difference.as_deref(), Some(".label"));
        let missing = compare(&json!({ "a": 1 }), &json!({ "b": 1 }), tolerance);
        assert!(!missing.agree);
        assert!(compare(&json!({ "a": [1.0] }), &json!({ "a": [1] }), tolerance).agree);
    }

    #[test]
    fn agreement_counts_requests_and_keeps_cut_samples() {
        let pairs = vec![
            (json!([1.0]), json!([1.0])),
            (json!([1.0]), json!([1.5])),
            (json!("x".repeat(500)), json!("y")),
        ];
        let found = agreement(&pairs, NumberTolerance::default(), 1);
        assert_eq!((found.requests, found.agreeing), (3, 1));
        assert!(found.share.is_some_and(|s| (s - 1.0 / 3.0).abs() < 1e-12));
        assert_eq!(found.max_abs_diff, 0.5);
        assert_eq!(found.samples.len(), 1, "at most `keep` samples");
        let none = agreement(&[], NumberTolerance::default(), 5);
        assert_eq!(none.share, None);
        let cut_sample = agreement(&pairs[2..], NumberTolerance::default(), 1);
        assert!(cut_sample.samples[0].live.chars().count() <= SAMPLE_CHARS + 1);
    }
}
