//! An operation always ends: when its end can't be recorded as it is (the details can't be
//! stored), it is recorded without them, with an audit event that says so — never left running.

use crate::common::{endpoint_name, fresh_database};
use backend::operations::{Job, OperationRunner};
use serde_json::{json, Value};
use shared::api::{OperationKind, OperationStatus};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_whose_details_cant_be_stored_still_ends_and_its_audit_event_says_so() {
    let db = fresh_database().await;
    let runner = OperationRunner::start(db.pool.clone(), None)
        .await
        .expect("runner");
    let job = Job::new(
        OperationKind::EndpointCreate,
        "olga",
        &endpoint_name("unstorable"),
        None,
    )
    .request(json!({ "name": "unstorable" }));
    // Postgres refuses U+0000 in jsonb: the `after` of this audit event can't be stored.
    let started = runner
        .launch(job, || async {
            Ok(json!({ "description": "before\u{0}after" }))
        })
        .await
        .expect("launched");
    assert!(
        runner.drain(Duration::from_secs(30)).await,
        "the operation ended"
    );

    let ended = backend::store::operations::get(&db.pool, started.id)
        .await
        .expect("read")
        .expect("the operation");
    assert_eq!(ended.status, OperationStatus::Succeeded, "{ended:?}");
    assert!(ended.finished_at.is_some());

    let events: Vec<(String, String, Value)> =
        sqlx::query_as("select action, target, details from audit_events order by id")
            .fetch_all(&db.pool)
            .await
            .expect("audit log");
    let (action, target, details) = events.last().expect("an audit event").clone();
    assert_eq!(action, "endpoint.create");
    assert_eq!(target, "unstorable");
    assert_eq!(details["outcome"], "succeeded");
    assert_eq!(details["operation_id"], json!(started.id));
    assert!(
        details["details_not_recorded"]
            .as_str()
            .is_some_and(|s| s.contains("could not be stored")),
        "{details}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_operation_is_taken_up_only_once_its_owners_lease_is_gone_and_the_late_owner_cant_overwrite_its_end(
) {
    let (app, workspace) = crate::helpers::spawn_app_with_workspace().await;
    let pool = app.db.pool.clone();
    let first = OperationRunner::start(pool.clone(), Some(workspace.client.clone()))
        .await
        .expect("runner");
    let client = workspace.client.clone();
    let name = endpoint_name("taken-up");
    let job = Job::new(OperationKind::EndpointCreate, "olga", &name, None)
        .request(json!({ "name": "taken-up" }));
    let started = first
        .launch(job, move || async move {
            let body: shared::arm::OnlineEndpoint = serde_json::from_value(
                json!({ "location": "local", "properties": { "authMode": "Key" } }),
            )
            .expect("endpoint body");
            client.create_endpoint(&name, body).await?;
            // Still working when its process "stops" below; what it returns comes too late.
            tokio::time::sleep(Duration::from_secs(12)).await;
            Ok(json!("late"))
        })
        .await
        .expect("launched");
    let row = |pool: sqlx::PgPool| async move {
        sqlx::query_as::<_, (String, Option<uuid::Uuid>, Option<String>)>(
            "select status, owner, arm_poll_url from operations where id = $1",
        )
        .bind(started.id)
        .fetch_one(&pool)
        .await
        .expect("the operation row")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while row(pool.clone()).await.2.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "no polling URL stored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The app's own runner (a second live replica on this database) looks for orphans every
    // few seconds: a live owner's operation is not one.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (status, owner, _) = row(pool.clone()).await;
    assert_eq!(
        (status.as_str(), owner),
        ("running", Some(first.instance()))
    );

    // The first process stops with the operation running: its lease goes, the live replica
    // takes the operation up, follows the stored URL and records the end.
    assert!(!first.drain(Duration::ZERO).await);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (status, owner) = loop {
        let (status, owner, _) = row(pool.clone()).await;
        if status != "running" {
            break (status, owner);
        }
        assert!(std::time::Instant::now() < deadline, "never taken up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, "succeeded");
    assert_ne!(owner, Some(first.instance()));
    // The first process's work ends after that; its end must not be recorded over this one.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let events: Vec<(String, Value)> = sqlx::query_as(
        "select action, details from audit_events where target = 'taken-up' order by id",
    )
    .fetch_all(&pool)
    .await
    .expect("audit log");
    assert_eq!(events.len(), 1, "{events:?}");
    let (action, details) = &events[0];
    assert_eq!(action, "endpoint.create");
    assert_eq!(details["outcome"], "succeeded");
    assert_eq!(details["request"]["name"], "taken-up");
    assert_eq!(details["after"]["name"], "taken-up", "{details}");
    assert!(!details["arm_operation_id"].is_null(), "{details}");
    let operation = backend::store::operations::get(&pool, started.id)
        .await
        .expect("read")
        .expect("the operation");
    assert!(
        operation.progress.iter().any(|p| p
            .message
            .contains("Greenlight stopped while this operation ran")),
        "{operation:?}"
    );
    assert_eq!(operation.status, OperationStatus::Succeeded);
    workspace.emulator.shutdown().await;
}
