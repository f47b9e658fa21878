//! The scoring router's cost: latency it adds over calling an instance directly, and its
//! throughput, on one machine. A benchmark, not a test: it asserts nothing about the numbers,
//! but it fails (exit status 1) if any request fails, since errors would make them meaningless.
//!
//! Starts the local workspace in-process, deploys the demo model `regression-v1` as `blue`
//! (1 instance, 100 % of traffic), then times the same request sent
//! (a) through the router, `POST {scoring_url}/endpoints/{endpoint}/score` with the key, and
//! (b) directly to the instance's own server, `POST http://{instance}/score`,
//! with one HTTP client (keep-alive, no proxy) for both.
//!
//! Settings (environment): `BENCH_REQUESTS` sequential requests per path (2000),
//! `BENCH_CONCURRENCY` clients in the throughput phase (8), `BENCH_THROUGHPUT_REQUESTS`
//! requests in the throughput phase, per path (4000).
//!
//! Run with `make bench` (`cargo bench -p backend --bench scoring`).

mod support;

use anyhow::{bail, ensure, Context, Result};
use backend::emulator::Emulator;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{count, examples_dir, Control};

const ENDPOINT: &str = "bench";
const DEPLOYMENT: &str = "blue";
const MODEL: &str = "regression-v1";
/// Requests per path before anything is measured.
const WARMUP: usize = 200;
/// The sequential phase alternates the two paths in blocks of this many requests, so drift
/// (other load on the machine, CPU frequency) falls on both alike. A block takes well under a
/// second, so no idle keep-alive connection times out between a path's blocks.
const BLOCK: usize = 250;

#[derive(Debug)]
struct Settings {
    requests: usize,
    concurrency: usize,
    throughput_requests: usize,
}

impl Settings {
    fn from_env() -> Result<Self> {
        Ok(Self {
            requests: count("BENCH_REQUESTS", 2000)?,
            concurrency: count("BENCH_CONCURRENCY", 8)?,
            throughput_requests: count("BENCH_THROUGHPUT_REQUESTS", 4000)?,
        })
    }
}

/// Where a scoring request goes.
#[derive(Debug, Clone)]
enum Target {
    Router { url: String, key: String },
    Direct { url: String },
}

impl Target {
    fn label(&self) -> &'static str {
        match self {
            Self::Router { .. } => "router",
            Self::Direct { .. } => "direct",
        }
    }

    fn request(&self, http: &reqwest::Client, body: &bytes::Bytes) -> reqwest::RequestBuilder {
        let request = match self {
            Self::Router { url, key } => http.post(url).bearer_auth(key),
            Self::Direct { url } => http.post(url),
        };
        request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
    }
}

/// The request and the answer every request must get.
#[derive(Debug, Clone)]
struct Exchange {
    request: bytes::Bytes,
    answer: bytes::Bytes,
}

/// Sends one request and times it from sending to the last byte of the answer. Any answer
/// other than 200 with the expected body is an error.
async fn score_once(
    http: &reqwest::Client,
    target: &Target,
    exchange: &Exchange,
) -> Result<Duration> {
    let started = Instant::now();
    let response = target
        .request(http, &exchange.request)
        .send()
        .await
        .with_context(|| format!("{} request", target.label()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("{} answer", target.label()))?;
    let elapsed = started.elapsed();
    if status != StatusCode::OK || body != exchange.answer {
        bail!(
            "{} answered {status}: {}",
            target.label(),
            String::from_utf8_lossy(&body)
        );
    }
    Ok(elapsed)
}

/// Latency figures of one phase.
#[derive(Debug)]
struct Stats {
    count: usize,
    p50: Duration,
    p99: Duration,
    mean: Duration,
    per_second: f64,
}

impl Stats {
    fn new(mut latencies: Vec<Duration>, wall: Duration) -> Self {
        latencies.sort_unstable();
        let count = latencies.len();
        let total: Duration = latencies.iter().sum();
        Self {
            count,
            p50: quantile(&latencies, 0.50),
            p99: quantile(&latencies, 0.99),
            mean: total / u32::try_from(count.max(1)).unwrap_or(u32::MAX),
            per_second: count as f64 / wall.as_secs_f64().max(f64::EPSILON),
        }
    }
}

/// Nearest-rank quantile of sorted latencies.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// CPU time of the whole machine and of this benchmark's own processes (this one and the
/// instance), from Linux's `/proc`, in clock ticks.
#[derive(Debug, Clone, Copy)]
struct CpuSample {
    busy: u64,
    total: u64,
    ours: u64,
}

impl CpuSample {
    /// `None` where `/proc` is not Linux's.
    fn take(instance_pid: Option<u32>) -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        // cpu  user nice system idle iowait irq softirq steal (guest time is inside user)
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        let total: u64 = ticks.iter().sum();
        let idle = ticks.get(3)? + ticks.get(4)?;
        let process = |path: &str| -> Option<u64> {
            let text = std::fs::read_to_string(path).ok()?;
            // After the command's ")": state is field 3, utime 14 and stime 15.
            let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        };
        let instance = match instance_pid {
            Some(pid) => process(&format!("/proc/{pid}/stat"))?,
            None => 0,
        };
        Some(Self {
            busy: total.saturating_sub(idle),
            total,
            ours: process("/proc/self/stat")? + instance,
        })
    }

    /// The share of the machine's CPU time since `self` that went to anything but this
    /// benchmark's processes (other programs, other guests' steal, kernel work such as
    /// loopback networking), in percent.
    fn others_since(self, now: Option<Self>) -> Option<f64> {
        let now = now?;
        let total = now.total.checked_sub(self.total).filter(|t| *t > 0)?;
        let others = now
            .busy
            .saturating_sub(self.busy)
            .saturating_sub(now.ours.saturating_sub(self.ours));
        Some(100.0 * others as f64 / total as f64)
    }
}

