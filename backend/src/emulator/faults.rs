//! The fault switch: Azure's bad days, on demand. Rules set through `PUT /faults` (with the
//! workspace's token) hit matching control-plane calls with throttling (429 and `Retry-After`),
//! server errors (500 / 503), slow answers, dropped connections, or a long-running operation
//! that ends Failed — so a test, or someone trying Greenlight, can watch a rollout ride them out.
//!
//! A rule hits requests by method and path fragment, a given number of `times` or until the
//! rules are cleared. Only the control plane is touched: scoring traffic never is.

use super::arm::error::ArmFailure;
use super::arm::{accepted, ControlState};
use super::locks::lock;
use super::workspace::Accepted;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use shared::arm::ArmError;
use std::sync::Mutex;
use std::time::Duration;

/// Where the switch is set; outside ARM's paths, so no resource can shadow it.
pub const FAULTS_PATH: &str = "/faults";

/// Longest slow answer a rule may ask for: longer would only hold a test until it times out.
const MAX_DELAY_MS: u64 = 120_000;

/// One kind of trouble.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// 429 `TooManyRequests` with `Retry-After: retry_after_seconds`; the call is not served.
    Throttle { retry_after_seconds: u32 },
    /// 500 `InternalServerError` or 503 `ServiceUnavailable`; the call is not served.
    ServerError { status: u16 },
    /// The call is served `delay_ms` late.
    Slow { delay_ms: u64 },
    /// The connection is closed without an answer. With `after_serving`, the call was served
    /// first (the change happened, its answer was lost) — the nastier case for a client.
    Drop {
        #[serde(default)]
        after_serving: bool,
    },
    /// The write is accepted (202) but its long-running operation ends `Failed` with `message`;
    /// nothing is changed.
    FailOperation { message: String },
}

/// A fault and the calls it hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    pub fault: Fault,
    /// Only calls with this HTTP method (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Only calls whose path contains this, e.g. `/deployments/green` (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_contains: Option<String>,
    /// How many calls it hits before it is spent; every matching call when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

impl FaultRule {
    /// What is wrong with this rule, naming the field.
    fn problem(&self, index: usize) -> Option<String> {
        let at = |field: &str| format!("rules[{index}].{field}");
        match &self.fault {
            Fault::ServerError { status } if !matches!(status, 500 | 503) => {
                return Some(format!(
                    "{} must be 500 or 503 (got {status})",
                    at("fault.status")
                ))
            }
            Fault::Slow { delay_ms } if *delay_ms > MAX_DELAY_MS => {
                return Some(format!(
                    "{} must be at most {MAX_DELAY_MS} (got {delay_ms})",
                    at("fault.delay_ms")
                ))
            }
            Fault::FailOperation { message } if message.trim().is_empty() => {
                return Some(format!("{} must not be empty", at("fault.message")))
            }
            _ => {}
        }
        if let Some(method) = &self.method {
            if Method::from_bytes(method.as_bytes()).is_err() {
                return Some(format!("{} is not an HTTP method", at("method")));
            }
        }
        if self.times == Some(0) {
            return Some(format!("{} must be at least 1 when given", at("times")));
        }
        None
    }

    fn hits(&self, method: &Method, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|fragment| path.contains(fragment))
    }
}

/// The rules in force, as `PUT /faults` sets them and `GET /faults` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRules {
    pub rules: Vec<FaultRule>,
}

/// The switch: the rules in force and what each has left.
#[derive(Debug, Default)]
pub struct FaultSwitch {
    rules: Mutex<Vec<FaultRule>>,
}

impl FaultSwitch {
    /// Replaces the rules, or says what is wrong with them (and keeps the old ones).
    pub fn set(&self, rules: FaultRules) -> Result<(), String> {
        if let Some(problem) = rules
            .rules
            .iter()
            .enumerate()
            .find_map(|(i, rule)| rule.problem(i))
        {
            return Err(problem);
        }
        *lock(&self.rules) = rules.rules;
        Ok(())
    }

    /// The rules in force, with what is left of each.
    pub fn rules(&self) -> FaultRules {
        FaultRules {
            rules: lock(&self.rules).clone(),
        }
    }

    /// The fault for this call, if a rule hits it; a rule with `times` left counts it, and is
    /// dropped once spent.
    pub fn take(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        let index = rules.iter().position(|rule| rule.hits(method, path))?;
        let fault = rules[index].fault.clone();
        match &mut rules[index].times {
            Some(1) => {
                rules.remove(index);
            }
            Some(left) => *left -= 1,
            None => {}
        }
        Some(fault)
    }
}

/// `GET /faults`.
pub async fn show(State(state): State<ControlState>) -> Json<FaultRules> {
    Json(state.faults.rules())
}

/// `PUT /faults`: the rules now in force (an empty list clears them).
pub async fn set(
    State(state): State<ControlState>,
    Json(rules): Json<FaultRules>,
) -> Result<Json<FaultRules>, ArmFailure> {
    state
        .faults
        .set(rules)
        .map_err(|problem| ArmFailure::invalid_field("rules", problem))?;
    Ok(Json(state.faults.rules()))
}

