//! Benchmark, not a timed test (`make bench`): zero dropped requests through a whole rollout.
//! Blue takes all traffic and is scaled to two instances; then the seed rollout runs through the
//! engine (green at 0 %, smoke test, mirror, 10 %, bake, 100 %, delete blue), every approval given
//! through the API by a second account, while [`CLIENTS`] clients send scoring requests with the
//! endpoint key, each its next as soon as its last is answered, until the rollout has ended and
//! at least [`MIN_REQUESTS`] were sent. Each request counts for the step current when it was
//! sent. Prints requests, failures, latency and who answered per step; fails on any failure:
//! anything but the model's own answer (connection errors, timeouts, the router's 4xx/5xx).

use crate::helpers::{deployment_request, spawn_app_with_workspace, Client};
use crate::rollouts::{bob_approves_next, short_plan, until, ENDPOINT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENTS: usize = 8;
const MIN_REQUESTS: u64 = 100_000;
/// The phases requests are counted under: before the rollout, the scale-up, each step of
/// [`short_plan`], and after the rollout.
const PHASES: [&str; 10] = [
    "blue 100 %",
    "scale blue to 2",
    "deploy green 0 %",
    "smoke test",
    "mirror 10 %",
    "shift 10 %",
    "bake",
    "shift 100 %",
    "delete blue",
    "green 100 %",
];
const FIRST_STEP: usize = 2;

/// What the clients saw during one phase.
#[derive(Debug, Default)]
struct Tally {
    /// Latency of every answered request, in microseconds.
    latencies_us: Vec<u64>,
    failures: u64,
    first_failure: Option<String>,
    /// Answers by the deployment the router named.
    answered_by: BTreeMap<String, u64>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.failures += other.failures;
        self.first_failure = self.first_failure.take().or(other.first_failure);
        for (name, n) in other.answered_by {
            *self.answered_by.entry(name).or_default() += n;
        }
    }
}

/// The load: clients sending until told to stop, each request tagged with the phase current
/// when it was sent.
struct Load {
    phase: Arc<AtomicUsize>,
    rollout_over: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Tally>>>,
}

impl Load {
    fn start(uri: String, key: String, body: Value) -> Self {
        let phase = Arc::new(AtomicUsize::new(0));
        let rollout_over = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        // One keep-alive client for all, as a service calling the endpoint would have.
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client");
        let body = bytes::Bytes::from(body.to_string());
        let tasks = (0..CLIENTS)
            .map(|_| {
                let (http, uri, key, body) = (http.clone(), uri.clone(), key.clone(), body.clone());
                let (phase, over, sent) = (
                    Arc::clone(&phase),
                    Arc::clone(&rollout_over),
                    Arc::clone(&sent),
                );
                tokio::spawn(async move {
                    let mut tallies: Vec<Tally> = PHASES.iter().map(|_| Tally::default()).collect();
                    while !(over.load(Ordering::Acquire)
                        && sent.load(Ordering::Relaxed) >= MIN_REQUESTS)
                    {
                        let tally = &mut tallies[phase.load(Ordering::Acquire)];
                        sent.fetch_add(1, Ordering::Relaxed);
                        score(&http, &uri, &key, &body, tally).await;
                    }
                    tallies
                })
            })
            .collect();
        Self {
            phase,
            rollout_over,
            tasks,
        }
    }

    /// Waits until the rollout is over and enough requests were sent; what each phase saw.
    async fn finish(self) -> Vec<Tally> {
        self.rollout_over.store(true, Ordering::Release);
        let mut all: Vec<Tally> = PHASES.iter().map(|_| Tally::default()).collect();
        for task in self.tasks {
            for (into, tally) in all.iter_mut().zip(task.await.expect("a client panicked")) {
                into.merge(tally);
            }
        }
        all
    }
}