/// One line saying how much else ran during a phase, when it can be known.
fn print_others(before: Option<CpuSample>, instance_pid: Option<u32>) {
    if let Some(share) = before.and_then(|b| b.others_since(CpuSample::take(instance_pid))) {
        println!(
            "CPU time used by other than this benchmark meanwhile: {share:.0} % of the machine"
        );
    }
}

/// `requests` sequential requests per target, alternating the targets in blocks of [`BLOCK`]
/// (and which goes first). Returns each target's figures, in the order given.
async fn sequential(
    http: &reqwest::Client,
    targets: [&Target; 2],
    exchange: &Exchange,
    requests: usize,
) -> Result<[Stats; 2]> {
    let mut latencies = [Vec::with_capacity(requests), Vec::with_capacity(requests)];
    let mut walls = [Duration::ZERO; 2];
    let mut block = 0;
    while latencies[0].len() < requests {
        let order = if block % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let n = BLOCK.min(requests - latencies[i].len());
            let started = Instant::now();
            for _ in 0..n {
                latencies[i].push(score_once(http, targets[i], exchange).await?);
            }
            walls[i] += started.elapsed();
        }
        block += 1;
    }
    let [a, b] = latencies;
    Ok([Stats::new(a, walls[0]), Stats::new(b, walls[1])])
}

/// What the concurrent phase measured.
#[derive(Debug)]
struct Throughput {
    stats: Stats,
    errors: usize,
    first_error: Option<String>,
}

