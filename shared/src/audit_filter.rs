//! Which audit events a reader asked for: the rules the API applies to the audit filters and
//! the console checks before it asks, so a bad value is named the same way on both sides.

use crate::api::audit::AuditQuery;
use crate::audit::AuditAction;
use crate::{EndpointName, FieldError};
use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

/// The longest free-text search, in characters: a search is a word or two, not a document.
pub const MAX_SEARCH_CHARS: usize = 200;
/// The longest actor name a filter may hold (user names are shorter; `system` too).
pub const MAX_ACTOR_CHARS: usize = 100;

/// A checked [`AuditQuery`]: each filter that is set narrows the events, all of them together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    pub endpoint: Option<EndpointName>,
    pub rollout: Option<Uuid>,
    pub change_request: Option<Uuid>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
    /// Matched case-insensitively as a substring; never a pattern.
    pub text: Option<String>,
}

impl AuditFilter {
    /// Checks every field, reporting each bad one by its query-string name.
    pub fn parse(query: &AuditQuery) -> Result<Self, Vec<FieldError>> {
        let mut problems = Vec::new();
        let filter = Self {
            actor: check(
                &mut problems,
                "actor",
                given(&query.actor).map(actor).transpose(),
            ),
            action: check(
                &mut problems,
                "action",
                given(&query.action).map(action).transpose(),
            ),
            endpoint: check(
                &mut problems,
                "endpoint",
                given(&query.endpoint).map(endpoint).transpose(),
            ),
            rollout: check(
                &mut problems,
                "rollout",
                given(&query.rollout).map(id).transpose(),
            ),
            change_request: check(
                &mut problems,
                "change_request",
                given(&query.change_request).map(id).transpose(),
            ),
            from: check(
                &mut problems,
                "from",
                given(&query.from).map(time).transpose(),
            ),
            to: check(&mut problems, "to", given(&query.to).map(time).transpose()),
            text: check(&mut problems, "q", given(&query.q).map(search).transpose()),
        };
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            if to <= from {
                problems.push(FieldError {
                    field: "to".into(),
                    message: "to must be later than from".into(),
                });
            }
        }
        if problems.is_empty() {
            Ok(filter)
        } else {
            Err(problems)
        }
    }

    /// The query string form, for links and for the next page's request.
    pub fn to_query(&self) -> AuditQuery {
        AuditQuery {
            actor: self.actor.clone(),
            action: self.action.map(|a| a.as_str().to_owned()),
            endpoint: self.endpoint.as_ref().map(ToString::to_string),
            rollout: self.rollout.map(|id| id.to_string()),
            change_request: self.change_request.map(|id| id.to_string()),
            from: self
                .from
                .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            to: self
                .to
                .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            q: self.text.clone(),
        }
    }
}

/// `result`'s value; its error is recorded as `field`'s problem.
fn check<T>(
    problems: &mut Vec<FieldError>,
    field: &str,
    result: Result<Option<T>, String>,
) -> Option<T> {
    result.unwrap_or_else(|message| {
        problems.push(FieldError {
            field: field.to_owned(),
            message,
        });
        None
    })
}

/// A value that was given and is not blank.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn actor(raw: &str) -> Result<String, String> {
    if raw.chars().count() > MAX_ACTOR_CHARS || raw.chars().any(char::is_control) {
        return Err(format!(
            "actor must be a user name (at most {MAX_ACTOR_CHARS} characters)"
        ));
    }
    Ok(raw.to_owned())
}

fn action(raw: &str) -> Result<AuditAction, String> {
    AuditAction::parse(raw).ok_or_else(|| format!("action `{raw}` is not an audited action"))
}

fn endpoint(raw: &str) -> Result<EndpointName, String> {
    EndpointName::parse(raw).map_err(|err| format!("endpoint: {err}"))
}

fn id(raw: &str) -> Result<Uuid, String> {
    Uuid::parse_str(raw).map_err(|_| format!("`{raw}` is not an id (a UUID)"))
}

fn time(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{raw}` is not a time in RFC 3339 (e.g. 2026-12-05T10:00:00Z)"))
}

fn search(raw: &str) -> Result<String, String> {
    if raw.chars().count() > MAX_SEARCH_CHARS || raw.chars().any(char::is_control) {
        return Err(format!(
            "the search must be at most {MAX_SEARCH_CHARS} characters of text"
        ));
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(query: AuditQuery) -> Vec<String> {
        AuditFilter::parse(&query)
            .expect_err("refused")
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn no_filter_is_every_event_and_blank_fields_are_no_filter() {
        assert_eq!(
            AuditFilter::parse(&AuditQuery::default()),
            Ok(AuditFilter::default())
        );
        let blank = AuditQuery {
            actor: Some(" ".into()),
            q: Some(String::new()),
            ..AuditQuery::default()
        };
        assert_eq!(AuditFilter::parse(&blank), Ok(AuditFilter::default()));
    }

    #[test]
    fn every_bad_field_is_named() {
        let query = AuditQuery {
            action: Some("traffic.teleport".into()),
            endpoint: Some("Not_An_Endpoint!".into()),
            rollout: Some("42".into()),
            change_request: Some("nope".into()),
            from: Some("yesterday".into()),
            q: Some("x".repeat(MAX_SEARCH_CHARS + 1)),
            ..AuditQuery::default()
        };
        assert_eq!(
            fields(query),
            [
                "action",
                "endpoint",
                "rollout",
                "change_request",
                "from",
                "q"
            ]
        );
    }

    #[test]
    fn a_time_range_must_run_forward() {
        let query = AuditQuery {
            from: Some("2026-12-05T10:00:00Z".into()),
            to: Some("2026-12-05T09:00:00+00:00".into()),
            ..AuditQuery::default()
        };
        assert_eq!(fields(query), ["to"]);
    }

    #[test]
    fn a_parsed_filter_reads_back_as_the_same_query() {
        let query = AuditQuery {
            actor: Some("alice".into()),
            action: Some("traffic.change".into()),
            endpoint: Some("fraud-scorer".into()),
            rollout: Some("6d2c1d9e-5d0b-4f5e-9a44-3c1fb0c0a001".into()),
            change_request: None,
            from: Some("2026-12-05T10:00:00Z".into()),
            to: Some("2026-12-05T11:30:00Z".into()),
            q: Some("green".into()),
        };
        let filter = AuditFilter::parse(&query).expect("valid");
        assert_eq!(filter.action, Some(AuditAction::TrafficChange));
        assert_eq!(filter.to_query(), query);
    }
}
