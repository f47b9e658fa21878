//! Benchmark, not a test (`make bench`): one `greenlight serve` process and 1,000 Server-Sent
//! Events subscribers, all in this process. Prints the server's memory per subscriber (VmRSS
//! before they connect and once they are connected and idle) and, over 50 events written one
//! after another, the time from each write's response to the last of its 1,000 deliveries
//! (p50 / p99 / max). Fails if an event does not reach every subscriber.

use super::sse::SseParser;
use super::{common, serve, state_dir, user_add, Server};
use reqwest::Client;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

const SUBSCRIBERS: usize = 1_000;
/// Browsers (sessions) the subscribers are spread over, as tabs of a few dozen people.
const SESSIONS: usize = 25;
/// Subscribers connecting at once.
const WAVE: usize = 100;
const EVENTS: usize = 50;
/// How long one event may take to reach every subscriber before the benchmark fails.
const DELIVERY: Duration = Duration::from_secs(10);
const ENDPOINT: &str = "feed-bench";
const PASSWORD: &str = "feed-bench-password-1";

/// How many subscribers each event (by feed id) reached, and when the last of them got it.
#[derive(Default)]
struct Deliveries {
    seen: Mutex<HashMap<i64, (usize, Instant)>>,
    complete: Notify,
    /// Streams that ended (none should).
    ended: AtomicUsize,
}

impl Deliveries {
    fn record(&self, id: i64) {
        let now = Instant::now();
        let mut seen = self.seen.lock().expect("deliveries");
        let (count, last) = seen.entry(id).or_insert((0, now));
        *count += 1;
        *last = now.max(*last);
        if *count == SUBSCRIBERS {
            self.complete.notify_waiters();
        }
    }

    /// The instant event `id` reached its last subscriber, or `None` if it has not reached
    /// them all within [`DELIVERY`] (with how many it reached).
    async fn everywhere(&self, id: i64) -> Result<Instant, usize> {
        let deadline = tokio::time::Instant::now() + DELIVERY;
        loop {
            let complete = self.complete.notified();
            tokio::pin!(complete);
            complete.as_mut().enable();
            let (count, last) = self
                .seen
                .lock()
                .expect("deliveries")
                .get(&id)
                .copied()
                .unwrap_or((0, Instant::now()));
            if count == SUBSCRIBERS {
                return Ok(last);
            }
            if tokio::time::timeout_at(deadline, complete).await.is_err() {
                return Err(count);
            }
        }
    }
}

/// A client signed in as the benchmark's operator, with its CSRF token.
async fn signed_in(base: &str) -> (Client, String) {
    let client = Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let body: Value = client
        .post(format!("{base}/api/v1/session"))
        .header("x-csrf-token", "sign-in")
        .json(&json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("session");
    let csrf = body["csrf_token"].as_str().expect("csrf token").to_owned();
    (client, csrf)
}

/// The operator who writes the events, and where.
struct Writer {
    client: Client,
    csrf: String,
    traffic: String,
    version: Value,
    pool: sqlx::PgPool,
}

impl Writer {
    /// One event: a traffic change asked for (a change request). Returns its feed id (read
    /// back from the table), when the write was sent and when its response came.
    async fn emit(&self) -> (i64, Instant, Instant) {
        let sent = Instant::now();
        let response = self
            .client
            .put(&self.traffic)
            .header("x-csrf-token", &self.csrf)
            .json(
                &json!({ "traffic": {}, "version": self.version, "reason": "live feed benchmark" }),
            )
            .send()
            .await
            .expect("traffic change");
        let answered = Instant::now();
        assert_eq!(response.status().as_u16(), 202);
        let request: Value = response.json().await.expect("change request");
        let id: i64 = sqlx::query_scalar(
            "select id from events where topic = 'change_request' and payload ->> 'id' = $1",
        )
        .bind(request["id"].as_str().expect("id"))
        .fetch_one(&self.pool)
        .await
        .expect("the event's feed id");
        (id, sent, answered)
    }
}

async fn get_json(client: &Client, url: &str) -> Value {
    client
        .get(url)
        .send()
        .await
        .and_then(|response| response.error_for_status())
        .unwrap_or_else(|err| panic!("GET {url}: {err}"))
        .json()
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"))
}

/// Follows the feed until it ends, recording every event; says when it is open.
async fn subscribe(
    client: Client,
    url: String,
    deliveries: Arc<Deliveries>,
    open: mpsc::Sender<()>,
) {
    let mut response = client.get(url).send().await.expect("open the stream");
    assert_eq!(response.status().as_u16(), 200);
    let _ = open.send(()).await;
    let mut parser = SseParser::default();
    while let Ok(Some(chunk)) = response.chunk().await {
        parser.push(&chunk, |event| deliveries.record(event.id));
    }
    deliveries.ended.fetch_add(1, Ordering::Relaxed);
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("process status")
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} for process {pid}"))
}

fn open_files(pid: u32) -> (usize, String) {
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| fds.count())
        .unwrap_or(0);
    let limit = std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3).map(str::to_owned))
        .unwrap_or_default();
    (open, limit)
}

