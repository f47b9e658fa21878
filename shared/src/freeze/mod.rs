//! Freeze windows: times, set by an admin, during which no change request is applied to an
//! endpoint (going back to a rollout's known-good split still is). A window is one-off (two
//! instants) or weekly (days, a local start and end that may cross midnight, and an IANA time
//! zone), scoped to a workspace and optionally one endpoint.
//!
//! This module holds the shapes and their validation, which the console can run too; whether an
//! instant falls inside a window needs the time-zone database and sits behind the `tz` feature
//! ([`zone`]), so the wasm bundle carries no zone data.

#[cfg(feature = "tz")]
pub mod zone;

use crate::error::FieldError;
use crate::names::EndpointName;
use crate::rollout::{check_reason, WorkspaceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A day of the week, as a weekly window names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub const ALL: [Day; 7] = [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Day::Mon => "mon",
            Day::Tue => "tue",
            Day::Wed => "wed",
            Day::Thu => "thu",
            Day::Fri => "fri",
            Day::Sat => "sat",
            Day::Sun => "sun",
        }
    }

    pub fn parse(text: &str) -> Option<Day> {
        Self::ALL.into_iter().find(|d| d.as_str() == text)
    }

    /// chrono's weekday as a `Day`.
    pub fn of(weekday: chrono::Weekday) -> Day {
        Self::ALL[weekday.num_days_from_monday() as usize]
    }
}

/// A local wall-clock time `HH:MM`, from `00:00` to `24:00` (the end of a day, for an end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime {
    minutes: u16,
}

/// Minutes in a day.
const DAY_MINUTES: u16 = 24 * 60;

impl ClockTime {
    /// Parses `HH:MM` (two digits each, 00–23 and 00–59, or `24:00`).
    pub fn parse(text: &str) -> Option<ClockTime> {
        let (h, m) = text.split_once(':')?;
        if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        let minutes = h * 60 + m;
        (m < 60 && minutes <= DAY_MINUTES).then_some(ClockTime { minutes })
    }

    /// Minutes since midnight (1440 for `24:00`).
    pub fn minutes(self) -> u16 {
        self.minutes
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

impl TryFrom<String> for ClockTime {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        ClockTime::parse(&text).ok_or_else(|| format!("{text:?} is not a time HH:MM"))
    }
}

impl From<ClockTime> for String {
    fn from(time: ClockTime) -> String {
        time.to_string()
    }
}

/// When a window freezes, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// From `starts_at` (inclusive) to `ends_at` (exclusive).
    Once {
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    },
    /// Every named day from `start` to `end` local time in `time_zone`; an `end` at or before
    /// `start` ends on the next day.
    Weekly {
        days: Vec<Day>,
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "22:00"))]
        start: ClockTime,
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "06:00"))]
        end: ClockTime,
        time_zone: String,
    },
}

/// A schedule as the API receives it: text, so each rule can name its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleInput {
    /// Two RFC 3339 instants.
    Once { starts_at: String, ends_at: String },
    /// Days (`mon` … `sun`), `HH:MM` local times, and an IANA time zone (`Europe/Berlin`).
    Weekly {
        days: Vec<String>,
        start: String,
        end: String,
        time_zone: String,
    },
}

/// `POST /api/v1/freeze-windows`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewFreezeWindow {
    /// The workspace it freezes (required: one console manages several).
    pub workspace: String,
    /// Only this endpoint; every endpoint of the workspace when absent.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Why; shown to everyone the window stops.
    pub reason: String,
    pub schedule: ScheduleInput,
}

/// A [`NewFreezeWindow`] that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedFreezeWindow {
    pub workspace: WorkspaceId,
    pub endpoint: Option<EndpointName>,
    pub reason: String,
    pub schedule: Schedule,
}

