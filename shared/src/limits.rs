//! Azure ML's numeric limits for online endpoints, and the ISO-8601 durations its API uses for
//! timeouts and probe periods.
//!
//! The limits live here so the console can refuse a plan before it is submitted, the server can
//! refuse it before it reaches Azure, and the local workspace refuses it the way Azure does.

use std::fmt;
use std::time::Duration;

/// Azure ML refuses a 21st deployment under one endpoint. A count of items, hence `usize`.
pub const MAX_DEPLOYMENTS_PER_ENDPOINT: usize = 20;

/// Azure ML refuses more than 50 instances for one deployment. `i64` because it is compared with
/// the `sku.capacity` of the wire format.
pub const MAX_INSTANCES_PER_DEPLOYMENT: i64 = 50;

/// The longest `requestSettings.requestTimeout` Azure ML accepts for a managed deployment.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(180);

/// The largest share of live traffic Azure ML copies to a mirror deployment. `i64` like the
/// shares of the `mirrorTraffic` map it is compared with.
pub const MAX_MIRROR_PERCENT: i64 = 50;

const SECONDS_PER_MINUTE: u64 = 60;
const SECONDS_PER_HOUR: u64 = 60 * SECONDS_PER_MINUTE;
const SECONDS_PER_DAY: u64 = 24 * SECONDS_PER_HOUR;

/// Why a text is not an ISO-8601 duration of the kind Azure sends; the message names the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    input: String,
    reason: String,
}

impl DurationError {
    fn new(input: &str, reason: impl Into<String>) -> Self {
        Self {
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// The rule that was broken, without the input.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an ISO-8601 duration like PT5M: {}",
            self.input, self.reason
        )
    }
}

impl std::error::Error for DurationError {}

/// Parses the ISO-8601 durations Azure ML uses (`.NET`'s `XmlConvert` form): `P[nD][T[nH][nM][nS]]`,
/// e.g. `PT5M`, `PT2S`, `PT0.5S`, `PT1H30M`, `P1D`, `P1DT2H`.
///
/// Years, months and weeks are refused because a timeout needs a fixed length and Azure never
/// sends them; negative durations are refused because no Azure setting takes one. Only the
/// seconds may have a fraction (up to nanoseconds), which is all `XmlConvert` ever writes.
pub fn parse_iso8601_duration(text: &str) -> Result<Duration, DurationError> {
    let err = |reason: &str| DurationError::new(text, reason);
    let Some(rest) = text.strip_prefix('P') else {
        return Err(err("it must start with 'P'"));
    };
    if rest.is_empty() {
        return Err(err("it must have at least one component"));
    }
    let (date, time) = match rest.split_once('T') {
        Some((_, "")) => return Err(err("'T' must be followed by hours, minutes or seconds")),
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };

    let mut seconds: u64 = 0;
    let mut nanos: u32 = 0;
    let add = |total: u64, value: u64, unit: u64| {
        value
            .checked_mul(unit)
            .and_then(|v| v.checked_add(total))
            .ok_or_else(|| err("it is too long"))
    };

    let mut seen_days = false;
    for (number, designator) in components(date).map_err(|reason| err(&reason))? {
        match designator {
            'D' if seen_days => return Err(err("days may appear only once")),
            'D' => {
                seen_days = true;
                seconds = add(
                    seconds,
                    whole(number).map_err(|r| err(&r))?,
                    SECONDS_PER_DAY,
                )?;
            }
            'Y' | 'M' | 'W' => return Err(err(
                "years, months and weeks have no fixed length; use days, hours, minutes or seconds",
            )),
            other => return Err(err(&format!("unknown date designator {other:?}"))),
        }
    }

    if let Some(time) = time {
        let mut last_rank = 0;
        for (number, designator) in components(time).map_err(|reason| err(&reason))? {
            let (rank, unit) = match designator {
                'H' => (1, SECONDS_PER_HOUR),
                'M' => (2, SECONDS_PER_MINUTE),
                'S' => (3, 1),
                other => return Err(err(&format!("unknown time designator {other:?}"))),
            };
            if rank <= last_rank {
                return Err(err(
                    "hours, minutes and seconds must each appear once, in that order",
                ));
            }
            last_rank = rank;
            let value = if designator == 'S' {
                let (secs, frac) = decimal(number).map_err(|r| err(&r))?;
                nanos = frac;
                secs
            } else {
                whole(number).map_err(|r| err(&r))?
            };
            seconds = add(seconds, value, unit)?;
        }
    }
    Ok(Duration::new(seconds, nanos))
}

