//! Whether an instant falls inside a window, when it ends, and when the next one starts. Time
//! zones come from the system's zoneinfo database (`/usr/share/zoneinfo`, kept current by the
//! OS's `tzdata` package) through `jiff`; none is bundled.
//!
//! Local times that a clock change skips or repeats resolve as most calendars do ("compatible"):
//! a time in the spring-forward gap moves forward by the gap (02:30 becomes 03:30 summer time),
//! and a time the autumn fold repeats means its first occurrence (summer time).

use super::{ClockTime, Day, Occurrence, Schedule, DAY_MINUTES};
use crate::error::FieldError;
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use jiff::tz::TimeZone;
use std::fmt;

/// A stored window names a zone this machine's database no longer has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTimeZone(pub String);

impl fmt::Display for UnknownTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the time zone {:?} is not in this server's time-zone database",
            self.0
        )
    }
}

impl std::error::Error for UnknownTimeZone {}

fn zone(name: &str) -> Result<TimeZone, UnknownTimeZone> {
    TimeZone::get(name).map_err(|_| UnknownTimeZone(name.to_owned()))
}

/// The rule the shape checks leave to the server: `schedule.time_zone` names a known zone.
pub fn check_time_zone(name: &str) -> Result<(), FieldError> {
    zone(name).map(drop).map_err(|_| FieldError {
        field: "schedule.time_zone".into(),
        message: format!(
            "schedule.time_zone must be a known IANA time zone name such as Europe/Berlin (got {name:?})"
        ),
    })
}

fn timestamp(at: DateTime<Utc>) -> jiff::Timestamp {
    // Every chrono UTC date within jiff's range (years -9999..=9999) converts; the clamp keeps
    // the far future a far future instead of a panic.
    jiff::Timestamp::new(at.timestamp(), at.timestamp_subsec_nanos() as i32).unwrap_or(
        if at.timestamp() < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        },
    )
}

fn local_date(tz: &TimeZone, at: DateTime<Utc>) -> Option<NaiveDate> {
    let civil = tz.to_datetime(timestamp(at));
    NaiveDate::from_ymd_opt(
        i32::from(civil.year()),
        civil.month() as u32,
        civil.day() as u32,
    )
}

/// `minutes` (may pass midnight) after the start of local `date`, as an instant.
fn instant(tz: &TimeZone, date: NaiveDate, minutes: u16) -> Option<DateTime<Utc>> {
    let day = date.checked_add_days(Days::new(u64::from(minutes / DAY_MINUTES)))?;
    let minutes = minutes % DAY_MINUTES;
    let civil = jiff::civil::DateTime::new(
        i16::try_from(day.year()).ok()?,
        day.month() as i8,
        day.day() as i8,
        (minutes / 60) as i8,
        (minutes % 60) as i8,
        0,
        0,
    )
    .ok()?;
    let ts = tz.to_timestamp(civil).ok()?;
    DateTime::from_timestamp(ts.as_second(), ts.subsec_nanosecond() as u32)
}

/// The weekly window's stretch that starts on local `date`, if `date` is one of its days.
fn weekly_on(
    tz: &TimeZone,
    days: &[Day],
    start: ClockTime,
    end: ClockTime,
    date: NaiveDate,
) -> Option<Occurrence> {
    if !days.contains(&Day::of(date.weekday())) {
        return None;
    }
    let end_minutes = if end <= start {
        end.minutes() + DAY_MINUTES
    } else {
        end.minutes()
    };
    let starts_at = instant(tz, date, start.minutes())?;
    let ends_at = instant(tz, date, end_minutes)?;
    // A start moved forward by a spring-forward gap can pass the end: nothing is frozen then.
    (ends_at > starts_at).then_some(Occurrence { starts_at, ends_at })
}

/// The weekly stretches starting on local dates from two days before `at`'s to a week after.
fn weekly_around(
    days: &[Day],
    start: ClockTime,
    end: ClockTime,
    time_zone: &str,
    at: DateTime<Utc>,
) -> Result<Vec<Occurrence>, UnknownTimeZone> {
    let tz = zone(time_zone)?;
    let Some(today) = local_date(&tz, at) else {
        return Ok(Vec::new());
    };
    Ok((-2i64..=8)
        .filter_map(|offset| today.checked_add_signed(chrono::Duration::days(offset)))
        .filter_map(|date| weekly_on(&tz, days, start, end, date))
        .collect())
}

impl Schedule {
    /// The stretch of this window that covers `at` (start inclusive, end exclusive), if any.
    pub fn covering(&self, at: DateTime<Utc>) -> Result<Option<Occurrence>, UnknownTimeZone> {
        let covers = |o: &Occurrence| o.starts_at <= at && at < o.ends_at;
        match self {
            Schedule::Once { starts_at, ends_at } => {
                let once = Occurrence {
                    starts_at: *starts_at,
                    ends_at: *ends_at,
                };
                Ok(covers(&once).then_some(once))
            }
            Schedule::Weekly {
                days,
                start,
                end,
                time_zone,
            } => Ok(weekly_around(days, *start, *end, time_zone, at)?
                .into_iter()
                .filter(covers)
                .max_by_key(|o| o.ends_at)),
        }
    }

