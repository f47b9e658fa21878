//! The authorization matrix, generated from `/api/openapi.json`: every operation, asked by an
//! anonymous caller and by each role, gets the status its minimum role implies. A new route
//! that is missing from the table below fails the test, so nobody can add one without deciding
//! who may call it.

use crate::helpers::{spawn_app, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;
use std::collections::BTreeMap;

/// Who may call what: `None` is public, `Some(role)` the lowest role admitted.
pub(crate) fn minimum_roles() -> BTreeMap<&'static str, Option<Role>> {
    use Role::{Admin, Operator, Viewer};
    BTreeMap::from([
        ("get_health", None),
        ("sign_in", None),
        ("get_sign_in_methods", None),
        ("start_sso", None),
        ("finish_sso", None),
        ("get_about", Some(Viewer)),
        ("get_session", Some(Viewer)),
        ("sign_out", Some(Viewer)),
        ("change_password", Some(Viewer)),
        ("list_users", Some(Admin)),
        ("create_user", Some(Admin)),
        ("update_user", Some(Admin)),
        ("reset_user_password", Some(Admin)),
        ("list_webhooks", Some(Admin)),
        ("create_webhook", Some(Admin)),
        ("update_webhook", Some(Admin)),
        ("delete_webhook", Some(Admin)),
        ("list_webhook_deliveries", Some(Admin)),
        ("test_webhook", Some(Admin)),
        ("list_endpoints", Some(Viewer)),
        ("create_endpoint", Some(Operator)),
        ("get_endpoint", Some(Viewer)),
        ("delete_endpoint", Some(Operator)),
        ("list_deployments", Some(Viewer)),
        ("create_deployment", Some(Operator)),
        ("get_deployment", Some(Viewer)),
        ("scale_deployment", Some(Operator)),
        ("delete_deployment", Some(Operator)),
        ("get_deployment_logs", Some(Viewer)),
        ("get_sample_request", Some(Viewer)),
        ("get_traffic", Some(Viewer)),
        ("change_traffic", Some(Operator)),
        ("invoke_endpoint", Some(Operator)),
        ("get_keys", Some(Viewer)),
        ("reveal_keys", Some(Operator)),
        ("regenerate_key", Some(Operator)),
        ("get_endpoint_metrics", Some(Viewer)),
        ("list_assets", Some(Viewer)),
        ("list_operations", Some(Viewer)),
        ("get_operation", Some(Viewer)),
        ("list_audit_events", Some(Viewer)),
        ("get_audit_chain", Some(Viewer)),
        ("export_audit_events", Some(Viewer)),
        ("list_change_requests", Some(Viewer)),
        ("get_change_request", Some(Viewer)),
        // Deciding needs the approver role, but the approval rule decides (a requester hears
        // `self_approval` before `forbidden`), so the route admits every signed-in user.
        ("approve_change_request", Some(Viewer)),
        ("reject_change_request", Some(Viewer)),
        ("get_policy", Some(Viewer)),
        ("set_policy", Some(Admin)),
        ("start_rollout", Some(Operator)),
        ("list_rollouts", Some(Viewer)),
        ("get_rollout", Some(Viewer)),
        ("pause_rollout", Some(Operator)),
        ("resume_rollout", Some(Operator)),
        ("abort_rollout", Some(Operator)),
        ("rollback_rollout", Some(Operator)),
        ("stream_events", Some(Viewer)),
        // Everyone manages their own tokens (the role is capped by the creator's); an admin
        // sees and revokes all.
        ("list_tokens", Some(Viewer)),
        ("create_token", Some(Viewer)),
        ("revoke_token", Some(Viewer)),
        ("list_freeze_windows", Some(Viewer)),
        ("create_freeze_window", Some(Admin)),
        ("delete_freeze_window", Some(Admin)),
        ("get_endpoint_freeze", Some(Viewer)),
    ])
}

pub(crate) struct Operation {
    pub id: String,
    pub method: Method,
    pub path: String,
}

pub(crate) fn operations() -> Vec<Operation> {
    let document = serde_json::to_value(backend::http::openapi_document()).expect("json");
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            found.push(Operation {
                id: operation["operationId"]
                    .as_str()
                    .expect("operationId")
                    .to_owned(),
                method: method.to_uppercase().parse().expect("an HTTP method"),
                // Valid names, so only the caller's role can stop a request before its handler.
                path: path
                    .replace("{endpoint}", "probe-endpoint")
                    .replace("{deployment}", "probe-deployment")
                    .replace("{kind}", "models")
                    .replace("{username}", "probe-user")
                    .replace("{id}", "00000000-0000-0000-0000-000000000000"),
            });
        }
    }
    // Signing out last keeps each caller's session for the others.
    found.sort_by_key(|op| op.id == "sign_out");
    found
}

/// Sends one operation; a stream is judged by its status line alone.
async fn ask(client: &Client, operation: &Operation) -> (StatusCode, Value) {
    if operation.id == "stream_events" {
        let response = client
            .http
            .get(format!("{}{}", client.base, operation.path))
            .send()
            .await
            .expect("request");
        let status = response.status();
        if !status.is_success() {
            return (status, response.json().await.unwrap_or(Value::Null));
        }
        return (status, Value::Null);
    }
    let body =
        (operation.method != Method::GET && operation.method != Method::DELETE).then(|| json!({}));
    client
        .send(operation.method.clone(), &operation.path, body)
        .await
}