/// Splits `12D` / `1H30M` / `0.5S` into (number, designator) pairs; the date part may be empty.
fn components(part: &str) -> Result<Vec<(&str, char)>, String> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in part.char_indices() {
        if c.is_ascii_digit() || c == '.' {
            continue;
        }
        let number = &part[start..i];
        if number.is_empty() {
            return Err(format!("designator {c:?} must follow a number"));
        }
        out.push((number, c));
        start = i + c.len_utf8();
    }
    if start != part.len() {
        return Err("it must end with a designator (D, H, M or S)".to_owned());
    }
    Ok(out)
}

fn whole(number: &str) -> Result<u64, String> {
    if number.contains('.') {
        return Err("only seconds may have a fraction".to_owned());
    }
    number
        .parse::<u64>()
        .map_err(|_| "the number is too large".to_owned())
}

/// `12.345` → (12 s, 345 000 000 ns). Whole-number text is all ASCII digits by construction.
fn decimal(number: &str) -> Result<(u64, u32), String> {
    let (int, frac) = match number.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (number, None),
    };
    if int.is_empty() {
        return Err("seconds need a digit before the '.'".to_owned());
    }
    let secs = whole(int)?;
    let nanos = match frac {
        None => 0,
        Some(frac) if frac.is_empty() || frac.contains('.') => {
            return Err("seconds need digits after the '.'".to_owned())
        }
        Some(frac) if frac.len() > 9 => {
            return Err("seconds may have at most 9 digits after the '.'".to_owned())
        }
        Some(frac) => {
            let digits: u32 = frac
                .parse()
                .map_err(|_| "seconds need digits after the '.'".to_owned())?;
            // At most 9 digits, checked above, so neither the shift nor the product overflows.
            digits * 10u32.pow(9 - frac.len() as u32)
        }
    };
    Ok((secs, nanos))
}