/// `total` requests to `target` from `clients` concurrent clients, each sending its next
/// request as soon as its previous one is answered. Failures are counted, not fatal.
async fn concurrent(
    http: &reqwest::Client,
    target: &Target,
    exchange: &Exchange,
    clients: usize,
    total: usize,
) -> Result<Throughput> {
    let issued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (http, target, exchange, issued) = (
                http.clone(),
                target.clone(),
                exchange.clone(),
                Arc::clone(&issued),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = Vec::new();
                while issued.fetch_add(1, Ordering::Relaxed) < total {
                    match score_once(&http, &target, &exchange).await {
                        Ok(latency) => latencies.push(latency),
                        Err(err) => errors.push(format!("{err:#}")),
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    let mut errors = Vec::new();
    for task in tasks {
        let (ok, failed) = task.await.context("a client task panicked")?;
        latencies.extend(ok);
        errors.extend(failed);
    }
    let wall = started.elapsed();
    Ok(Throughput {
        // Requests per second counts answered requests only.
        stats: Stats::new(latencies, wall),
        errors: errors.len(),
        first_error: errors.into_iter().next(),
    })
}

/// One endpoint with `blue` at 100 %; returns the endpoint's key.
async fn deploy(control: &Control<'_>, concurrency: usize) -> Result<String> {
    let key = control.endpoint(ENDPOINT).await?;
    control
        .deployment(ENDPOINT, DEPLOYMENT, MODEL, concurrency.div_ceil(2))
        .await?;
    control
        .traffic(ENDPOINT, json!({ (DEPLOYMENT): 100 }))
        .await?;
    Ok(key)
}

/// Warms both paths up: connections opened, code paths hot.
async fn warm_up(
    http: &reqwest::Client,
    targets: [&Target; 2],
    exchange: &Exchange,
    concurrency: usize,
) -> Result<()> {
    for target in targets {
        for _ in 0..WARMUP {
            score_once(http, target, exchange).await?;
        }
        // Opens the connections the concurrent phase uses, on both hops.
        let warm = concurrent(http, target, exchange, concurrency, WARMUP).await?;
        if let Some(error) = warm.first_error {
            bail!("warming up: {error}");
        }
    }
    Ok(())
}

async fn run(emulator: &Emulator, settings: &Settings) -> Result<()> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    let control = Control {
        http: &http,
        base: &emulator.control_url,
    };
    let key = deploy(&control, settings.concurrency).await?;
    let pool = emulator
        .workspace
        .pool(ENDPOINT, DEPLOYMENT)
        .context("the deployment has no instance pool")?;
    let instances = pool.ready_instances();
    ensure!(
        instances.len() == 1,
        "expected 1 ready instance, found {}",
        instances.len()
    );
    let router = Target::Router {
        url: format!("{}/endpoints/{ENDPOINT}/score", emulator.scoring_url),
        key,
    };
    let direct = Target::Direct {
        url: format!("http://{}/score", instances[0].address),
    };

    let examples = examples_dir();
    let request = std::fs::read(examples.join(MODEL).join("sample-request.json"))
        .context("reading the sample request")?;
    // The reference answer comes from the instance itself; the router must pass it unchanged.
    let mut exchange = Exchange {
        request: request.into(),
        answer: bytes::Bytes::new(),
    };
    let reference = direct
        .request(&http, &exchange.request)
        .send()
        .await
        .context("first direct request")?;
    ensure!(
        reference.status() == StatusCode::OK,
        "the instance answered {}",
        reference.status()
    );
    exchange.answer = reference.bytes().await.context("first direct answer")?;
    let predictions: Value =
        serde_json::from_slice(&exchange.answer).context("the answer is not JSON")?;
    ensure!(
        predictions.as_array().is_some_and(|a| a.len() == 2),
        "expected 2 predictions, got {predictions}"
    );

    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!();
    println!("Greenlight scoring benchmark: local workspace, {MODEL}, 1 instance, {cpus} CPUs");
    println!(
        "sequential: {} requests per path after {WARMUP} warm-up, paths alternating in blocks of {BLOCK}",
        settings.requests
    );
    println!("direct = POST http://<instance>/score; router = POST <scoring>/endpoints/{ENDPOINT}/score (key auth, traffic weights)");

    warm_up(&http, [&direct, &router], &exchange, settings.concurrency).await?;
    // Other work on the machine skews every figure; each phase says how much there was.
    let pid = instances[0].pid;
    let before = CpuSample::take(pid);
    let [direct_seq, router_seq] =
        sequential(&http, [&direct, &router], &exchange, settings.requests).await?;

    println!();
    println!(
        "{:<24} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "sequential (1 client)", "p50 µs", "p99 µs", "mean µs", "req/s", "errors"
    );
    for (name, s) in [("direct", &direct_seq), ("router", &router_seq)] {
        println!(
            "{:<24} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>7}",
            name,
            micros(s.p50),
            micros(s.p99),
            micros(s.mean),
            s.per_second,
            0
        );
    }
    println!(
        "{:<24} {:>+9.0} {:>+9.0} {:>+9.0}",
        "router adds",
        micros(router_seq.p50) - micros(direct_seq.p50),
        micros(router_seq.p99) - micros(direct_seq.p99),
        micros(router_seq.mean) - micros(direct_seq.mean),
    );
    print_others(before, pid);

    let before = CpuSample::take(pid);

    let direct_tp = concurrent(
        &http,
        &direct,
        &exchange,
        settings.concurrency,
        settings.throughput_requests,
    )
    .await?;
    let router_tp = concurrent(
        &http,
        &router,
        &exchange,
        settings.concurrency,
        settings.throughput_requests,
    )
    .await?;
    println!();
    println!(
        "{:<24} {:>9} {:>9} {:>9} {:>9} {:>7}",
        format!("concurrent ({} clients)", settings.concurrency),
        "p50 µs",
        "p99 µs",
        "mean µs",
        "req/s",
        "errors"
    );
    for (name, t) in [("direct (reference)", &direct_tp), ("router", &router_tp)] {
        println!(
            "{:<24} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>7}",
            name,
            micros(t.stats.p50),
            micros(t.stats.p99),
            micros(t.stats.mean),
            t.stats.per_second,
            t.errors
        );
    }
    print_others(before, pid);
    println!(
        "{} requests per path. The instance runs one run() at a time (like one Azure worker),",
        settings.throughput_requests
    );
    println!("so with 1 instance, clients beyond 1 mostly queue: this measures queueing, not parallel scoring.");
    println!();

    for (name, t) in [("direct", &direct_tp), ("router", &router_tp)] {
        if let Some(error) = &t.first_error {
            bail!(
                "{} of {} {name} requests failed in the concurrent phase; first: {error}",
                t.errors,
                t.errors + t.stats.count
            );
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let settings = Settings::from_env()?;
    let state = tempfile::tempdir().context("creating a state directory")?;
    let emulator = support::start_emulator(state.path()).await?;
    let outcome = run(&emulator, &settings).await;
    emulator.shutdown().await;
    outcome
}