/// The 1-minute load average: how busy the machine was besides (2 cores here).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_owned()
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1)]
}

fn summary(samples: &mut [Duration]) -> String {
    samples.sort();
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        quantile(samples, 0.50).as_secs_f64() * 1e3,
        quantile(samples, 0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: make bench"]
async fn live_feed_to_1000_subscribers() {
    let db = common::fresh_database().await;
    let url = db.url();
    let state = state_dir();
    let state_path = state.path().to_path_buf();
    let server: Server = tokio::task::spawn_blocking(move || {
        let env = [("DATABASE_URL", url.as_str())];
        let added = user_add(&["alice", "--role", "operator"], &env, PASSWORD);
        assert!(added.status.success(), "{added:?}");
        serve(&state_path, &env, &[])
    })
    .await
    .expect("server");
    let pid = server.child.id();
    // 1,000 streams are 1,000 sockets on either side. The server raised its own limit at start
    // (it inherited ours, unraised); this process raises its own now.
    let limit = backend::sys::raise_open_files_limit().expect("raise the open files limit");
    assert!(
        limit as usize > SUBSCRIBERS + 100,
        "open files limit {limit}"
    );
    let load_before = load_average();
    let base = server.url.clone();
    let (writer, csrf) = signed_in(&base).await;

    let (status, operation) = {
        let response = writer
            .post(format!("{base}/api/v1/endpoints"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "name": ENDPOINT }))
            .send()
            .await
            .expect("create the endpoint");
        (response.status().as_u16(), response.json::<Value>().await)
    };
    let operation = operation.expect("operation");
    assert_eq!(status, 202, "{operation}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let operation = format!(
        "{base}/api/v1/operations/{}",
        operation["id"].as_str().expect("id")
    );
    while get_json(&writer, &operation).await["status"] == "running" {
        assert!(Instant::now() < deadline, "the endpoint was not created");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let traffic = format!("{base}/api/v1/endpoints/{ENDPOINT}/traffic");
    let version = get_json(&writer, &traffic).await["version"].clone();

    let writer = Writer {
        client: writer,
        csrf,
        traffic,
        version,
        pool: db.pool.clone(),
    };

    let deliveries = Arc::new(Deliveries::default());
    let (open_tx, mut open_rx) = mpsc::channel(SUBSCRIBERS);
    let mut browsers = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        browsers.push(signed_in(&base).await.0);
    }
    let stream_url = format!("{base}/api/v1/events");
    // Subscriber 0 first: it starts the process's one LISTEN connection; one event passes.
    tokio::spawn(subscribe(
        browsers[0].clone(),
        stream_url.clone(),
        Arc::clone(&deliveries),
        open_tx.clone(),
    ));
    open_rx.recv().await.expect("subscriber 0 opened");
    writer.emit().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = status_kb(pid, "VmRSS:");

    let connecting = Instant::now();
    for wave in (1..SUBSCRIBERS).collect::<Vec<_>>().chunks(WAVE) {
        for &n in wave {
            tokio::spawn(subscribe(
                browsers[n % SESSIONS].clone(),
                stream_url.clone(),
                Arc::clone(&deliveries),
                open_tx.clone(),
            ));
        }
        for _ in wave {
            tokio::time::timeout(Duration::from_secs(60), open_rx.recv())
                .await
                .expect("the streams opened in time")
                .expect("a stream opened");
        }
    }
    let connected = connecting.elapsed();
    // Idle, connected: what they cost the server.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = status_kb(pid, "VmRSS:");
    let (fds, fd_limit) = open_files(pid);

    let mut from_response = Vec::with_capacity(EVENTS);
    let mut from_request = Vec::with_capacity(EVENTS);
    for round in 0..EVENTS {
        let (id, sent, answered) = writer.emit().await;
        let last = deliveries.everywhere(id).await.unwrap_or_else(|reached| {
            panic!("event {round} (id {id}) reached {reached} of {SUBSCRIBERS} subscribers")
        });
        from_response.push(last.saturating_duration_since(answered));
        from_request.push(last.saturating_duration_since(sent));
    }
    assert_eq!(
        deliveries.ended.load(Ordering::Relaxed),
        0,
        "no stream ended"
    );

    let per_subscriber = rss_after.saturating_sub(rss_before) as f64 / (SUBSCRIBERS - 1) as f64;
    println!(
        "live feed: {SUBSCRIBERS} SSE subscribers ({SESSIONS} sessions) on one server, connected in {:.1} s; \
         server open files {fds} (soft limit {fd_limit})",
        connected.as_secs_f64()
    );
    println!(
        "  memory: VmRSS {:.1} MB before, {:.1} MB with them connected and idle: {per_subscriber:.1} KB per subscriber (goal <= 30 KB)",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
    );
    println!(
        "  last delivery over {EVENTS} events, from the write's response: {} (goal p99 <= 100 ms)",
        summary(&mut from_response)
    );
    println!(
        "  last delivery from the write's request: {}",
        summary(&mut from_request)
    );
    println!(
        "  load average {load_before} before, {} after (other programs share the CPUs)",
        load_average()
    );
    drop(server);
}