/// Writes a duration the way Azure does: the largest units first, zero components left out,
/// `PT0S` for zero, and fractional seconds without trailing zeros (`PT0.5S`).
///
/// `parse_iso8601_duration(&format_iso8601_duration(d)) == Ok(d)` for every duration.
pub fn format_iso8601_duration(duration: Duration) -> String {
    let total = duration.as_secs();
    let nanos = duration.subsec_nanos();
    if total == 0 && nanos == 0 {
        return "PT0S".to_owned();
    }
    let days = total / SECONDS_PER_DAY;
    let hours = total % SECONDS_PER_DAY / SECONDS_PER_HOUR;
    let minutes = total % SECONDS_PER_HOUR / SECONDS_PER_MINUTE;
    let seconds = total % SECONDS_PER_MINUTE;

    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || nanos > 0 {
        out.push('T');
    }
    if hours > 0 {
        out.push_str(&format!("{hours}H"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}M"));
    }
    if seconds > 0 || nanos > 0 {
        out.push_str(&seconds.to_string());
        if nanos > 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('S');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Duration {
        parse_iso8601_duration(text).expect("the duration should parse")
    }

    fn refusal(text: &str) -> DurationError {
        parse_iso8601_duration(text).expect_err("the duration should be refused")
    }

    #[test]
    fn the_limits_are_azures() {
        assert_eq!(MAX_DEPLOYMENTS_PER_ENDPOINT, 20);
        assert_eq!(MAX_INSTANCES_PER_DEPLOYMENT, 50);
        assert_eq!(MAX_REQUEST_TIMEOUT, Duration::from_secs(180));
        assert_eq!(MAX_MIRROR_PERCENT, 50);
    }

    #[test]
    fn the_forms_azure_sends_parse_to_their_length() {
        assert_eq!(parse("PT5M"), Duration::from_secs(300));
        assert_eq!(parse("PT2S"), Duration::from_secs(2));
        assert_eq!(parse("PT0.5S"), Duration::from_millis(500));
        assert_eq!(parse("PT1H30M"), Duration::from_secs(5400));
        assert_eq!(parse("P1D"), Duration::from_secs(86_400));
        assert_eq!(parse("PT10S"), Duration::from_secs(10));
        assert_eq!(parse("PT1S"), Duration::from_secs(1));
    }

    #[test]
    fn days_and_time_combine() {
        assert_eq!(parse("P1DT2H3M4.25S"), Duration::new(93_784, 250_000_000));
    }

    #[test]
    fn zero_durations_parse() {
        assert_eq!(parse("PT0S"), Duration::ZERO);
        assert_eq!(parse("P0D"), Duration::ZERO);
    }

    #[test]
    fn components_may_exceed_their_natural_range() {
        assert_eq!(parse("PT90M"), Duration::from_secs(5400));
        assert_eq!(parse("PT180S"), MAX_REQUEST_TIMEOUT);
    }

    #[test]
    fn fractions_keep_up_to_nanosecond_precision() {
        assert_eq!(parse("PT0.000000001S"), Duration::from_nanos(1));
        assert_eq!(parse("PT1.1234567S"), Duration::new(1, 123_456_700));
    }

    #[test]
    fn the_forms_azure_sends_format_back_to_the_same_text() {
        for text in [
            "PT5M",
            "PT2S",
            "PT0.5S",
            "PT1H30M",
            "P1D",
            "PT10S",
            "P1DT2H3M4.25S",
        ] {
            assert_eq!(format_iso8601_duration(parse(text)), text);
        }
    }

    #[test]
    fn zero_formats_as_zero_seconds() {
        assert_eq!(format_iso8601_duration(Duration::ZERO), "PT0S");
    }

    #[test]
    fn formatting_uses_the_largest_units() {
        assert_eq!(format_iso8601_duration(Duration::from_secs(180)), "PT3M");
        assert_eq!(format_iso8601_duration(Duration::from_secs(3601)), "PT1H1S");
        assert_eq!(
            format_iso8601_duration(Duration::from_secs(90_000)),
            "P1DT1H"
        );
        assert_eq!(
            format_iso8601_duration(Duration::from_millis(1500)),
            "PT1.5S"
        );
    }

    #[test]
    fn formatting_then_parsing_gives_the_same_duration() {
        for d in [
            Duration::from_nanos(1),
            Duration::new(59, 999_999_999),
            Duration::from_secs(86_399),
            Duration::new(1_000_000, 10),
        ] {
            assert_eq!(parse(&format_iso8601_duration(d)), d);
        }
    }

    #[test]
    fn text_without_the_leading_p_is_refused() {
        assert!(refusal("T5M").reason().contains("start with 'P'"));
        assert!(refusal("5 minutes").reason().contains("start with 'P'"));
        assert!(refusal("").reason().contains("start with 'P'"));
        assert!(refusal("-PT5M").reason().contains("start with 'P'"));
    }

    #[test]
    fn empty_durations_are_refused() {
        assert!(refusal("P").reason().contains("at least one component"));
        assert!(refusal("PT").reason().contains("'T' must be followed"));
        assert!(refusal("P1DT").reason().contains("'T' must be followed"));
    }

    #[test]
    fn days_may_appear_only_once() {
        assert!(refusal("P1D1D").reason().contains("only once"));
    }

    #[test]
    fn years_months_and_weeks_are_refused() {
        for text in ["P1Y", "P1M", "P2W"] {
            assert!(refusal(text).reason().contains("no fixed length"), "{text}");
        }
    }

    #[test]
    fn time_units_out_of_order_or_repeated_are_refused() {
        assert!(refusal("PT5S3M").reason().contains("in that order"));
        assert!(refusal("PT1M1M").reason().contains("in that order"));
    }

    #[test]
    fn a_designator_without_a_number_or_a_number_without_a_designator_is_refused() {
        assert!(refusal("PTM").reason().contains("must follow a number"));
        assert!(refusal("PT5")
            .reason()
            .contains("must end with a designator"));
        assert!(refusal("P1D5")
            .reason()
            .contains("must end with a designator"));
    }

    #[test]
    fn fractions_are_allowed_on_seconds_only() {
        assert!(refusal("PT0.5M").reason().contains("only seconds"));
        assert!(refusal("P1.5D").reason().contains("only seconds"));
        assert!(refusal("PT.5S").reason().contains("digit before"));
        assert!(refusal("PT1.S").reason().contains("digits after"));
        assert!(refusal("PT1.2.3S").reason().contains("digits after"));
        assert!(refusal("PT0.1234567891S")
            .reason()
            .contains("at most 9 digits"));
    }

    #[test]
    fn unknown_designators_and_lower_case_are_refused() {
        assert!(refusal("PT5X").reason().contains("unknown time designator"));
        assert!(refusal("pt5m").reason().contains("start with 'P'"));
        assert!(refusal("PT5m").reason().contains("unknown time designator"));
    }

    #[test]
    fn durations_too_long_for_a_duration_are_refused() {
        assert!(refusal("PT99999999999999999999S")
            .reason()
            .contains("too large"));
        assert!(refusal("P999999999999999999D")
            .reason()
            .contains("too long"));
    }

    #[test]
    fn the_message_quotes_the_input_and_names_the_rule() {
        let message = refusal("5m").to_string();
        assert!(message.contains("\"5m\""), "{message}");
        assert!(message.contains("must start with 'P'"), "{message}");
    }
}
