//! A deployment's instances: scaling, supervision and picking an instance for each request.

use super::logs::LogBuffer;
use super::process::{self, Group, InstanceSpec, Probe, StartError, Started};
use super::upstream::Upstream;
use crate::emulator::locks::{lock, read, write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::process::Child;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// Longest wait between restarts of a crashing instance.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// How long a stopping instance gets to finish after SIGTERM before it is killed.
const TERMINATE_GRACE: Duration = Duration::from_secs(10);

/// Where a deployment's instances stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolStatus {
    /// Fewer instances serve than wanted (starting, scaling, or replacing a crashed one).
    Converging { ready: usize, wanted: usize },
    /// Exactly the wanted number of instances serve.
    Settled { instances: usize },
    /// The deployment could not start; the reason is the scoring script's error when it has one.
    Failed(String),
}

/// A serving instance as others may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    pub name: String,
    pub pid: Option<u32>,
    /// Where the instance's harness listens (loopback).
    pub address: std::net::SocketAddr,
}

/// A model's answer (the scoring router times and counts requests itself).
#[derive(Debug)]
pub struct ScoreReply {
    pub body: bytes::Bytes,
}

/// Why a request got no answer from the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    #[error("no instance of this deployment is ready")]
    NoInstance,
    #[error("the instance did not answer within the request timeout")]
    Timeout,
    #[error("too many requests are pending for this deployment")]
    Overloaded,
    /// The scoring script's `run()` raised.
    #[error("the model failed: {0}")]
    ModelError(String),
    #[error("the instance is unavailable: {0}")]
    Unavailable(String),
}

/// A serving instance.
#[derive(Debug)]
struct ReadyInstance {
    name: String,
    pid: Option<u32>,
    address: std::net::SocketAddr,
    /// Keep-alive connections to the instance's `/score`.
    upstream: Upstream,
    in_flight: AtomicUsize,
}

#[derive(Debug)]
struct Slot {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Inner {
    deployment: String,
    spec: InstanceSpec,
    ready: RwLock<Vec<Arc<ReadyInstance>>>,
    slots: Mutex<Vec<Slot>>,
    logs: Arc<LogBuffer>,
    failure: Mutex<Option<String>>,
    ever_ready: AtomicBool,
    next_instance: AtomicU64,
    changed: Notify,
    http: reqwest::Client,
}

/// The instances of one deployment. Cheap to clone; all clones share the instances.
#[derive(Debug, Clone)]
pub struct DeploymentPool {
    inner: Arc<Inner>,
}

impl DeploymentPool {
    pub fn new(deployment: &str, spec: InstanceSpec, http: reqwest::Client) -> Self {
        Self {
            inner: Arc::new(Inner {
                deployment: deployment.to_owned(),
                spec,
                ready: RwLock::new(Vec::new()),
                slots: Mutex::new(Vec::new()),
                logs: Arc::new(LogBuffer::default()),
                failure: Mutex::new(None),
                ever_ready: AtomicBool::new(false),
                next_instance: AtomicU64::new(0),
                changed: Notify::new(),
                http,
            }),
        }
    }

    /// Starts or stops instances until `count` run. New instances join the pool once ready;
    /// stopped ones leave it first and finish their in-flight requests before they exit.
    pub fn scale(&self, count: usize) {
        let mut slots = lock(&self.inner.slots);
        while slots.len() < count {
            let n = self.inner.next_instance.fetch_add(1, Ordering::Relaxed);
            let name = format!("{}-{n}", self.inner.deployment);
            let (stop, stop_rx) = watch::channel(false);
            let task = tokio::spawn(supervise(Arc::clone(&self.inner), name, stop_rx));
            slots.push(Slot { stop, task });
        }
        while slots.len() > count {
            if let Some(slot) = slots.pop() {
                let _ = slot.stop.send(true);
            }
        }
        drop(slots);
        self.inner.changed.notify_waiters();
    }

    pub fn status(&self) -> PoolStatus {
        if let Some(reason) = lock(&self.inner.failure).clone() {
            return PoolStatus::Failed(reason);
        }
        let wanted = lock(&self.inner.slots).len();
        let ready = read(&self.inner.ready).len();
        if ready == wanted {
            PoolStatus::Settled { instances: ready }
        } else {
            PoolStatus::Converging { ready, wanted }
        }
    }

