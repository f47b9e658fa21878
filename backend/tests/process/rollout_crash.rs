//! A rollout survives `kill -9` at every step boundary and during each of its workspace writes:
//! the real binary, restarted after each crash (crash points pick the moment), carries it on to
//! success with exactly one workspace write per step — by Greenlight's operations and by the
//! local workspace's own journal — and the audit log still verifies.

use super::{audit_verify, common, http, serve, state_dir, user_add, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ENDPOINT: &str = "crash-roll";
/// The step boundaries and each write's two mid-operation points (`backend/src/failpoint.rs`):
/// 700 ms into the write, and once the workspace answered it but before its end is stored.
const CRASH_POINTS: &str =
    "rollout-step-end,rollout-operation,change-request-operation,operation-write-done";
/// The points that end a life while one of the rollout's workspace writes is in flight.
const WRITE_POINTS: [&str; 3] = [
    "rollout-operation",
    "change-request-operation",
    "operation-write-done",
];

/// A signed-in user of one server life; every call tolerates the server dying under it.
pub(super) struct Api {
    client: reqwest::blocking::Client,
    url: String,
    csrf: String,
}

impl Api {
    pub(super) fn sign_in(url: &str, name: &str) -> Option<Self> {
        let client = http();
        let body: Value = client
            .post(format!("{url}/api/v1/session"))
            .header("x-csrf-token", "sign-in")
            .json(&json!({ "username": name, "password": password(name) }))
            .send()
            .ok()?
            .json()
            .ok()?;
        Some(Self {
            client,
            url: url.to_owned(),
            csrf: body["csrf_token"].as_str()?.to_owned(),
        })
    }

    pub(super) fn get(&self, path: &str) -> Option<Value> {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .ok()?
            .json()
            .ok()
    }

    pub(super) fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Option<(u16, Value)> {
        let response = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().unwrap_or(Value::Null)))
    }

    /// Waits for operation `id` to end; `None` if the server went away.
    pub(super) fn finish(&self, id: &str) -> Option<Value> {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let op = self.get(&format!("/api/v1/operations/{id}"))?;
            if op["status"] != "running" {
                return Some(op);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("operation {id} did not end");
    }
}

/// The last lines of a server's log, for a failure message.
pub(super) fn tail(logs: &str) -> String {
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| !l.contains("request finished"))
        .collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

pub(super) fn password(name: &str) -> String {
    format!("{name}-crash-password-1")
}

fn start(state: &std::path::Path, url: &str, crash: bool) -> Server {
    let examples = common::examples_dir();
    let mut env = vec![("DATABASE_URL", url), ("GREENLIGHT_LEASE_SECS", "2")];
    if crash {
        env.push(("GREENLIGHT_FAILPOINT", CRASH_POINTS));
    }
    serve(
        state,
        &env,
        &["--examples-dir", examples.to_str().expect("utf-8 path")],
    )
}

/// Waits for a server life to end and names the crash points that ended it (as it printed
/// them); a life that ended any other way (no crash point printed, or not by the abort a crash
/// point makes) fails the test.
fn crash_points_that_ended(server: &mut Server) -> Vec<String> {
    use std::os::unix::process::ExitStatusExt;
    let status = server.wait();
    let logs = server.logs();
    assert_eq!(
        status.signal(),
        Some(6),
        "a server life ended other than by a crash point's abort ({status}):\n{}",
        tail(&logs)
    );
    let points: Vec<String> = logs
        .lines()
        .filter_map(|line| line.split_once("failpoint ")?.1.split_once(": aborting"))
        .map(|(point, _)| point)
        .map(str::to_owned)
        .collect();
    assert!(
        !points.is_empty(),
        "a server life ended without reaching a crash point:\n{}",
        tail(&logs)
    );
    points
}

/// Adds alice (operator) and bob (approver) with `greenlight user add` on the state folder.
pub(super) fn add_users(state: &std::path::Path, env: &[(&str, &str)]) {
    for (name, role) in [("alice", "operator"), ("bob", "approver")] {
        let args = [
            name,
            "--role",
            role,
            "--state-dir",
            state.to_str().expect("utf-8"),
        ];
        let added = user_add(&args, env, &password(name));
        assert!(
            added.status.success(),
            "{}",
            String::from_utf8_lossy(&added.stderr)
        );
    }
}

