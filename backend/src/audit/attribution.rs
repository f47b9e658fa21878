//! Who the audit log names when a request acts with an API token.
//!
//! A token acts as its creator (the two-person rule counts it as that person), but the audit
//! log must tell the token's actions from its creator's own. The session middleware runs a
//! token's request inside [`acting_with`]; while it runs, every event recorded for the token's
//! creator names the token instead (`alice/token:ci-deployer`) and carries `token_id` in its
//! details, and so does every operation the request starts. This holds for every route,
//! including routes added later, without each handler having to remember it.

use serde_json::Value;
use std::future::Future;
use uuid::Uuid;

tokio::task_local! {
    static TOKEN: TokenActor;
}

/// The API token a request authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenActor {
    pub id: Uuid,
    pub name: String,
    /// The user name of its creator, whom it acts as.
    pub creator: String,
}

impl TokenActor {
    /// How the audit log names it: `alice/token:ci-deployer`.
    pub fn actor(&self) -> String {
        token_actor(&self.creator, &self.name)
    }
}

/// How the audit log names token `name` of `creator`.
pub fn token_actor(creator: &str, name: &str) -> String {
    format!("{creator}/token:{name}")
}

/// Runs `work` (a request) as done with `token`.
pub async fn acting_with<F: Future>(token: TokenActor, work: F) -> F::Output {
    TOKEN.scope(token, work).await
}

/// The token the current request acts with, if any.
pub fn current() -> Option<TokenActor> {
    TOKEN.try_with(Clone::clone).ok()
}

/// `actor` as the audit log records it: the token's name when the current request acts with
/// a token of `actor`'s.
pub fn actor(actor: &str) -> String {
    match current() {
        Some(token) if token.creator == actor => token.actor(),
        _ => actor.to_owned(),
    }
}

/// `actor` and `details` as recorded (see [`actor`]); a token's events carry its id.
pub fn attribute(actor: &str, details: &Value) -> Option<(String, Value)> {
    let token = current().filter(|token| token.creator == actor)?;
    let mut details = details.clone();
    if let Value::Object(map) = &mut details {
        map.insert("token_id".into(), Value::String(token.id.to_string()));
    }
    Some((token.actor(), details))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci() -> TokenActor {
        TokenActor {
            id: Uuid::nil(),
            name: "ci-deployer".into(),
            creator: "alice".into(),
        }
    }

    #[tokio::test]
    async fn a_tokens_request_names_the_token_for_its_creators_events_only() {
        assert_eq!(actor("alice"), "alice");
        acting_with(ci(), async {
            assert_eq!(actor("alice"), "alice/token:ci-deployer");
            assert_eq!(actor("system"), "system");
            let (who, details) =
                attribute("alice", &serde_json::json!({ "x": 1 })).expect("attributed");
            assert_eq!(who, "alice/token:ci-deployer");
            assert_eq!(details["token_id"], Uuid::nil().to_string());
            assert!(attribute("bob", &serde_json::json!({})).is_none());
        })
        .await;
        assert!(current().is_none());
    }
}