    /// Waits until the pool settles or fails, or `limit` passes; returns the status then.
    pub async fn wait_settled(&self, limit: Duration) -> PoolStatus {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.inner.changed.notified();
            let status = self.status();
            if !matches!(status, PoolStatus::Converging { .. }) || Instant::now() >= deadline {
                return status;
            }
            let _ = tokio::time::timeout(
                deadline
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(200)),
                notified,
            )
            .await;
        }
    }

    pub fn logs(&self) -> &LogBuffer {
        &self.inner.logs
    }

    /// The serving instances (for diagnostics, tests and benchmarks).
    pub fn ready_instances(&self) -> Vec<InstanceInfo> {
        read(&self.inner.ready)
            .iter()
            .map(|r| InstanceInfo {
                name: r.name.clone(),
                pid: r.pid,
                address: r.address,
            })
            .collect()
    }

    /// Sends `body` to the least busy ready instance.
    ///
    /// Like Azure, refuses with [`ScoreError::Overloaded`] when more than
    /// 2 × `maxConcurrentRequestsPerInstance` × instances requests are already pending.
    pub async fn score(&self, body: bytes::Bytes) -> Result<ScoreReply, ScoreError> {
        let instance = {
            let ready = read(&self.inner.ready);
            let capacity = 2 * self.inner.spec.max_concurrent_per_instance.max(1) * ready.len();
            let pending: usize = ready
                .iter()
                .map(|r| r.in_flight.load(Ordering::Relaxed))
                .sum();
            if !ready.is_empty() && pending >= capacity {
                return Err(ScoreError::Overloaded);
            }
            let instance = ready
                .iter()
                .min_by_key(|r| r.in_flight.load(Ordering::Relaxed))
                .cloned()
                .ok_or(ScoreError::NoInstance)?;
            // Counted before the ready list is let go: an instance leaving the pool (under the
            // write lock) then drains this request too.
            instance.in_flight.fetch_add(1, Ordering::AcqRel);
            instance
        };
        let _done = InFlight(&instance);
        let answer = tokio::time::timeout(
            self.inner.spec.request_timeout,
            instance.upstream.score(body),
        )
        .await
        .map_err(|_| ScoreError::Timeout)?
        .map_err(|reason| {
            // The caller sees only a 502; the reason (our own words, no request data) is here.
            tracing::warn!(instance = %instance.name, %reason, "the instance did not answer");
            ScoreError::Unavailable(reason)
        })?;
        if answer.status.is_success() {
            return Ok(ScoreReply { body: answer.body });
        }
        if answer.model_error {
            let reason = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "the scoring script raised".to_owned());
            return Err(ScoreError::ModelError(reason));
        }
        Err(ScoreError::Unavailable(format!(
            "the instance answered {}",
            answer.status
        )))
    }

    /// Stops every instance, draining in-flight requests, and waits until all have exited.
    pub async fn shutdown(&self) {
        let slots: Vec<Slot> = lock(&self.inner.slots).drain(..).collect();
        for slot in &slots {
            let _ = slot.stop.send(true);
        }
        for slot in slots {
            let _ = slot.task.await;
        }
        self.inner.changed.notify_waiters();
    }
}

/// Counts a request against an instance until dropped.
struct InFlight<'a>(&'a ReadyInstance);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How a serving instance stopped serving.
enum Ended {
    Stopped,
    Exited(String),
    NotLive,
}