/// Has alice create `endpoint` with blue (v1) and bob approve all live traffic on blue: where a
/// rollout starts from.
pub(super) fn blue_takes_all(alice: &Api, bob: &Api, endpoint: &str) {
    let (status, op) = alice
        .send(
            reqwest::Method::POST,
            "/api/v1/endpoints",
            json!({ "name": endpoint }),
        )
        .expect("create");
    assert_eq!(status, 202, "{op}");
    alice
        .finish(op["id"].as_str().expect("id"))
        .expect("endpoint");
    let blue = json!({ "name": "blue", "model": "azureml:regression-v1:1",
                       "instance_type": "Standard_DS3_v2", "instance_count": 1 });
    let (status, op) = alice
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/endpoints/{endpoint}/deployments"),
            blue,
        )
        .expect("blue");
    assert_eq!(status, 202, "{op}");
    alice.finish(op["id"].as_str().expect("id")).expect("blue");
    let traffic = format!("/api/v1/endpoints/{endpoint}/traffic");
    let version = alice.get(&traffic).expect("traffic")["version"].clone();
    approved(
        alice,
        bob,
        reqwest::Method::PUT,
        &traffic,
        json!({ "traffic": { "blue": 100 }, "version": version, "reason": "blue serves" }),
    );
}

/// Asks for a change as alice and has bob approve it; waits for it to be applied.
fn approved(alice: &Api, bob: &Api, method: reqwest::Method, path: &str, body: Value) {
    let (status, request) = alice.send(method, path, body).expect("request");
    assert_eq!(status, 202, "{request}");
    let approve = format!(
        "/api/v1/change-requests/{}/approve",
        request["id"].as_str().expect("id")
    );
    let (status, decided) = bob
        .send(reqwest::Method::POST, &approve, json!({}))
        .expect("approve");
    assert_eq!(status, 200, "{decided}");
    let ended = alice
        .finish(decided["operation_id"].as_str().expect("operation"))
        .expect("ended");
    assert_eq!(ended["status"], "succeeded", "{ended}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_at_every_step_boundary_and_write_a_rollout_still_succeeds_once() {
    let db = common::fresh_database().await;
    let url = db.url();
    let state = state_dir();
    let path = state.path().to_path_buf();
    let env = [("DATABASE_URL", url.as_str())];
    add_users(&path, &env);
    let (rollout, deaths) = tokio::task::spawn_blocking(move || {
        // Set up blue at 100 % and start the rollout on a server without crash points.
        let calm = start(&path, &url, false);
        let alice = Api::sign_in(&calm.url, "alice").expect("alice");
        let bob = Api::sign_in(&calm.url, "bob").expect("bob");
        blue_takes_all(&alice, &bob, ENDPOINT);
        let plan = json!({ "steps": [
            { "kind": "deploy" }, { "kind": "smoke_test" },
            { "kind": "mirror", "percent": 10, "duration": "PT1S" },
            { "kind": "shift", "percent": 10 }, { "kind": "bake", "duration": "PT1S" },
            { "kind": "shift", "percent": 100 }, { "kind": "delete_old" },
        ]});
        let green = json!({ "name": "green", "model": "azureml:regression-v2:1", "instance_type": "Standard_DS3_v2", "instance_count": 1 });
        let (status, rollout) = alice
            .send(reqwest::Method::POST, &format!("/api/v1/endpoints/{ENDPOINT}/rollouts"), json!({ "deployment": green, "plan": plan }))
            .expect("start");
        assert_eq!(status, 201, "{rollout}");
        let id = rollout["id"].as_str().expect("id").to_owned();
        let mut calm = calm;
        calm.signal(super::libc_signal::TERM);
        calm.wait();

        // Now every life of the server ends at the next crash point; bob approves whatever
        // waits. Each restart carries the rollout on from where it was.
        let mut deaths: Vec<Vec<String>> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            assert!(Instant::now() < deadline, "the rollout did not end across {} lives", deaths.len() + 1);
            let mut server = start(&path, &url, true);
            let (Some(alice), Some(bob)) = (Api::sign_in(&server.url, "alice"), Api::sign_in(&server.url, "bob")) else {
                deaths.push(crash_points_that_ended(&mut server));
                continue;
            };
            while server.child.try_wait().ok().flatten().is_none() {
                let Some(now) = alice.get(&format!("/api/v1/rollouts/{id}")) else { break };
                match now["state"].as_str() {
                    Some("succeeded") => return (now, deaths),
                    Some("failed" | "paused" | "aborted" | "rolled_back") => panic!("the rollout ended badly: {now}\n{}", tail(&server.logs())),
                    _ => {}
                }
                if let Some(request) = now["pending_request"]["id"].as_str() {
                    let _ = bob.send(reqwest::Method::POST, &format!("/api/v1/change-requests/{request}/approve"), json!({}));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            deaths.push(crash_points_that_ended(&mut server));
        }
    })
    .await
    .expect("driver");
    // Each step's end is committed in a life of its own: the crash point right after that
    // commit ends the life at once. So exactly 7 lives end at `rollout-step-end`.
    let ended_at = |points: &[&str]| {
        deaths
            .iter()
            .filter(|d| d.iter().any(|p| points.contains(&p.as_str())))
            .count()
    };
    assert_eq!(ended_at(&["rollout-step-end"]), 7, "{deaths:?}");
    // Each of the 6 writes (the deploy, mirror on and off, 10 %, 100 %, blue's delete) ends
    // exactly one life while its operation is in flight: 700 ms into the write when it is still
    // at the workspace by then (`rollout-operation` for the deploy and the mirror's switch-off,
    // `change-request-operation` for the four approved requests), otherwise the moment the
    // workspace has answered it, before its end is stored (`operation-write-done`). Which of
    // the two fires depends on the write's speed; that exactly one does, does not. The process
    // that takes the operation up has no crash point, so no write is crashed twice.
    assert_eq!(ended_at(&WRITE_POINTS), 6, "{deaths:?}");
    assert!(ended_at(&["rollout-operation"]) <= 2, "{deaths:?}");
    assert!(ended_at(&["change-request-operation"]) <= 4, "{deaths:?}");
    // No life ends at both a step end and a write.
    assert!(
        deaths.iter().all(|d| {
            let write = d.iter().any(|p| WRITE_POINTS.contains(&p.as_str()));
            let step = d.iter().any(|p| p == "rollout-step-end");
            write != step
        }),
        "{deaths:?}"
    );
    let lives = deaths.len() + 1;
    assert_eq!(
        lives, 14,
        "a crash at each of 7 step ends and in each of 6 writes, then the life that saw the end: {deaths:?}"
    );
    eprintln!(
        "lives: {lives}; ended at rollout-step-end {}, rollout-operation {}, change-request-operation {}, operation-write-done {}: {deaths:?}",
        ended_at(&["rollout-step-end"]),
        ended_at(&["rollout-operation"]),
        ended_at(&["change-request-operation"]),
        ended_at(&["operation-write-done"]),
    );
    common::assert_rollout_succeeded_with(&rollout, &["bob"]);

    // Exactly one workspace write per step: the operations of the endpoint since the rollout.
    let writes: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "select kind, status, deployment from operations
          where endpoint = $1 and created_at >= (select created_at from rollouts limit 1)
          order by created_at",
    )
    .bind(ENDPOINT)
    .fetch_all(&db.pool)
    .await
    .expect("operations");
    let kinds: Vec<&str> = writes.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "deployment.create",
            "traffic.change",
            "traffic.change",
            "traffic.change",
            "traffic.change",
            "deployment.delete"
        ],
        "deploy, mirror on, mirror off, 10 %, 100 %, delete blue: {writes:?}"
    );
    assert!(
        writes.iter().all(|(_, status, _)| status == "succeeded"),
        "{writes:?}"
    );
    // The local workspace's own record agrees: one write per step, none repeated by a restart.
    let started: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select created_at from rollouts limit 1")
            .fetch_one(&db.pool)
            .await
            .expect("rollout start");
    let journal = std::fs::read_to_string(state.path().join("workspace/writes.jsonl"))
        .expect("the local workspace's journal");
    let endpoint_path = format!("/onlineEndpoints/{ENDPOINT}");
    let writes: Vec<(String, String)> = journal
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|w| {
            w["at"]
                .as_str()
                .and_then(|at| at.parse::<chrono::DateTime<chrono::Utc>>().ok())
                .is_some_and(|at| at >= started)
        })
        .filter_map(|w| {
            let path = w["path"].as_str()?;
            let tail = path.split_once(&endpoint_path)?.1.to_owned();
            Some((w["method"].as_str()?.to_owned(), tail))
        })
        .collect();
    let count = |method: &str, tail: &str| {
        writes
            .iter()
            .filter(|(m, t)| m == method && t == tail)
            .count()
    };
    assert_eq!(count("PUT", "/deployments/green"), 1, "{writes:?}");
    assert_eq!(count("DELETE", "/deployments/blue"), 1, "{writes:?}");
    let traffic_writes = writes.iter().filter(|(_, t)| t.is_empty()).count();
    assert_eq!(
        traffic_writes, 4,
        "mirror on, mirror off, 10 %, 100 %: {writes:?}"
    );
    assert_eq!(writes.len(), 6, "nothing else was written: {writes:?}");
    let id = rollout["id"].as_str().expect("id");
    each_audit_event_once(&db.pool, id).await;
    let (verified, said) = audit_verify(&db, state.path());
    assert!(verified, "{said}");
}

