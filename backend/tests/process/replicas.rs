//! Two Greenlight replicas on one database and one workspace: exactly one executes a rollout at
//! a time, and when it dies (`kill -9`) the other takes the rollout over within the lease.

use super::cluster::{add_users, fake_az, replica, Api, TOKEN};
use super::{common, local_workspace_process, state_dir};
use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;

const ENDPOINT: &str = "two-replicas";

async fn owner(db: &common::TestDatabase) -> Option<Uuid> {
    sqlx::query_scalar("select owner from rollouts limit 1")
        .fetch_one(&db.pool)
        .await
        .expect("owner")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_executes_a_rollout_and_the_other_takes_over_when_it_dies() {
    let db = common::fresh_database().await;
    let url = db.url();
    let workspace_state = state_dir();
    let (_workspace, arm_url) = local_workspace_process(workspace_state.path(), TOKEN);
    let tools = tempfile::tempdir().expect("tools");
    let path = fake_az(tools.path());
    let (state_a, state_b) = (state_dir(), state_dir());
    add_users(&url, &[("alice", "operator"), ("bob", "approver")]);

    // Replica A alone: set up blue at 100 % and start a rollout with a step that waits.
    let (a_path, url_a, path_a, arm_a) = (
        state_a.path().to_path_buf(),
        url.clone(),
        path.clone(),
        arm_url.clone(),
    );
    let (a, rollout) = tokio::task::spawn_blocking(move || {
        let a = replica(&a_path, &url_a, &path_a, &arm_a);
        let alice = Api::sign_in(&a.url, "alice");
        let bob = Api::sign_in(&a.url, "bob");
        let (_, op) = alice.send(reqwest::Method::POST, "/api/v1/endpoints", json!({ "name": ENDPOINT }));
        assert_eq!(alice.finish(op["id"].as_str().expect("id"))["status"], "succeeded");
        let blue = json!({ "name": "blue", "model": "azureml:regression-v1:1", "instance_type": "Standard_DS3_v2", "instance_count": 1 });
        let (_, op) = alice.send(reqwest::Method::POST, &format!("/api/v1/endpoints/{ENDPOINT}/deployments"), blue);
        assert_eq!(alice.finish(op["id"].as_str().expect("id"))["status"], "succeeded");
        let version = alice.get(&format!("/api/v1/endpoints/{ENDPOINT}/traffic"))["version"].clone();
        let (status, request) = alice.send(reqwest::Method::PUT, &format!("/api/v1/endpoints/{ENDPOINT}/traffic"),
            json!({ "traffic": { "blue": 100 }, "version": version, "reason": "blue serves" }));
        assert_eq!(status, 202, "{request}");
        let (_, decided) = bob.send(reqwest::Method::POST,
            &format!("/api/v1/change-requests/{}/approve", request["id"].as_str().expect("id")), json!({}));
        assert_eq!(alice.finish(decided["operation_id"].as_str().expect("op"))["status"], "succeeded");
        let plan = json!({ "steps": [
            { "kind": "deploy" }, { "kind": "smoke_test" }, { "kind": "bake", "duration": "PT8S" },
            { "kind": "shift", "percent": 100 },
        ]});
        let green = json!({ "name": "green", "model": "azureml:regression-v2:1", "instance_type": "Standard_DS3_v2", "instance_count": 1 });
        let (status, rollout) = alice.send(reqwest::Method::POST, &format!("/api/v1/endpoints/{ENDPOINT}/rollouts"),
            json!({ "deployment": green, "plan": plan }));
        assert_eq!(status, 201, "{rollout}");
        let id = rollout["id"].as_str().expect("id").to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        while alice.get(&format!("/api/v1/rollouts/{id}"))["current_step"] != 2 {
            assert!(Instant::now() < deadline, "the rollout did not reach its bake");
            std::thread::sleep(Duration::from_millis(200));
        }
        (a, id)
    })
    .await
    .expect("replica a");
    let a_owner = owner(&db).await.expect("replica a executes it");

    // Replica B joins: while A lives, A alone executes the rollout.
    let (b_path, url_b, path_b, arm_b) = (
        state_b.path().to_path_buf(),
        url.clone(),
        path.clone(),
        arm_url.clone(),
    );
    let b = tokio::task::spawn_blocking(move || replica(&b_path, &url_b, &path_b, &arm_b))
        .await
        .expect("replica b");
    for _ in 0..10 {
        assert_eq!(
            owner(&db).await,
            Some(a_owner),
            "only A executes it while A lives"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // A dies in the middle of the bake; B takes the rollout over within the lease and, with
    // bob's approval given on B, ends it.
    let mut a = a;
    a.signal(super::libc_signal::KILL);
    a.wait();
    let killed = Instant::now();
    let b_url = b.url.clone();
    let taken_over = loop {
        if let Some(now) = owner(&db).await.filter(|o| *o != a_owner) {
            break (now, killed.elapsed());
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "B never took the rollout over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        taken_over.1 < Duration::from_secs(10),
        "taken over after {:?}",
        taken_over.1
    );
    let ended = tokio::task::spawn_blocking(move || {
        let alice = Api::sign_in(&b_url, "alice");
        let bob = Api::sign_in(&b_url, "bob");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let now = alice.get(&format!("/api/v1/rollouts/{rollout}"));
            if now["state"] == "succeeded" {
                return now;
            }
            assert!(
                Instant::now() < deadline && now["state"] != "failed",
                "{now}"
            );
            if let Some(request) = now["pending_request"]["id"].as_str() {
                bob.send(
                    reqwest::Method::POST,
                    &format!("/api/v1/change-requests/{request}/approve"),
                    json!({}),
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await
    .expect("replica b drives");
    common::assert_rollout_succeeded_with(&ended, &["bob"]);
    let creates: i64 = sqlx::query_scalar(
        "select count(*) from operations where kind = 'deployment.create' and deployment = 'green'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("count");
    assert_eq!(creates, 1, "green was created once");
    drop(b);
}