/// Keeps one instance slot running until told to stop: start, probe, serve, restart on crash.
async fn supervise(inner: Arc<Inner>, name: String, mut stop: watch::Receiver<bool>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        if *stop.borrow() {
            return;
        }
        let started = tokio::select! {
            started = process::start(&inner.spec, &name, &inner.logs) => started,
            _ = stop.changed() => return,
        };
        let Started {
            mut child,
            address,
            group,
        } = match started {
            Ok(started) => started,
            Err(err) => {
                let reason = match err {
                    StartError::InitFailed(reason) | StartError::Other(reason) => reason,
                };
                if !inner.ever_ready.load(Ordering::Acquire) {
                    // Never served: the deployment fails, as Azure's provisioning does.
                    *lock(&inner.failure) = Some(reason);
                    inner.changed.notify_waiters();
                    return;
                }
                inner
                    .logs
                    .push(format!("[{name}] restart failed: {reason}"));
                if wait_or_stop(&mut stop, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        if !probe_until_ok(&inner.http, address, "ready", &inner.spec.readiness).await {
            let _ = child.kill().await;
            *lock(&inner.failure) = Some("the instance never passed its readiness probe".into());
            inner.changed.notify_waiters();
            return;
        }
        let instance = Arc::new(ReadyInstance {
            name: name.clone(),
            pid: child.id(),
            address,
            upstream: Upstream::new(address),
            in_flight: AtomicUsize::new(0),
        });
        write(&inner.ready).push(Arc::clone(&instance));
        inner.ever_ready.store(true, Ordering::Release);
        inner.changed.notify_waiters();
        backoff = FIRST_BACKOFF;

        let ended = tokio::select! {
            status = child.wait() => Ended::Exited(status.map_or_else(|e| e.to_string(), |s| s.to_string())),
            () = watch_liveness(&inner.http, address, &inner.spec.liveness) => Ended::NotLive,
            _ = stop.changed() => Ended::Stopped,
        };
        write(&inner.ready).retain(|r| !Arc::ptr_eq(r, &instance));
        inner.changed.notify_waiters();
        match ended {
            Ended::Stopped => {
                drain(&instance, inner.spec.request_timeout).await;
                terminate(&mut child, &group).await;
                return;
            }
            Ended::Exited(status) => {
                inner
                    .logs
                    .push(format!("[{name}] exited ({status}); restarting"));
            }
            Ended::NotLive => {
                inner
                    .logs
                    .push(format!("[{name}] failed its liveness probe; restarting"));
                let _ = child.kill().await;
            }
        }
        // Whatever the instance started dies with it, before a replacement starts.
        drop(group);
        if wait_or_stop(&mut stop, backoff).await {
            return;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Sleeps for `delay`; true when a stop arrived meanwhile.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// Probes `/health/{kind}` every period until it answers 200 or fails `failure_threshold`
/// times in a row. The harness announces readiness itself, so the first probe runs at once;
/// the initial delay only widens the start-up budget (see `Probe::budget`).
async fn probe_until_ok(
    http: &reqwest::Client,
    address: std::net::SocketAddr,
    kind: &str,
    probe: &Probe,
) -> bool {
    for attempt in 0..probe.failure_threshold.max(1) {
        if probe_once(http, address, kind, probe.timeout).await {
            return true;
        }
        if attempt + 1 < probe.failure_threshold {
            tokio::time::sleep(probe.period).await;
        }
    }
    false
}

/// Resolves when the liveness probe has failed `failure_threshold` times in a row.
async fn watch_liveness(http: &reqwest::Client, address: std::net::SocketAddr, probe: &Probe) {
    let mut failures = 0;
    loop {
        tokio::time::sleep(probe.period).await;
        if probe_once(http, address, "live", probe.timeout).await {
            failures = 0;
        } else {
            failures += 1;
            if failures >= probe.failure_threshold.max(1) {
                return;
            }
        }
    }
}

async fn probe_once(
    http: &reqwest::Client,
    address: std::net::SocketAddr,
    kind: &str,
    timeout: Duration,
) -> bool {
    http.get(format!("http://{address}/health/{kind}"))
        .timeout(timeout)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// Waits until the instance's in-flight requests are done (at most `limit`).
async fn drain(instance: &ReadyInstance, limit: Duration) {
    let deadline = Instant::now() + limit;
    while instance.in_flight.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// SIGTERM to the instance's whole process group, a grace period for the harness, then SIGKILL
/// (the group's last processes get theirs when `group` is dropped).
async fn terminate(child: &mut Child, group: &Group) {
    group.signal(libc::SIGTERM);
    if tokio::time::timeout(TERMINATE_GRACE, child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
    group.signal(libc::SIGKILL);
}