fn problem(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

impl NewFreezeWindow {
    /// Every rule but the time zone's being known (that needs the zone database: the server
    /// checks it with [`zone::check_time_zone`]). `now` refuses a one-off window already over.
    pub fn check(&self, now: DateTime<Utc>) -> Result<CheckedFreezeWindow, Vec<FieldError>> {
        let mut problems = Vec::new();
        let workspace = WorkspaceId::parse(&self.workspace)
            .map_err(|e| problems.push(problem("workspace", e.to_string())))
            .ok();
        let endpoint = match self.endpoint.as_deref() {
            None => None,
            Some(name) => name
                .parse::<EndpointName>()
                .map_err(|e| problems.push(problem("endpoint", format!("endpoint {e}"))))
                .ok(),
        };
        if let Err(e) = check_reason("reason", Some(&self.reason), true) {
            problems.push(e);
        }
        let schedule = self.schedule.check(now, &mut problems);
        match (workspace, schedule) {
            (Some(workspace), Some(schedule)) if problems.is_empty() => Ok(CheckedFreezeWindow {
                workspace,
                endpoint,
                reason: self.reason.trim().to_owned(),
                schedule,
            }),
            _ => Err(problems),
        }
    }
}

impl ScheduleInput {
    fn check(&self, now: DateTime<Utc>, problems: &mut Vec<FieldError>) -> Option<Schedule> {
        match self {
            ScheduleInput::Once { starts_at, ends_at } => {
                let instant = |field: &str, text: &str| {
                    DateTime::parse_from_rfc3339(text)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| {
                            problem(
                                field,
                                format!("{field} must be an RFC 3339 date and time, e.g. 2026-12-24T18:00:00Z (got {text:?})"),
                            )
                        })
                };
                let starts = instant("schedule.starts_at", starts_at).map_err(|e| problems.push(e));
                let ends = instant("schedule.ends_at", ends_at).map_err(|e| problems.push(e));
                let (Ok(starts_at), Ok(ends_at)) = (starts, ends) else {
                    return None;
                };
                if ends_at <= starts_at {
                    problems.push(problem(
                        "schedule.ends_at",
                        "schedule.ends_at must be after schedule.starts_at",
                    ));
                    return None;
                }
                if ends_at <= now {
                    problems.push(problem(
                        "schedule.ends_at",
                        "schedule.ends_at must be in the future",
                    ));
                    return None;
                }
                Some(Schedule::Once { starts_at, ends_at })
            }
            ScheduleInput::Weekly {
                days,
                start,
                end,
                time_zone,
            } => {
                let before = problems.len();
                if days.is_empty() {
                    problems.push(problem(
                        "schedule.days",
                        "schedule.days must name at least one day (mon … sun)",
                    ));
                }
                let mut parsed = Vec::new();
                for (i, day) in days.iter().enumerate() {
                    match Day::parse(day) {
                        Some(d) if parsed.contains(&d) => problems.push(problem(
                            &format!("schedule.days[{i}]"),
                            format!("schedule.days names {day} twice"),
                        )),
                        Some(d) => parsed.push(d),
                        None => problems.push(problem(
                            &format!("schedule.days[{i}]"),
                            format!("schedule.days[{i}] must be one of mon, tue, wed, thu, fri, sat, sun (got {day:?})"),
                        )),
                    }
                }
                parsed.sort();
                let clock = |field: &str, text: &str, problems: &mut Vec<FieldError>| {
                    let parsed = ClockTime::parse(text)
                        .filter(|t| field == "schedule.end" || t.minutes() < DAY_MINUTES);
                    if parsed.is_none() {
                        problems.push(problem(
                            field,
                            format!(
                                "{field} must be a time HH:MM from 00:00 to 23:59{} (got {text:?})",
                                if field == "schedule.end" {
                                    ", or 24:00"
                                } else {
                                    ""
                                }
                            ),
                        ));
                    }
                    parsed
                };
                let start = clock("schedule.start", start, problems);
                let end = clock("schedule.end", end, problems);
                if let (Some(s), Some(e)) = (start, end) {
                    if s == e {
                        problems.push(problem(
                            "schedule.end",
                            "schedule.end must differ from schedule.start (for a whole day, use 00:00 to 24:00)",
                        ));
                    }
                }
                if time_zone.trim().is_empty() {
                    problems.push(problem(
                        "schedule.time_zone",
                        "schedule.time_zone must be an IANA time zone name, e.g. Europe/Berlin",
                    ));
                }
                if problems.len() > before {
                    return None;
                }
                Some(Schedule::Weekly {
                    days: parsed,
                    start: start?,
                    end: end?,
                    time_zone: time_zone.clone(),
                })
            }
        }
    }
}

