//! A rollout carries on across a restart of its Postgres — the private cluster killed with
//! `kill -9` (Greenlight's supervisor starts it again), and a `DATABASE_URL` server stopped and
//! started by its owner — right after an approval started a traffic change: the rollout ends
//! `succeeded`, every step once, each write once, and the audit log complete and verified.

use super::rollout_crash::{add_users, blue_takes_all, tail, Api};
use super::{children_of, common, postgres_processes_in, serve, state_dir, Server};
use backend::postgres::{Cluster, ClusterOptions};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

const ENDPOINT: &str = "pg-roll";

/// The seed's plan, with short waits.
fn plan() -> Value {
    json!({ "steps": [
        { "kind": "deploy" }, { "kind": "smoke_test" },
        { "kind": "mirror", "percent": 10, "duration": "PT1S" },
        { "kind": "shift", "percent": 10 }, { "kind": "bake", "duration": "PT2S" },
        { "kind": "shift", "percent": 100 }, { "kind": "delete_old" },
    ]})
}

/// Sets up blue at 100 %, starts the rollout, has bob approve its mirror, then approve its
/// 10 % shift and — while that change is being applied — calls `restart` on the database.
/// Then bob approves whatever waits until the rollout ends. Returns the ended rollout.
fn rollout_across(server: &Server, restart: impl FnOnce()) -> Value {
    let alice = Api::sign_in(&server.url, "alice").expect("alice");
    let bob = Api::sign_in(&server.url, "bob").expect("bob");
    blue_takes_all(&alice, &bob, ENDPOINT);
    let green = json!({ "name": "green", "model": "azureml:regression-v2:1",
                        "instance_type": "Standard_DS3_v2", "instance_count": 1 });
    let (status, rollout) = alice
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/endpoints/{ENDPOINT}/rollouts"),
            json!({ "deployment": green, "plan": plan() }),
        )
        .expect("start");
    assert_eq!(status, 201, "{rollout}");
    let id = rollout["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/rollouts/{id}");

    let mut restart = Some(restart);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        assert!(
            Instant::now() < deadline,
            "the rollout did not end: {}",
            tail(&server.logs())
        );
        // While the database is away, reads and approvals fail; they are simply tried again.
        if let Some(now) = alice.get(&path) {
            match now["state"].as_str() {
                Some("succeeded") => return now,
                Some("failed" | "paused" | "aborted" | "rolled_back") => {
                    panic!("the rollout ended badly: {now}\n{}", tail(&server.logs()))
                }
                _ => {}
            }
            let step = now["pending_request"]["rollout_step"].as_u64();
            if let Some(request) = now["pending_request"]["id"].as_str() {
                let approve = format!("/api/v1/change-requests/{request}/approve");
                let approved = bob
                    .send(reqwest::Method::POST, &approve, json!({}))
                    .is_some_and(|(status, _)| status == 200);
                if approved && step == Some(3) {
                    if let Some(restart) = restart.take() {
                        restart();
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What must hold after the rollout `done` ended: every step succeeded once, the endpoint's
/// six writes each ended once, the rollout's audit events each once, and the chain verified.
fn nothing_lost(server: &Server, done: &Value) {
    common::assert_rollout_succeeded_with(done, &["bob"]);
    let alice = Api::sign_in(&server.url, "alice").expect("alice");
    let id = done["id"].as_str().expect("id");
    let events = alice
        .get(&format!("/api/v1/audit?rollout={id}&limit=200"))
        .expect("the rollout's audit events");
    let actions: Vec<(String, Option<u64>)> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("rollout."))
        })
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["details"]["step"].as_u64(),
            )
        })
        .collect();
    let count = |action: &str, step: Option<u64>| {
        actions
            .iter()
            .filter(|(a, s)| a == action && *s == step)
            .count()
    };
    assert_eq!(count("rollout.start", None), 1, "{actions:?}");
    assert_eq!(count("rollout.end", None), 1, "{actions:?}");
    for step in 0..7 {
        assert_eq!(count("rollout.step_start", Some(step)), 1, "{actions:?}");
        assert_eq!(count("rollout.step_end", Some(step)), 1, "{actions:?}");
    }
    let operations = alice
        .get(&format!("/api/v1/operations?endpoint={ENDPOINT}&limit=100"))
        .expect("operations");
    let statuses: Vec<(String, String)> = operations["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap_or_default().to_owned(),
                o["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        statuses.iter().all(|(_, status)| status == "succeeded"),
        "every write ended, and well: {statuses:?}"
    );
    let chain = alice.get("/api/v1/audit/chain").expect("chain");
    assert!(chain["broken"].is_null(), "{chain}");
    assert!(
        chain["verified_events"].as_u64().unwrap_or(0) > 20,
        "{chain}"
    );
}

/// Whether `/api/v1/health` says the database is away (503) within `limit`.
fn degraded_within(server: &Server, limit: Duration) -> bool {
    let client = super::http();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let status = client
            .get(format!("{}/api/v1/health", server.url))
            .send()
            .map(|r| r.status().as_u16());
        if status.is_ok_and(|s| s == 503) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_rollout_carries_on_after_its_private_postgres_is_killed_and_restarted() {
    let state = state_dir();
    add_users(state.path(), &[]);
    let examples = common::examples_dir();
    let server = serve(
        state.path(),
        &[],
        &["--examples-dir", examples.to_str().expect("utf-8 path")],
    );
    let done = rollout_across(&server, || {
        let postmaster = postgres_processes_in(state.path());
        assert_eq!(postmaster.len(), 1, "one postmaster: {postmaster:?}");
        let backends = children_of(postmaster[0]);
        let kill = |pid: u32| {
            Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .is_ok_and(|s| s.success())
        };
        assert!(kill(postmaster[0]), "the postmaster is killed");
        for backend in backends {
            kill(backend);
        }
        assert!(degraded_within(&server, Duration::from_secs(5)));
    });
    nothing_lost(&server, &done);
    assert!(server.logs().contains("restarting it"), "{}", server.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_carries_on_after_its_database_url_postgres_is_stopped_and_started() {
    let pg = tempfile::tempdir().expect("postgres dir");
    let pg_dir = pg.path().to_path_buf();
    let cluster = Cluster::start(&pg_dir, ClusterOptions::throwaway()).expect("postgres");
    cluster
        .ensure_database("greenlight")
        .await
        .expect("database");
    let options = cluster.connect_options("greenlight");
    let socket = options
        .get_socket()
        .expect("a socket")
        .display()
        .to_string();
    let url = format!("postgres:///greenlight?host={socket}&user=postgres");
    let state = state_dir();
    tokio::task::spawn_blocking(move || {
        add_users(state.path(), &[("DATABASE_URL", &url)]);
        let examples = common::examples_dir();
        let server = serve(
            state.path(),
            &[("DATABASE_URL", &url)],
            &["--examples-dir", examples.to_str().expect("utf-8 path")],
        );
        let mut cluster = Some(cluster);
        let done = rollout_across(&server, || {
            if let Some(cluster) = cluster.take() {
                cluster.stop();
            }
            assert!(degraded_within(&server, Duration::from_secs(3)));
            std::thread::sleep(Duration::from_secs(2));
            cluster = Some(Cluster::start(&pg_dir, ClusterOptions::throwaway()).expect("again"));
        });
        nothing_lost(&server, &done);
        drop(server);
        drop(cluster);
    })
    .await
    .expect("driver");
}