/// Sends one request and counts it.
async fn score(
    http: &reqwest::Client,
    uri: &str,
    key: &str,
    body: &bytes::Bytes,
    tally: &mut Tally,
) {
    let started = Instant::now();
    let outcome = async {
        let response = http
            .post(uri)
            .bearer_auth(key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status();
        let deployment = response
            .headers()
            .get("azureml-model-deployment")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
            .to_owned();
        let text = response
            .text()
            .await
            .map_err(|e| format!("answer cut: {e}"))?;
        // 424 carries the scoring script's own error: the model's answer, not a drop.
        if status != StatusCode::OK && status != StatusCode::FAILED_DEPENDENCY {
            return Err(format!("{status} from {deployment}: {text}"));
        }
        Ok(deployment)
    }
    .await;
    match outcome {
        Ok(deployment) => {
            tally
                .latencies_us
                .push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
            *tally.answered_by.entry(deployment).or_default() += 1;
        }
        Err(failure) => {
            tally.failures += 1;
            tally.first_failure.get_or_insert(failure);
        }
    }
}

/// Keeps `phase` at the rollout's current step until it ends.
fn follow(alice: Client, id: String, phase: Arc<AtomicUsize>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let (status, rollout) = alice.get(&format!("/api/v1/rollouts/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{rollout}");
            if rollout["state"] == "succeeded" {
                phase.store(PHASES.len() - 1, Ordering::Release);
                return;
            }
            if let Some(step) = rollout["current_step"].as_u64() {
                let step = usize::try_from(step).unwrap_or(0);
                phase.store((FIRST_STEP + step).min(PHASES.len() - 2), Ordering::Release);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// A deployment body that admits every client: the router refuses (429) beyond
/// 2 × `max_concurrent_requests_per_instance` pending requests per instance, as Azure does.
fn roomy(name: &str, model: &str) -> Value {
    let mut request = deployment_request(name, model);
    request["request_settings"] = json!({ "max_concurrent_requests_per_instance": CLIENTS });
    request
}

fn print_table(tallies: &mut [Tally]) {
    println!();
    println!(
        "{:<18} {:>9} {:>8} {:>8} {:>8} {:>9}  answered by",
        "step", "requests", "failed", "p50 ms", "p99 ms", "max ms"
    );
    for (name, tally) in PHASES.iter().zip(tallies.iter_mut()) {
        tally.latencies_us.sort_unstable();
        let n = tally.latencies_us.len();
        let at = |q: f64| {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n.max(1));
            tally.latencies_us.get(rank - 1).copied().unwrap_or(0) as f64 / 1000.0
        };
        let by: Vec<String> = tally
            .answered_by
            .iter()
            .map(|(d, c)| format!("{d} {c}"))
            .collect();
        println!(
            "{name:<18} {:>9} {:>8} {:>8.2} {:>8.2} {:>9.2}  {}",
            n as u64 + tally.failures,
            tally.failures,
            at(0.50),
            at(0.99),
            tally.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0,
            by.join(", ")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: make bench"]
async fn zero_dropped_requests_through_a_rollout() {
    let started = Instant::now();
    let (app, workspace) = spawn_app_with_workspace().await;
    let alice = app.signed_in("alice", Role::Operator).await;
    app.blue_takes_all_with(&alice, ENDPOINT, roomy("blue", "regression-v1"))
        .await;
    let bob = app.signed_in("bob", Role::Approver).await;
    let carol = app.signed_in("carol", Role::Viewer).await;
    let (uri, key) = workspace.scoring_target(ENDPOINT).await;
    let body =
        json!({ "data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]] });
    let load = Load::start(uri, key, body);
    tokio::time::sleep(Duration::from_secs(2)).await;

    load.phase.store(1, Ordering::Release);
    alice
        .run(
            Method::PATCH,
            &format!("/api/v1/endpoints/{ENDPOINT}/deployments/blue"),
            Some(json!({ "instance_count": 2 })),
        )
        .await;

    let (status, rollout) = alice
        .send(
            Method::POST,
            &format!("/api/v1/endpoints/{ENDPOINT}/rollouts"),
            Some(json!({
                "deployment": roomy("green", "regression-v2"),
                "plan": short_plan(),
                "reason": "zero-drop benchmark",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rollout}");
    let id = rollout["id"].as_str().expect("id").to_owned();
    let follower = follow(carol, id.clone(), Arc::clone(&load.phase));
    // Mirror, shift 10 %, shift 100 %, delete blue: each approved by bob, never by alice.
    for step in [2, 3, 5, 6] {
        bob_approves_next(&alice, &bob, &id, step).await;
    }
    until(&alice, &id, "the end", |r| r["state"] == "succeeded").await;
    follower.await.expect("the follower panicked");
    let rollout_took = started.elapsed();

    let mut tallies = load.finish().await;
    print_table(&mut tallies);
    let total: u64 = tallies
        .iter()
        .map(|t| t.latencies_us.len() as u64 + t.failures)
        .sum();
    let failed: u64 = tallies.iter().map(|t| t.failures).sum();
    println!(
        "{total} requests from {CLIENTS} clients over {:.0} s (rollout done after {:.0} s); {failed} failed",
        started.elapsed().as_secs_f64(),
        rollout_took.as_secs_f64()
    );
    let first = tallies.iter().find_map(|t| t.first_failure.clone());
    workspace.emulator.shutdown().await;
    assert!(total >= MIN_REQUESTS, "only {total} requests");
    assert_eq!(failed, 0, "dropped requests; first: {first:?}");
}