#[tokio::test]
async fn every_operation_admits_exactly_the_roles_it_should() {
    let app = spawn_app().await;
    let roles = minimum_roles();
    let operations = operations();
    let undecided: Vec<&str> = operations
        .iter()
        .map(|op| op.id.as_str())
        .filter(|id| !roles.contains_key(id))
        .collect();
    assert!(undecided.is_empty(), "decide who may call: {undecided:?}");
    assert_eq!(
        operations.len(),
        roles.len(),
        "the table lists no removed operation"
    );

    let mut callers: Vec<(Option<Role>, Client)> = vec![(None, app.client())];
    for role in [Role::Viewer, Role::Operator, Role::Approver, Role::Admin] {
        let client = app.signed_in(&format!("as-{role}"), role).await;
        callers.push((Some(role), client));
    }
    let mut checked = 0;
    for (caller_role, client) in &callers {
        for operation in &operations {
            let needed = roles[operation.id.as_str()];
            let (status, body) = ask(client, operation).await;
            let what = format!(
                "{} {} as {caller_role:?}: {status} {body}",
                operation.method, operation.id
            );
            match (needed, caller_role) {
                (None, _) => assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "public: {what}"
                ),
                (Some(_), None) => {
                    // Anonymous writes meet the CSRF guard's session check first: 401 either way.
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                    assert_eq!(body["error"]["code"], "unauthenticated", "{what}");
                }
                (Some(needed), Some(role)) if role < &needed => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                    assert_eq!(body["error"]["code"], "forbidden", "{what}");
                }
                (Some(_), Some(_)) => assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "admitted: {what}"
                ),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, operations.len() * 5);
}

/// What a session opened with a one-time password may do before its owner changes it.
const ADMITTED_WITH_ONE_TIME_PASSWORD: [&str; 8] = [
    "get_health",
    "sign_in",
    "get_sign_in_methods",
    "start_sso",
    "finish_sso",
    "get_session",
    "sign_out",
    "change_password",
];

#[tokio::test]
async fn a_one_time_password_admits_only_the_session_and_its_change() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let (status, _) = admin
        .send(
            Method::POST,
            "/api/v1/users",
            Some(
                json!({ "username": "fresh", "role": "admin", "password": "one-time-password-1" }),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut fresh = app.client();
    let (status, _) = fresh.sign_in("fresh", "one-time-password-1").await;
    assert_eq!(status, StatusCode::OK);
    for operation in operations() {
        let (status, body) = ask(&fresh, &operation).await;
        let what = format!("{} {}: {status} {body}", operation.method, operation.id);
        if ADMITTED_WITH_ONE_TIME_PASSWORD.contains(&operation.id.as_str()) {
            assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "admitted: {what}"
            );
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
            assert_eq!(body["error"]["code"], "password_change_required", "{what}");
        }
    }
}

/// The document lists the refusals the matrix above proves (`http::openapi` adds them to every
/// operation of a kind): 401 everywhere (a refused API token, or no session), 403 wherever a
/// role or a one-time password can stop the caller or the CSRF guard stands (every write), and
/// 413/415/422 wherever a JSON body is read.
#[test]
fn the_document_lists_the_refusals_every_operation_can_answer() {
    let document = serde_json::to_value(backend::http::openapi_document()).expect("json");
    let roles = minimum_roles();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let id = operation["operationId"].as_str().expect("operationId");
            let responses = operation["responses"].as_object().expect("responses");
            let what = format!("{method} {path} ({id}) documents {:?}", responses.keys());
            assert!(responses.contains_key("401"), "{what}");
            let can_be_refused = roles[id].is_some() || method != "get";
            assert_eq!(responses.contains_key("403"), can_be_refused, "{what}");
            if operation["requestBody"]["content"]["application/json"].is_object() {
                for status in ["413", "415", "422"] {
                    assert!(responses.contains_key(status), "{status}: {what}");
                }
            }
        }
    }
}

/// On an instance without a workspace, an admin's call to each operation: those that need the
/// workspace answer `503 no_workspace`, and the document lists 503 for exactly them (502 beside
/// it for those that call it). An operation this probe's empty input does not get past (422)
/// is held to the document only by the other callers of `AppState::workspace`.
#[tokio::test]
async fn operations_that_need_a_workspace_document_503() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let document = serde_json::to_value(backend::http::openapi_document()).expect("json");
    let mut answered_503 = 0;
    for operation in operations() {
        let documented = document["paths"]
            .as_object()
            .expect("paths")
            .values()
            .flat_map(|item| item.as_object().expect("path item").values())
            .find(|op| op["operationId"] == operation.id.as_str())
            .expect("documented")
            .clone();
        let lists = |status: &str| documented["responses"].get(status).is_some();
        let (status, body) = ask(&admin, &operation).await;
        let what = format!("{} {}: {status} {body}", operation.method, operation.id);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(body["error"]["code"], "no_workspace", "{what}");
            assert!(lists("503"), "{what}");
            answered_503 += 1;
        } else if status != StatusCode::UNPROCESSABLE_ENTITY && operation.id != "get_health" {
            // (Health's 503 is its own: the database is gone.)
            // Past its inputs without the workspace: it does not need one.
            assert!(!lists("503"), "documents 503 but answered {what}");
        }
        if lists("502") {
            assert!(lists("503"), "{what}");
        }
    }
    assert!(answered_503 >= 15, "{answered_503} operations answered 503");
}
