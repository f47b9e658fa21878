//! The `?api-version=` every ARM request must carry: a release date, `YYYY-MM-DD`, optionally
//! with `-preview`. The local workspace refuses a request without a valid one, as ARM does.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

const PREVIEW_SUFFIX: &str = "-preview";

/// A valid ARM API version such as `2024-04-01` or `2024-10-01-preview`.
///
/// Ordered by date; on the same date a preview comes before the stable release, so
/// `version >= ApiVersion::parse("2024-04-01")?` means "at least that release".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiVersion {
    year: u16,
    month: u8,
    day: u8,
    preview: bool,
}

/// Why a text is not a valid API version; the message names the rule and quotes the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiVersionError {
    /// Not `YYYY-MM-DD` or `YYYY-MM-DD-preview`.
    Format { input: String },
    /// The month is not 01–12.
    Month { input: String },
    /// The day does not exist in that month.
    Day { input: String, days_in_month: u8 },
}

impl fmt::Display for ApiVersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiVersionError::Format { input } => write!(
                f,
                "api-version must be YYYY-MM-DD or YYYY-MM-DD-preview (got {input:?})"
            ),
            ApiVersionError::Month { input } => {
                write!(f, "api-version month must be 01 to 12 (got {input:?})")
            }
            ApiVersionError::Day {
                input,
                days_in_month,
            } => write!(
                f,
                "api-version day must be 01 to {days_in_month:02} in that month (got {input:?})"
            ),
        }
    }
}

impl std::error::Error for ApiVersionError {}

impl ApiVersion {
    pub fn parse(text: &str) -> Result<Self, ApiVersionError> {
        let format_error = || ApiVersionError::Format {
            input: text.to_owned(),
        };
        let (date, preview) = match text.strip_suffix(PREVIEW_SUFFIX) {
            Some(date) => (date, true),
            None => (text, false),
        };
        let bytes = date.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !shape_ok {
            return Err(format_error());
        }
        // All digits by the check above, so these parses cannot fail.
        let year: u16 = date[0..4].parse().map_err(|_| format_error())?;
        let month: u8 = date[5..7].parse().map_err(|_| format_error())?;
        let day: u8 = date[8..10].parse().map_err(|_| format_error())?;
        if !(1..=12).contains(&month) {
            return Err(ApiVersionError::Month {
                input: text.to_owned(),
            });
        }
        let days_in_month = days_in_month(year, month);
        if !(1..=days_in_month).contains(&day) {
            return Err(ApiVersionError::Day {
                input: text.to_owned(),
                days_in_month,
            });
        }
        Ok(Self {
            year,
            month,
            day,
            preview,
        })
    }

    pub fn year(&self) -> u16 {
        self.year
    }

    pub fn month(&self) -> u8 {
        self.month
    }

    pub fn day(&self) -> u8 {
        self.day
    }

    pub fn is_preview(&self) -> bool {
        self.preview
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Ord for ApiVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.year, self.month, self.day, !self.preview).cmp(&(
            other.year,
            other.month,
            other.day,
            !other.preview,
        ))
    }
}

impl PartialOrd for ApiVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)?;
        if self.preview {
            f.write_str(PREVIEW_SUFFIX)?;
        }
        Ok(())
    }
}

impl FromStr for ApiVersion {
    type Err = ApiVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ApiVersion {
    type Error = ApiVersionError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ApiVersion> for String {
    fn from(value: ApiVersion) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> ApiVersion {
        ApiVersion::parse(text).expect("the version should parse")
    }

    fn refusal(text: &str) -> ApiVersionError {
        ApiVersion::parse(text).expect_err("the version should be refused")
    }

    #[test]
    fn stable_and_preview_versions_parse_and_print_as_given() {
        for text in [
            "2024-04-01",
            "2024-10-01-preview",
            "2025-04-01",
            "2000-02-29",
        ] {
            assert_eq!(version(text).to_string(), text);
        }
        let v = version("2024-10-01-preview");
        assert_eq!(
            (v.year(), v.month(), v.day(), v.is_preview()),
            (2024, 10, 1, true)
        );
    }

    #[test]
    fn text_that_is_not_a_date_is_refused() {
        for text in [
            "",
            "2024-4-01",
            "2024/04/01",
            "20240401",
            "2024-04-01-beta",
            "2024-04-01preview",
            "2024-04-01-Preview",
            "v2024-04-01",
            "2024-04-01 ",
            "２０２４-04-01",
            "-preview",
        ] {
            assert!(
                matches!(refusal(text), ApiVersionError::Format { .. }),
                "{text:?}"
            );
        }
        let message = refusal("latest").to_string();
        assert!(
            message.contains("must be YYYY-MM-DD or YYYY-MM-DD-preview"),
            "{message}"
        );
        assert!(message.contains("\"latest\""), "{message}");
    }

    #[test]
    fn months_outside_1_to_12_are_refused() {
        assert!(matches!(
            refusal("2024-13-01"),
            ApiVersionError::Month { .. }
        ));
        assert!(matches!(
            refusal("2024-00-01"),
            ApiVersionError::Month { .. }
        ));
        assert!(refusal("2024-13-01")
            .to_string()
            .contains("month must be 01 to 12"));
    }

    #[test]
    fn days_that_do_not_exist_in_the_month_are_refused() {
        assert!(matches!(
            refusal("2024-04-31"),
            ApiVersionError::Day {
                days_in_month: 30,
                ..
            }
        ));
        assert!(matches!(refusal("2024-01-00"), ApiVersionError::Day { .. }));
        assert!(matches!(refusal("2024-01-32"), ApiVersionError::Day { .. }));
        assert!(refusal("2024-04-31")
            .to_string()
            .contains("day must be 01 to 30"));
    }

    #[test]
    fn february_29_exists_only_in_leap_years() {
        assert!(ApiVersion::parse("2024-02-29").is_ok());
        assert!(ApiVersion::parse("2000-02-29").is_ok());
        assert!(matches!(
            refusal("2023-02-29"),
            ApiVersionError::Day {
                days_in_month: 28,
                ..
            }
        ));
        assert!(matches!(refusal("1900-02-29"), ApiVersionError::Day { .. }));
    }

    #[test]
    fn versions_order_by_date_with_previews_before_the_release() {
        assert!(version("2024-04-01") < version("2024-10-01-preview"));
        assert!(version("2024-10-01-preview") < version("2024-10-01"));
        assert!(version("2023-12-31") < version("2024-01-01"));
        assert!(version("2025-04-01") >= version("2024-04-01"));
    }

    #[test]
    fn api_versions_serialize_as_text_and_refuse_bad_text() {
        let v: ApiVersion = serde_json::from_str("\"2024-04-01\"").expect("parse");
        assert_eq!(
            serde_json::to_string(&v).expect("serialize"),
            "\"2024-04-01\""
        );
        assert!(serde_json::from_str::<ApiVersion>("\"2024-04\"").is_err());
    }
}
