//! Change requests: no traffic change and no delete reaches the workspace until a second
//! person with the approver role approved it; the rules of `shared::rollout` at the API.

use crate::helpers::{self, Client, LocalWorkspace, TestApp, APPROVER, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;

const ENDPOINT: &str = "asks";

async fn setup() -> (TestApp, LocalWorkspace, Client) {
    helpers::blue_and_green(ENDPOINT, json!({})).await
}

/// Asks to move 10 % to green; returns the pending request.
async fn request_shift(operator: &Client) -> Value {
    let (_, current) = operator
        .get(&format!("/api/v1/endpoints/{ENDPOINT}/traffic"))
        .await;
    let (status, location, request) = operator
        .send_for_location(
            Method::PUT,
            &format!("/api/v1/endpoints/{ENDPOINT}/traffic"),
            Some(json!({
                "traffic": { "blue": 90, "green": 10 },
                "version": current["version"],
                "reason": "canary",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{request}");
    assert_eq!(request["state"], "pending");
    assert_locates_the_request(operator, location, &request).await;
    request
}

/// A `202` that created a change request names its URL in `Location`, and that URL reads it.
async fn assert_locates_the_request(client: &Client, location: Option<String>, request: &Value) {
    let id = request["id"].as_str().expect("a change request id");
    let expected = format!("/api/v1/change-requests/{id}");
    assert_eq!(location.as_deref(), Some(expected.as_str()), "{request}");
    let (status, found) = client.get(&expected).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["id"], request["id"], "{found}");
}

async fn decide(
    client: &Client,
    request: &Value,
    decision: &str,
    body: Value,
) -> (StatusCode, Value) {
    let id = request["id"].as_str().expect("id");
    client
        .send(
            Method::POST,
            &format!("/api/v1/change-requests/{id}/{decision}"),
            Some(body),
        )
        .await
}

async fn live_green_share(workspace: &LocalWorkspace) -> i64 {
    workspace.live_share(ENDPOINT, "green").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traffic_change_waits_for_a_second_person_with_the_approver_role() {
    let (app, workspace, operator) = setup().await;
    let request = request_shift(&operator).await;
    assert_eq!(
        request["diff"]["send"]["traffic"],
        json!({ "blue": 90, "green": 10 })
    );
    assert_eq!(
        live_green_share(&workspace).await,
        0,
        "asking changed nothing"
    );

    let (status, body) = decide(&operator, &request, "approve", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "self_approval");
    for (name, role) in [("vic", Role::Viewer), ("otto", Role::Operator)] {
        let other = app.signed_in(name, role).await;
        let (status, body) = decide(&other, &request, "approve", json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}: {body}");
        assert_eq!(body["error"]["code"], "forbidden", "{role}");
    }
    assert_eq!(live_green_share(&workspace).await, 0);

    let (status, approved) = decide(
        &app.approver().await,
        &request,
        "approve",
        json!({ "comment": "looks fine" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["state"], "approved");
    let ended = operator
        .finish(&json!({ "id": approved["operation_id"] }))
        .await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(live_green_share(&workspace).await, 10);
    let id = request["id"].as_str().expect("id");
    let (_, now) = operator.get(&format!("/api/v1/change-requests/{id}")).await;
    assert_eq!(now["state"], "applied", "{now}");
    assert_eq!(now["approvals"][0]["by"], APPROVER);
    assert_eq!(now["approvals"][0]["comment"], "looks fine");
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_required_approvals_need_two_distinct_approvers() {
    let (app, workspace, operator) = setup().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let policy = format!("/api/v1/endpoints/{ENDPOINT}/policy");
    let (status, body) = operator
        .send(
            Method::PUT,
            &policy,
            Some(json!({ "required_approvals": 2 })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = admin
        .send(
            Method::PUT,
            &policy,
            Some(json!({ "required_approvals": 9 })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "required_approvals");
    let (status, _) = admin
        .send(
            Method::PUT,
            &policy,
            Some(json!({ "required_approvals": 2 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(operator.get(&policy).await.1["required_approvals"], 2);

    let request = request_shift(&operator).await;
    assert_eq!(request["required_approvals"], 2);
    let first = app.approver().await;
    let (status, once) = decide(&first, &request, "approve", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{once}");
    assert_eq!(
        (once["state"].as_str(), once["approval_count"].as_u64()),
        (Some("pending"), Some(1))
    );
    let (status, again) = decide(&first, &request, "approve", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["code"], "already_approved");
    assert_eq!(
        live_green_share(&workspace).await,
        0,
        "one approval is not enough"
    );

    let second = app.signed_in("bea", Role::Approver).await;
    let (status, done) = decide(&second, &request, "approve", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "approved");
    operator
        .finish(&json!({ "id": done["operation_id"] }))
        .await;
    assert_eq!(live_green_share(&workspace).await, 10);
    let policy_changes = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "endpoint.policy_change")
        .count();
    assert_eq!(policy_changes, 1, "the refused policies were not recorded");
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_ends_the_request_and_an_expired_one_cannot_be_approved() {
    let (app, workspace, operator) = setup().await;
    let approver = app.approver().await;
    let request = request_shift(&operator).await;
    let (status, body) = decide(&approver, &request, "reject", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "comment");
    let (status, rejected) = decide(
        &approver,
        &request,
        "reject",
        json!({ "comment": "not today" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(rejected["rejection"]["comment"], "not today");
    let (status, body) = decide(&approver, &request, "approve", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "not_pending");

    let late = request_shift(&operator).await;
    sqlx::query(
        "update change_requests set expires_at = now() - interval '1 second' where id = $1",
    )
    .bind(uuid::Uuid::parse_str(late["id"].as_str().expect("id")).expect("uuid"))
    .execute(&app.db.pool)
    .await
    .expect("age the request");
    let (status, body) = decide(&approver, &late, "approve", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "expired");
    assert_eq!(live_green_share(&workspace).await, 0, "neither was applied");
    let (_, pending) = operator.get("/api/v1/change-requests?state=pending").await;
    assert_eq!(pending["items"], json!([]));
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _, _)| a)
        .collect();
    assert!(actions.contains(&"change_request.reject".to_owned()));
    assert!(actions.contains(&"change_request.expire".to_owned()));
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_admin_breaks_the_glass_and_it_is_audited_as_such() {
    let (app, workspace, operator) = setup().await;
    let (_, current) = operator
        .get(&format!("/api/v1/endpoints/{ENDPOINT}/traffic"))
        .await;
    let body = json!({
        "traffic": { "blue": 90, "green": 10 },
        "version": current["version"],
        "reason": "incident 42",
        "break_glass": true,
    });
    let path = format!("/api/v1/endpoints/{ENDPOINT}/traffic");
    let (status, refused) = operator.send(Method::PUT, &path, Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let mut admin = app.client();
    app.add_user("root", Role::Admin).await;
    admin.sign_in("root", PASSWORD).await;
    let (status, location, applied) = admin
        .send_for_location(Method::PUT, &path, Some(body))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{applied}");
    assert_locates_the_request(&admin, location, &applied).await;
    assert_eq!(applied["state"], "approved");
    assert_eq!(applied["break_glass"]["by"], "root");
    assert_eq!(applied["break_glass"]["comment"], "incident 42");
    admin
        .finish(&json!({ "id": applied["operation_id"] }))
        .await;
    assert_eq!(live_green_share(&workspace).await, 10);
    let glass = app
        .audit_actions()
        .await
        .into_iter()
        .find(|(action, _, _)| action == "change_request.break_glass")
        .expect("audited as break-glass");
    assert_eq!(glass.2["reason"], "incident 42");
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_waits_for_approval_and_needs_a_reason() {
    let (app, workspace, operator) = setup().await;
    let path = format!("/api/v1/endpoints/{ENDPOINT}/deployments/green");
    let (status, body) = operator.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "reason");
    let (status, location, request) = operator
        .send_for_location(Method::DELETE, &format!("{path}?reason=unused"), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{request}");
    assert_locates_the_request(&operator, location, &request).await;
    assert_eq!(
        request["change"],
        json!({ "kind": "delete_deployment", "deployment": "green" })
    );
    let (status, _) = operator.get(&path).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "green is still there until someone approves"
    );
    let (status, approved) = decide(&app.approver().await, &request, "approve", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    operator
        .finish(&json!({ "id": approved["operation_id"] }))
        .await;
    let (status, _) = operator.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    workspace.emulator.shutdown().await;
}