/// One stretch of time a window freezes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Occurrence {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-05T09:00:00Z")
            .expect("now")
            .with_timezone(&Utc)
    }

    fn weekly(days: &[&str], start: &str, end: &str, time_zone: &str) -> NewFreezeWindow {
        NewFreezeWindow {
            workspace: "local".into(),
            endpoint: Some("scoring".into()),
            reason: "year-end freeze".into(),
            schedule: ScheduleInput::Weekly {
                days: days.iter().map(|d| (*d).to_owned()).collect(),
                start: start.into(),
                end: end.into(),
                time_zone: time_zone.into(),
            },
        }
    }

    fn fields(window: &NewFreezeWindow) -> Vec<(String, String)> {
        window
            .check(now())
            .expect_err("refused")
            .into_iter()
            .map(|p| (p.field, p.message))
            .collect()
    }

    #[test]
    fn a_weekly_window_crossing_midnight_passes_with_its_days_in_order() {
        let checked = weekly(&["sun", "fri"], "22:00", "06:00", "Europe/Berlin")
            .check(now())
            .expect("valid");
        assert_eq!(
            checked.schedule,
            Schedule::Weekly {
                days: vec![Day::Fri, Day::Sun],
                start: ClockTime::parse("22:00").expect("time"),
                end: ClockTime::parse("06:00").expect("time"),
                time_zone: "Europe/Berlin".into(),
            }
        );
        assert_eq!(checked.workspace.as_str(), "local");
    }

    #[test]
    fn each_broken_weekly_rule_names_its_field() {
        let refused = fields(&weekly(&[], "25:00", "6:00", " "));
        let named: Vec<&str> = refused.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            named,
            [
                "schedule.days",
                "schedule.start",
                "schedule.end",
                "schedule.time_zone"
            ]
        );
        assert!(refused[1].1.contains("HH:MM"), "{refused:?}");
        let refused = fields(&weekly(&["mon", "funday", "mon"], "10:00", "10:00", "UTC"));
        assert_eq!(refused[0].0, "schedule.days[1]");
        assert_eq!(refused[1].0, "schedule.days[2]");
        assert_eq!(refused[2].0, "schedule.end");
        assert!(refused[2].1.contains("differ"), "{refused:?}");
        assert_eq!(
            fields(&weekly(&["mon"], "24:00", "10:00", "UTC"))[0].0,
            "schedule.start"
        );
        assert!(weekly(&["mon"], "00:00", "24:00", "UTC")
            .check(now())
            .is_ok());
    }

    #[test]
    fn a_one_off_window_ends_after_it_starts_and_in_the_future() {
        let once = |starts_at: &str, ends_at: &str| NewFreezeWindow {
            schedule: ScheduleInput::Once {
                starts_at: starts_at.into(),
                ends_at: ends_at.into(),
            },
            ..weekly(&["mon"], "01:00", "02:00", "UTC")
        };
        let refused = fields(&once("2026-12-24T18:00:00+01:00", "2026-12-24T17:00:00Z"));
        assert_eq!(refused[0].0, "schedule.ends_at");
        assert!(refused[0].1.contains("after"), "{refused:?}");
        let refused = fields(&once("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"));
        assert!(refused[0].1.contains("future"), "{refused:?}");
        let refused = fields(&once("tomorrow", "2026-12-02"));
        assert_eq!(refused[0].0, "schedule.starts_at");
        assert_eq!(refused[1].0, "schedule.ends_at");
        assert!(refused[0].1.contains("RFC 3339"), "{refused:?}");
        let ok = once("2026-12-24T18:00:00+01:00", "2026-12-27T08:00:00Z")
            .check(now())
            .expect("valid");
        assert!(
            matches!(ok.schedule, Schedule::Once { starts_at, .. } if starts_at.to_rfc3339() == "2026-12-24T17:00:00+00:00")
        );
    }

    #[test]
    fn the_scope_and_reason_are_checked() {
        let mut window = weekly(&["mon"], "01:00", "02:00", "UTC");
        window.workspace = "Prod".into();
        window.endpoint = Some("x".into());
        window.reason = "  ".into();
        let named: Vec<String> = fields(&window).into_iter().map(|(f, _)| f).collect();
        assert_eq!(named, ["workspace", "endpoint", "reason"]);
    }
}
