//! What a delivery says: Greenlight's JSON document of an event (stored with the delivery when
//! it is enqueued), and the chat formats rendered from it when it is sent.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use shared::webhooks::{WebhookEvent, WebhookFormat, PING_EVENT};

/// An audit event that is a webhook event, with what the notifier looked up about it.
#[derive(Debug, Clone)]
pub struct Occurrence<'a> {
    pub event: WebhookEvent,
    pub audit_event_id: i64,
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub workspace: Option<&'a str>,
    pub endpoint: Option<&'a str>,
    pub details: &'a Value,
}

/// Keys never copied out of an audit event's details, whatever wrote them.
const SECRET_KEYS: [&str; 5] = ["secret", "password", "token", "key", "keys"];

/// The event's details without secret-looking keys (the audit log never holds secrets; this is
/// a second line) and without a gate's full report, which is the console's to show.
fn public_details(details: &Value) -> Value {
    let Some(object) = details.as_object() else {
        return details.clone();
    };
    let kept: Map<String, Value> = object
        .iter()
        .filter(|(key, _)| {
            let key = key.to_ascii_lowercase();
            key != "report" && !SECRET_KEYS.iter().any(|s| key.contains(s))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

fn id_in(details: &Value, key: &str) -> Option<String> {
    details.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The console page about the event: its rollout's page, else its endpoint's (where change
/// requests are listed and decided). `base` is `--public-url`; without it the link is a path.
pub fn deep_link(base: Option<&str>, details: &Value, endpoint: Option<&str>) -> Option<String> {
    let path = match (id_in(details, "rollout_id"), endpoint) {
        (Some(rollout), _) => format!("/rollouts/{rollout}"),
        (None, Some(endpoint)) => format!("/endpoints/{endpoint}"),
        (None, None) => return None,
    };
    Some(match base {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => path,
    })
}

/// Greenlight's JSON document of `occurrence`.
pub fn document(occurrence: &Occurrence<'_>, link_base: Option<&str>) -> Value {
    let details = occurrence.details;
    json!({
        "event": occurrence.event.as_str(),
        "summary": occurrence.event.label(),
        "occurred_at": occurrence.at,
        "actor": occurrence.actor,
        "workspace": occurrence.workspace,
        "endpoint": occurrence.endpoint,
        "rollout_id": id_in(details, "rollout_id"),
        "change_request_id": id_in(details, "change_request_id"),
        "audit_event_id": occurrence.audit_event_id,
        "details": public_details(details),
        "link": deep_link(link_base, details, occurrence.endpoint),
    })
}

/// The document of a test delivery.
pub fn ping(webhook_id: uuid::Uuid, actor: &str) -> Value {
    json!({
        "event": PING_EVENT,
        "summary": "Test delivery from Greenlight",
        "occurred_at": Utc::now(),
        "actor": actor,
        "webhook_id": webhook_id,
    })
}

/// One line a person reads: what happened, where, and who did it.
fn sentence(document: &Value) -> String {
    let text = |key: &str| document.get(key).and_then(Value::as_str);
    let mut line = text("summary").unwrap_or("Greenlight event").to_owned();
    if let Some(endpoint) = text("endpoint") {
        line.push_str(&format!(" on endpoint {endpoint}"));
    }
    if let Some(step) = document.pointer("/details/step").and_then(Value::as_u64) {
        line.push_str(&format!(", step {}", step + 1));
        if let Some(kind) = document.pointer("/details/kind").and_then(Value::as_str) {
            line.push_str(&format!(" ({kind})"));
        }
    }
    if let Some(state) = document.pointer("/details/state").and_then(Value::as_str) {
        line.push_str(&format!(": {state}"));
    }
    if let Some(actor) = text("actor") {
        line.push_str(&format!(" by {actor}"));
    }
    line
}

/// The body sent for `document` in `format`.
pub fn render(format: WebhookFormat, document: &Value) -> Value {
    let link = document.get("link").and_then(Value::as_str);
    // A chat client can only open an absolute link.
    let absolute = link.filter(|l| l.starts_with("http://") || l.starts_with("https://"));
    let line = sentence(document);
    match format {
        WebhookFormat::Json => document.clone(),
        WebhookFormat::Slack => json!({
            "text": match absolute {
                Some(link) => format!("{line} — <{link}|Open in Greenlight>"),
                None => line,
            }
        }),
        WebhookFormat::Teams => json!({
            "text": match absolute {
                Some(link) => format!("{line} — [Open in Greenlight]({link})"),
                None => line,
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approved(details: &Value) -> Occurrence<'_> {
        Occurrence {
            event: WebhookEvent::ChangeRequestApproved,
            audit_event_id: 7,
            at: DateTime::<Utc>::UNIX_EPOCH,
            actor: "abby",
            workspace: Some("local"),
            endpoint: Some("shop"),
            details,
        }
    }

    #[test]
    fn the_link_goes_to_the_rollout_else_the_endpoint() {
        let rollout = json!({ "rollout_id": "r1" });
        assert_eq!(
            deep_link(Some("https://gl.example/"), &rollout, Some("shop")).as_deref(),
            Some("https://gl.example/rollouts/r1")
        );
        assert_eq!(
            deep_link(None, &json!({}), Some("shop")).as_deref(),
            Some("/endpoints/shop")
        );
        assert_eq!(deep_link(None, &json!({}), None), None);
    }

    #[test]
    fn secret_looking_keys_and_reports_are_left_out() {
        let details =
            json!({ "change_request_id": "c1", "api_token": "x", "report": {}, "reason": "r" });
        let doc = document(&approved(&details), None);
        assert_eq!(
            doc["details"],
            json!({ "change_request_id": "c1", "reason": "r" })
        );
        assert_eq!(doc["change_request_id"], "c1");
        assert_eq!(doc["event"], "change_request.approved");
    }

    #[test]
    fn chat_formats_carry_an_absolute_link_only() {
        let details = json!({ "change_request_id": "c1" });
        let with = document(&approved(&details), Some("https://gl.example"));
        let slack = render(WebhookFormat::Slack, &with);
        assert_eq!(
            slack["text"],
            "Change request approved on endpoint shop by abby — <https://gl.example/endpoints/shop|Open in Greenlight>"
        );
        let teams = render(WebhookFormat::Teams, &with);
        assert!(teams["text"].as_str().is_some_and(
            |t| t.ends_with("[Open in Greenlight](https://gl.example/endpoints/shop)")
        ));
        let without = document(&approved(&details), None);
        assert_eq!(
            render(WebhookFormat::Slack, &without)["text"],
            "Change request approved on endpoint shop by abby"
        );
        assert_eq!(render(WebhookFormat::Json, &with), with);
    }
}