    /// The first stretch of this window that starts after `at`, if any.
    pub fn next_after(&self, at: DateTime<Utc>) -> Result<Option<Occurrence>, UnknownTimeZone> {
        match self {
            Schedule::Once { starts_at, ends_at } => Ok((*starts_at > at).then_some(Occurrence {
                starts_at: *starts_at,
                ends_at: *ends_at,
            })),
            Schedule::Weekly {
                days,
                start,
                end,
                time_zone,
            } => Ok(weekly_around(days, *start, *end, time_zone, at)?
                .into_iter()
                .filter(|o| o.starts_at > at)
                .min_by_key(|o| o.starts_at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("a test instant")
            .with_timezone(&Utc)
    }

    fn weekly(days: &[Day], start: &str, end: &str, time_zone: &str) -> Schedule {
        Schedule::Weekly {
            days: days.to_vec(),
            start: ClockTime::parse(start).expect("start"),
            end: ClockTime::parse(end).expect("end"),
            time_zone: time_zone.into(),
        }
    }

    fn stretch(starts_at: &str, ends_at: &str) -> Option<Occurrence> {
        Some(Occurrence {
            starts_at: utc(starts_at),
            ends_at: utc(ends_at),
        })
    }

    #[test]
    fn a_weekly_window_over_the_spring_forward_night_in_berlin_is_an_hour_shorter() {
        // 2026-03-29, the last Sunday of March: 02:00 CET becomes 03:00 CEST (01:00 UTC).
        let window = weekly(&[Day::Sun], "01:00", "04:00", "Europe/Berlin");
        let expected = stretch("2026-03-29T00:00:00Z", "2026-03-29T02:00:00Z");
        assert_eq!(window.covering(utc("2026-03-29T00:00:00Z")), Ok(expected));
        assert_eq!(window.covering(utc("2026-03-29T01:59:59Z")), Ok(expected));
        assert_eq!(window.covering(utc("2026-03-29T02:00:00Z")), Ok(None));
        assert_eq!(window.covering(utc("2026-03-28T23:59:59Z")), Ok(None));
    }

    #[test]
    fn a_weekly_window_over_the_fall_back_night_in_berlin_is_an_hour_longer() {
        // 2026-10-25, the last Sunday of October: 03:00 CEST becomes 02:00 CET (01:00 UTC).
        let window = weekly(&[Day::Sun], "01:00", "04:00", "Europe/Berlin");
        let expected = stretch("2026-10-24T23:00:00Z", "2026-10-25T03:00:00Z");
        assert_eq!(window.covering(utc("2026-10-25T02:30:00Z")), Ok(expected));
        assert_eq!(window.covering(utc("2026-10-25T03:00:00Z")), Ok(None));
    }

    #[test]
    fn a_start_in_the_spring_gap_moves_forward_and_one_in_the_autumn_fold_takes_summer_time() {
        let gap = weekly(&[Day::Sun], "02:30", "05:00", "Europe/Berlin");
        assert_eq!(
            gap.next_after(utc("2026-03-28T12:00:00Z")),
            Ok(stretch("2026-03-29T01:30:00Z", "2026-03-29T03:00:00Z"))
        );
        let fold = weekly(&[Day::Sun], "02:30", "03:00", "Europe/Berlin");
        assert_eq!(
            fold.covering(utc("2026-10-25T01:45:00Z")),
            Ok(stretch("2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z"))
        );
    }

    #[test]
    fn a_window_crossing_midnight_covers_the_next_morning_and_recurs_a_week_later() {
        let window = weekly(&[Day::Fri], "22:00", "06:00", "Europe/Berlin");
        // Friday 2026-12-04 22:00 CET to Saturday 06:00 CET; Saturday is not one of its days.
        let friday_night = stretch("2026-12-04T21:00:00Z", "2026-12-05T05:00:00Z");
        assert_eq!(
            window.covering(utc("2026-12-05T04:00:00Z")),
            Ok(friday_night)
        );
        assert_eq!(window.covering(utc("2026-12-05T05:00:00Z")), Ok(None));
        assert_eq!(window.covering(utc("2026-12-04T20:59:00Z")), Ok(None));
        assert_eq!(
            window.next_after(utc("2026-12-05T05:00:00Z")),
            Ok(stretch("2026-12-11T21:00:00Z", "2026-12-12T05:00:00Z"))
        );
    }

    #[test]
    fn an_end_at_2400_is_the_end_of_that_day() {
        let window = weekly(&[Day::Mon, Day::Tue], "00:00", "24:00", "UTC");
        // 2026-12-07 is a Monday.
        assert_eq!(
            window.covering(utc("2026-12-07T23:59:00Z")),
            Ok(stretch("2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z"))
        );
        assert_eq!(
            window.covering(utc("2026-12-08T00:00:00Z")),
            Ok(stretch("2026-12-08T00:00:00Z", "2026-12-09T00:00:00Z"))
        );
        assert_eq!(window.covering(utc("2026-12-09T00:00:00Z")), Ok(None));
    }

    #[test]
    fn a_one_off_window_includes_its_start_and_excludes_its_end() {
        let window = Schedule::Once {
            starts_at: utc("2026-12-24T12:00:00Z"),
            ends_at: utc("2026-12-27T08:00:00Z"),
        };
        let whole = stretch("2026-12-24T12:00:00Z", "2026-12-27T08:00:00Z");
        assert_eq!(window.covering(utc("2026-12-24T12:00:00Z")), Ok(whole));
        assert_eq!(window.covering(utc("2026-12-27T08:00:00Z")), Ok(None));
        assert_eq!(window.next_after(utc("2026-12-01T00:00:00Z")), Ok(whole));
        assert_eq!(window.next_after(utc("2026-12-24T12:00:00Z")), Ok(None));
    }

    #[test]
    fn only_known_time_zones_pass() {
        assert_eq!(check_time_zone("Europe/Berlin"), Ok(()));
        let refused = check_time_zone("Mars/Olympus_Mons").expect_err("unknown zone");
        assert_eq!(refused.field, "schedule.time_zone");
        assert!(refused.message.contains("IANA"), "{}", refused.message);
        let stored = weekly(&[Day::Mon], "01:00", "02:00", "Mars/Olympus_Mons");
        assert!(stored.covering(utc("2026-12-07T01:30:00Z")).is_err());
    }
}
