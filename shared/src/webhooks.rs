//! Outgoing webhooks: the events an admin may subscribe to, how an audited action maps to one,
//! the body formats, and the rules a webhook's settings follow. The server, the API and the
//! console all use these, so the list of events and the rules are written once.

use crate::audit::AuditAction;
use crate::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a webhook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WebhookEvent {
    #[serde(rename = "change_request.created")]
    ChangeRequestCreated,
    #[serde(rename = "change_request.approved")]
    ChangeRequestApproved,
    #[serde(rename = "change_request.rejected")]
    ChangeRequestRejected,
    /// The live split moved since the request was made: it was not applied.
    #[serde(rename = "change_request.stale")]
    ChangeRequestStale,
    #[serde(rename = "change_request.expired")]
    ChangeRequestExpired,
    #[serde(rename = "rollout.step_started")]
    RolloutStepStarted,
    #[serde(rename = "rollout.step_ended")]
    RolloutStepEnded,
    /// A gate judged green worse than blue: the rollout rolls back.
    #[serde(rename = "rollout.gate_failed")]
    RolloutGateFailed,
    #[serde(rename = "rollout.rollback")]
    RolloutRollback,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 9] = [
        Self::ChangeRequestCreated,
        Self::ChangeRequestApproved,
        Self::ChangeRequestRejected,
        Self::ChangeRequestStale,
        Self::ChangeRequestExpired,
        Self::RolloutStepStarted,
        Self::RolloutStepEnded,
        Self::RolloutGateFailed,
        Self::RolloutRollback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChangeRequestCreated => "change_request.created",
            Self::ChangeRequestApproved => "change_request.approved",
            Self::ChangeRequestRejected => "change_request.rejected",
            Self::ChangeRequestStale => "change_request.stale",
            Self::ChangeRequestExpired => "change_request.expired",
            Self::RolloutStepStarted => "rollout.step_started",
            Self::RolloutStepEnded => "rollout.step_ended",
            Self::RolloutGateFailed => "rollout.gate_failed",
            Self::RolloutRollback => "rollout.rollback",
        }
    }

    /// The event named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == name)
    }

    /// How the console and chat messages say it.
    pub fn label(self) -> &'static str {
        match self {
            Self::ChangeRequestCreated => "Change request created",
            Self::ChangeRequestApproved => "Change request approved",
            Self::ChangeRequestRejected => "Change request rejected",
            Self::ChangeRequestStale => "Change request stale (not applied)",
            Self::ChangeRequestExpired => "Change request expired",
            Self::RolloutStepStarted => "Rollout step started",
            Self::RolloutStepEnded => "Rollout step ended",
            Self::RolloutGateFailed => "Rollout gate failed",
            Self::RolloutRollback => "Rollout rolled back",
        }
    }

    /// The webhook event an audited action is, if any: the one place that decides which
    /// entries of the audit log reach webhooks. A gate's entry is an event only when the gate
    /// failed (`details.decision == "failed"`).
    pub fn of_audit(action: AuditAction, details: &Value) -> Option<Self> {
        use AuditAction as A;
        Some(match action {
            A::ChangeRequestCreate => Self::ChangeRequestCreated,
            A::ChangeRequestApprove => Self::ChangeRequestApproved,
            A::ChangeRequestReject => Self::ChangeRequestRejected,
            A::ChangeRequestStale => Self::ChangeRequestStale,
            A::ChangeRequestExpire => Self::ChangeRequestExpired,
            A::RolloutStepStart => Self::RolloutStepStarted,
            A::RolloutStepEnd => Self::RolloutStepEnded,
            A::RolloutGate if details.get("decision").and_then(Value::as_str) == Some("failed") => {
                Self::RolloutGateFailed
            }
            A::RolloutRollback => Self::RolloutRollback,
            _ => return None,
        })
    }
}

/// The name a test delivery (`POST /api/v1/webhooks/{id}/test`) carries; never subscribed to.
pub const PING_EVENT: &str = "ping";

/// How a delivery's body is shaped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// Greenlight's own JSON document (see docs/API.md).
    #[default]
    Json,
    /// `{"text": ...}` with a `<url|label>` link, as Slack incoming webhooks take it.
    Slack,
    /// `{"text": ...}` with a Markdown link, as Microsoft Teams incoming webhooks take it.
    Teams,
}

impl WebhookFormat {
    pub const ALL: [WebhookFormat; 3] = [Self::Json, Self::Slack, Self::Teams];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Slack => "slack",
            Self::Teams => "teams",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|format| format.as_str() == name)
    }
}

/// The longest URL a webhook may have.
pub const MAX_URL_LEN: usize = 2048;
/// A secret's length bounds: long enough not to be guessed, short enough for a header tool.
pub const MIN_SECRET_LEN: usize = 16;
pub const MAX_SECRET_LEN: usize = 256;

/// An absolute `http` or `https` URL with a host, no credentials and no fragment.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!(
            "url must be at most {MAX_URL_LEN} characters (got {})",
            url.len()
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("url may not contain spaces or control characters".into());
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("url must be an absolute http:// or https:// URL")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("url may not carry a user name or password; use the secret".into());
    }
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(authority, |(host, _)| host);
    if host.is_empty() {
        return Err("url must name a host".into());
    }
    if url.contains('#') {
        return Err("url may not have a #fragment".into());
    }
    Ok(())
}