/// Middleware over the ARM routes: serves a call as usual unless a rule hits it.
pub async fn inject(State(state): State<ControlState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let Some(fault) = state.faults.take(request.method(), &path) else {
        return next.run(request).await;
    };
    tracing::info!(?fault, method = %request.method(), %path, "injecting a fault");
    match fault {
        Fault::Throttle {
            retry_after_seconds,
        } => {
            let mut response = ArmFailure::throttled().into_response();
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                HeaderValue::from(retry_after_seconds),
            );
            response
        }
        Fault::ServerError { status: 503 } => ArmFailure::unavailable().into_response(),
        Fault::ServerError { .. } => ArmFailure::server_error().into_response(),
        Fault::Slow { delay_ms } => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            next.run(request).await
        }
        Fault::Drop { after_serving } => {
            if after_serving {
                let _served = next.run(request).await;
            }
            cut_off()
        }
        Fault::FailOperation { message } => {
            let id = state.workspace.operations.start();
            state
                .workspace
                .operations
                .finish(&id, Err(ArmError::new("InternalServerError", message)));
            let subscription = path
                .strip_prefix("/subscriptions/")
                .and_then(|rest| rest.split('/').next())
                .unwrap_or_default()
                .to_owned();
            accepted::<()>(
                &state,
                &subscription,
                Accepted {
                    status: StatusCode::ACCEPTED,
                    resource: None,
                    operation: Some(id),
                },
            )
        }
    }
}

/// An answer that never gets out: the connection is closed before a byte of it is written.
fn cut_off() -> Response {
    let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
    response.extensions_mut().insert(super::serve::CutOff);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: serde_json::Value) -> FaultRules {
        serde_json::from_value(json).expect("rules")
    }

    #[test]
    fn a_rule_hits_matching_calls_its_number_of_times_then_is_spent() {
        let switch = FaultSwitch::default();
        switch
            .set(rules(serde_json::json!({ "rules": [
                { "fault": { "kind": "throttle", "retry_after_seconds": 2 }, "method": "put",
                  "path_contains": "/deployments/green", "times": 2 },
                { "fault": { "kind": "slow", "delay_ms": 10 } },
            ]})))
            .expect("valid");
        let green = "/subscriptions/s/x/onlineEndpoints/e/deployments/green";
        let throttle = Fault::Throttle {
            retry_after_seconds: 2,
        };
        let slow = Fault::Slow { delay_ms: 10 };
        assert_eq!(switch.take(&Method::GET, green), Some(slow.clone()));
        assert_eq!(switch.take(&Method::PUT, green), Some(throttle.clone()));
        assert_eq!(switch.rules().rules[0].times, Some(1));
        assert_eq!(switch.take(&Method::PUT, green), Some(throttle));
        assert_eq!(switch.rules().rules.len(), 1, "the throttle rule is spent");
        assert_eq!(switch.take(&Method::PUT, green), Some(slow.clone()));
        assert_eq!(
            switch.take(&Method::PUT, green),
            Some(slow),
            "no times: forever"
        );
    }

    #[test]
    fn no_rule_means_no_fault() {
        let switch = FaultSwitch::default();
        assert_eq!(switch.take(&Method::PUT, "/anything"), None);
        switch
            .set(rules(serde_json::json!({ "rules": [
                { "fault": { "kind": "drop" }, "path_contains": "/listKeys" } ]})))
            .expect("valid");
        assert_eq!(switch.take(&Method::POST, "/e/regenerateKeys"), None);
        assert_eq!(
            switch.take(&Method::POST, "/e/listKeys"),
            Some(Fault::Drop {
                after_serving: false
            })
        );
        switch.set(FaultRules::default()).expect("clearing");
        assert_eq!(switch.take(&Method::POST, "/e/listKeys"), None);
    }

    #[test]
    fn a_bad_rule_is_refused_naming_its_field_and_the_old_rules_stay() {
        let switch = FaultSwitch::default();
        let kept = rules(
            serde_json::json!({ "rules": [ { "fault": { "kind": "slow", "delay_ms": 5 } } ]}),
        );
        switch.set(kept.clone()).expect("valid");
        let cases = [
            (
                serde_json::json!({ "fault": { "kind": "server_error", "status": 502 } }),
                "rules[0].fault.status must be 500 or 503",
            ),
            (
                serde_json::json!({ "fault": { "kind": "slow", "delay_ms": 999_999 } }),
                "rules[0].fault.delay_ms must be at most",
            ),
            (
                serde_json::json!({ "fault": { "kind": "fail_operation", "message": " " } }),
                "rules[0].fault.message must not be empty",
            ),
            (
                serde_json::json!({ "fault": { "kind": "drop" }, "method": "P U T" }),
                "rules[0].method is not an HTTP method",
            ),
            (
                serde_json::json!({ "fault": { "kind": "drop" }, "times": 0 }),
                "rules[0].times must be at least 1",
            ),
        ];
        for (rule, expected) in cases {
            let problem = switch
                .set(rules(serde_json::json!({ "rules": [rule] })))
                .expect_err("refused");
            assert!(problem.starts_with(expected), "{problem}");
        }
        assert_eq!(switch.rules(), kept);
        let unknown = serde_json::from_value::<FaultRules>(
            serde_json::json!({ "rules": [ { "fault": { "kind": "explode" } } ] }),
        );
        assert!(unknown.is_err());
    }
}