/// Across the crashes, no audit event of rollout `id` was lost or doubled: one start and one
/// end, one start and one end per step, one create, approve and applied per change request,
/// and one event per workspace write.
async fn each_audit_event_once(pool: &sqlx::PgPool, id: &str) {
    let rollout_events: Vec<(String, Option<String>)> = sqlx::query_as(
        "select action, details->>'step' from audit_events
          where details->>'rollout_id' = $1 and action like 'rollout.%' order by id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("the rollout's audit events");
    let count = |action: &str, step: Option<&str>| {
        rollout_events
            .iter()
            .filter(|(a, s)| a == action && s.as_deref() == step)
            .count()
    };
    assert_eq!(count("rollout.start", None), 1, "{rollout_events:?}");
    assert_eq!(count("rollout.end", None), 1, "{rollout_events:?}");
    for step in 0..7 {
        let step = step.to_string();
        assert_eq!(
            count("rollout.step_start", Some(&step)),
            1,
            "step {step}: {rollout_events:?}"
        );
        assert_eq!(
            count("rollout.step_end", Some(&step)),
            1,
            "step {step}: {rollout_events:?}"
        );
    }
    assert_eq!(
        rollout_events.len(),
        2 + 7 * 2,
        "nothing else: {rollout_events:?}"
    );

    // The mirror (step 2), the shifts (3 and 5) and blue's delete (6) each asked once.
    let requests: Vec<(String, i32)> = sqlx::query_as(
        "select id::text, rollout_step from change_requests
          where rollout_id = $1::uuid order by rollout_step",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("the rollout's change requests");
    let steps: Vec<i32> = requests.iter().map(|(_, step)| *step).collect();
    assert_eq!(
        steps,
        [2, 3, 5, 6],
        "one request per traffic step: {requests:?}"
    );
    for (request, step) in &requests {
        let actions: Vec<String> = sqlx::query_scalar(
            "select action from audit_events where details->>'change_request_id' = $1 order by id",
        )
        .bind(request)
        .fetch_all(pool)
        .await
        .expect("the request's audit events");
        assert_eq!(
            actions,
            [
                "change_request.create",
                "change_request.approve",
                "change_request.applied"
            ],
            "step {step}'s request {request}"
        );
    }

    // Each workspace write of the rollout ended once, and its end was audited once; and each
    // was taken up once by a later life, its own having died while it was in flight.
    let writes: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "select o.id::text, o.kind,
                (select count(*) from audit_events a
                  where a.action = o.kind and a.details->>'operation_id' = o.id::text),
                (select count(*) from jsonb_array_elements(o.progress) p
                  where p::text like '%Greenlight stopped while this operation ran%')
           from operations o
          where o.created_at >= (select created_at from rollouts where id = $1::uuid)
          order by o.created_at",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("the rollout's operations");
    assert_eq!(writes.len(), 6, "{writes:?}");
    assert!(
        writes.iter().all(|(_, _, audited, _)| *audited == 1),
        "{writes:?}"
    );
    assert!(
        writes.iter().all(|(_, _, _, taken_up)| *taken_up == 1),
        "each write crashed in flight once, and was taken up once: {writes:?}"
    );
}