/// `scheme://host[:port]` of a checked URL: what logs and the audit log show of it (a chat
/// service's webhook URL carries its own secret in the path).
pub fn url_origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// The signing secret: printable ASCII, [`MIN_SECRET_LEN`]–[`MAX_SECRET_LEN`] characters. The
/// message never quotes it.
pub fn check_secret(secret: &str) -> Result<(), String> {
    let len = secret.chars().count();
    if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&len) {
        return Err(format!(
            "secret must be {MIN_SECRET_LEN} to {MAX_SECRET_LEN} characters (got {len})"
        ));
    }
    if !secret.chars().all(|c| c.is_ascii_graphic()) {
        return Err("secret may contain only printable ASCII characters without spaces".into());
    }
    Ok(())
}

/// The events of a request, each checked: an unknown name is reported as `events[i]`, and at
/// least one is needed.
pub fn parse_events(names: &[String]) -> Result<Vec<WebhookEvent>, Vec<FieldError>> {
    let mut problems = Vec::new();
    let mut events = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match WebhookEvent::parse(name) {
            Some(event) if !events.contains(&event) => events.push(event),
            Some(_) => {}
            None => problems.push(FieldError {
                field: format!("events[{i}]"),
                message: format!(
                    "unknown event {name:?}; events are {}",
                    WebhookEvent::ALL.map(WebhookEvent::as_str).join(", ")
                ),
            }),
        }
    }
    if names.is_empty() {
        problems.push(FieldError {
            field: "events".into(),
            message: "events must name at least one event".into(),
        });
    }
    if problems.is_empty() {
        Ok(events)
    } else {
        Err(problems)
    }
}

/// A format's name, checked, or a problem naming `format` and the choices.
pub fn parse_format(name: &str) -> Result<WebhookFormat, FieldError> {
    WebhookFormat::parse(name).ok_or_else(|| FieldError {
        field: "format".into(),
        message: format!("format must be one of json, slack, teams (got {name:?})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_round_trip_through_serde() {
        for event in WebhookEvent::ALL {
            let text = serde_json::to_string(&event).expect("serialize");
            assert_eq!(text, format!("\"{}\"", event.as_str()));
            assert_eq!(WebhookEvent::parse(event.as_str()), Some(event));
        }
        for format in WebhookFormat::ALL {
            assert_eq!(WebhookFormat::parse(format.as_str()), Some(format));
        }
    }

    #[test]
    fn each_subscribed_action_maps_to_its_event() {
        let none = json!({});
        let cases = [
            (
                AuditAction::ChangeRequestCreate,
                WebhookEvent::ChangeRequestCreated,
            ),
            (
                AuditAction::ChangeRequestApprove,
                WebhookEvent::ChangeRequestApproved,
            ),
            (
                AuditAction::ChangeRequestReject,
                WebhookEvent::ChangeRequestRejected,
            ),
            (
                AuditAction::ChangeRequestStale,
                WebhookEvent::ChangeRequestStale,
            ),
            (
                AuditAction::ChangeRequestExpire,
                WebhookEvent::ChangeRequestExpired,
            ),
            (
                AuditAction::RolloutStepStart,
                WebhookEvent::RolloutStepStarted,
            ),
            (AuditAction::RolloutStepEnd, WebhookEvent::RolloutStepEnded),
            (AuditAction::RolloutRollback, WebhookEvent::RolloutRollback),
        ];
        for (action, event) in cases {
            assert_eq!(
                WebhookEvent::of_audit(action, &none),
                Some(event),
                "{action:?}"
            );
        }
    }

    #[test]
    fn only_a_failed_gate_is_an_event() {
        let gate = |decision: &str| json!({ "decision": decision });
        assert_eq!(
            WebhookEvent::of_audit(AuditAction::RolloutGate, &gate("failed")),
            Some(WebhookEvent::RolloutGateFailed)
        );
        for decision in ["passed", "asked_approver", "overridden", "refused"] {
            assert_eq!(
                WebhookEvent::of_audit(AuditAction::RolloutGate, &gate(decision)),
                None
            );
        }
    }

    #[test]
    fn other_actions_are_not_events() {
        let mapped = AuditAction::ALL
            .into_iter()
            .filter(|a| WebhookEvent::of_audit(*a, &json!({ "decision": "failed" })).is_some())
            .count();
        assert_eq!(mapped, WebhookEvent::ALL.len());
        assert_eq!(
            WebhookEvent::of_audit(AuditAction::SignIn, &json!({})),
            None
        );
    }

    #[test]
    fn urls_must_be_absolute_http_with_a_host_and_no_credentials() {
        assert!(check_url("https://hooks.example.com/x?y=1").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        for bad in [
            "ftp://example.com",
            "/relative",
            "https://",
            "https://:80/x",
            "https://user:pw@example.com/",
            "https://example.com/a b",
            "https://example.com/#frag",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_origin_leaves_out_path_and_query() {
        assert_eq!(
            url_origin("https://hooks.slack.com/services/T0/B0/XYZ"),
            "https://hooks.slack.com"
        );
        assert_eq!(url_origin("http://127.0.0.1:9/h?x"), "http://127.0.0.1:9");
        assert_eq!(url_origin("http://h"), "http://h");
    }

    #[test]
    fn unknown_events_are_named_by_index() {
        let names = vec!["change_request.created".to_owned(), "nope".to_owned()];
        let problems = parse_events(&names).expect_err("nope is unknown");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "events[1]");
        assert!(parse_events(&[]).is_err());
    }

    #[test]
    fn secrets_have_bounds_and_are_never_quoted() {
        let short = "short";
        let message = check_secret(short).expect_err("too short");
        assert!(!message.contains(short));
        assert!(check_secret("a-secret-of-enough-length").is_ok());
        assert!(check_secret("with a space in the middle!").is_err());
    }
}
