//! Benchmark, not a test (`make bench`): the audit review over 1,000,000 events
//! (`AUDIT_BENCH_EVENTS` to change it). Prints, for each kind of filter, the p50 / p99 time of
//! a page (50 events) as the client sees it on loopback — an upper bound of the server's time;
//! the time of the first chain verification (all events, from scratch) and of the next one
//! (only the events added since); and the process's peak resident memory above its level
//! before an export of every event, as JSON lines and as CSV. Asserts only that the answers are
//! right.
//!
//! The events are a valid chain: their hashes are computed with the app's own
//! [`audit::row_hash`] and written in batches of 10,000 with one `insert … select unnest(…)`
//! each (`audit::record` takes the chain's lock and a transaction per event: hours for a
//! million). Every hash is real, so the chain verification measured reads and hashes them all.

use crate::helpers::{spawn_app, Client};
use backend::audit::{self, AuditEvent, RowContent, GENESIS};
use chrono::{DateTime, Duration as Span, SubsecRound, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::audit::AuditAction;
use shared::Role;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use uuid::Uuid;

const BATCH: usize = 10_000;
const ROUNDS: usize = 100;

fn events() -> usize {
    std::env::var("AUDIT_BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}

/// Event `i` of the generated log: every action in turn, 50 actors, 200 endpoints, a rollout
/// every 10th event (10 events a rollout), a change request every 10th, before/after every 3rd.
fn generated(i: usize) -> (String, AuditAction, String, Value) {
    let action = AuditAction::ALL[i % AuditAction::ALL.len()];
    let actor = if i % 7 == 0 {
        "system".to_owned()
    } else {
        format!("user-{}", i % 50)
    };
    let endpoint = format!("endpoint-{}", i % 200);
    let target = match action.as_str().split('.').next() {
        Some("session" | "user") => actor.clone(),
        Some("deployment") => format!("{endpoint}/green"),
        _ => endpoint,
    };
    let mut details = json!({});
    if i % 10 == 0 {
        details["rollout_id"] = json!(rollout(i));
        details["reason"] = json!(format!("ticket OPS-{i}"));
    }
    if i % 10 == 5 {
        details["change_request_id"] = json!(change_request(i));
    }
    if i % 3 == 0 {
        let green = (i % 11) * 10;
        details["before"] = json!({ "traffic": { "blue": 100, "green": 0 } });
        details["after"] = json!({ "traffic": { "blue": 100 - green, "green": green } });
    }
    (actor, action, target, details)
}

fn rollout(i: usize) -> Uuid {
    Uuid::from_u128(1 + (i / 100) as u128)
}

fn change_request(i: usize) -> Uuid {
    Uuid::from_u128((1 << 64) + (i / 100) as u128)
}

/// Writes `count` chained events, one a second up to now; returns the first event's time.
async fn load(pool: &PgPool, count: usize) -> DateTime<Utc> {
    let start = Utc::now().trunc_subsecs(0) - Span::seconds(count as i64);
    let mut prev = GENESIS.to_vec();
    for first in (0..count).step_by(BATCH) {
        let rows = first..(first + BATCH).min(count);
        let mut columns = Columns::default();
        for i in rows {
            let (actor, action, target, details) = generated(i);
            let id = i as i64 + 1;
            let at = start + Span::seconds(i as i64);
            let hash = audit::row_hash(
                &prev,
                &RowContent {
                    id,
                    at,
                    actor: &actor,
                    action: action.as_str(),
                    target: &target,
                    details: &details,
                },
            )
            .to_vec();
            columns.ids.push(id);
            columns.ats.push(at);
            columns.actors.push(actor);
            columns.actions.push(action.as_str().to_owned());
            columns.targets.push(target);
            columns.details.push(details);
            columns
                .prev
                .push(std::mem::replace(&mut prev, hash.clone()));
            columns.hashes.push(hash);
        }
        sqlx::query(
            "insert into audit_events (id, at, actor, action, target, details, prev_hash, hash)
             overriding system value
             select * from unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[],
                                  $5::text[], $6::jsonb[], $7::bytea[], $8::bytea[])",
        )
        .bind(columns.ids)
        .bind(columns.ats)
        .bind(columns.actors)
        .bind(columns.actions)
        .bind(columns.targets)
        .bind(columns.details)
        .bind(columns.prev)
        .bind(columns.hashes)
        .execute(pool)
        .await
        .expect("insert a batch");
    }
    sqlx::query(
        "select setval(pg_get_serial_sequence('audit_events', 'id'), max(id)) from audit_events",
    )
    .execute(pool)
    .await
    .expect("move the id sequence on");
    sqlx::query("analyze audit_events")
        .execute(pool)
        .await
        .expect("analyze");
    start
}

#[derive(Default)]
struct Columns {
    ids: Vec<i64>,
    ats: Vec<DateTime<Utc>>,
    actors: Vec<String>,
    actions: Vec<String>,
    targets: Vec<String>,
    details: Vec<Value>,
    prev: Vec<Vec<u8>>,
    hashes: Vec<Vec<u8>>,
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1)]
}

/// p50 and p99 of `ROUNDS` requests for `query`, after a few to warm up.
async fn time_page(client: &Client, query: &str) -> (Duration, Duration, usize) {
    let path = format!("/api/v1/audit?{query}");
    let mut samples = Vec::with_capacity(ROUNDS);
    let mut found = 0;
    for round in 0..ROUNDS + 5 {
        let started = Instant::now();
        let (status, page) = client.get(&path).await;
        let took = started.elapsed();
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        found = page["items"].as_array().expect("items").len();
        if round >= 5 {
            samples.push(took);
        }
    }
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99), found)
}

/// Resident memory of this process (server and client both), in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches(" kB").parse().ok())
        })
        .unwrap_or(0)
}

/// Reads a whole export chunk by chunk; returns its bytes, its time and the peak RSS above the
/// level before it.
async fn time_export(client: &Client, format: &str) -> (u64, Duration, u64) {
    let baseline = rss_kib();
    let sampling = tokio_util::sync::CancellationToken::new();
    let sampler = tokio::spawn({
        let stop = sampling.clone();
        async move {
            let mut peak = 0;
            while !stop.is_cancelled() {
                peak = peak.max(rss_kib());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            peak
        }
    });
    let started = Instant::now();
    let mut response = client
        .http
        .get(format!(
            "{}/api/v1/audit/export?format={format}",
            client.base
        ))
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    let mut bytes = 0u64;
    while let Some(chunk) = response.chunk().await.expect("a chunk") {
        bytes += chunk.len() as u64;
    }
    let took = started.elapsed();
    sampling.cancel();
    let peak = sampler.await.expect("sampler");
    (bytes, took, peak.saturating_sub(baseline))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: make bench"]
async fn audit_review_benchmark() {
    let count = events();
    let app = spawn_app().await;
    let started = Instant::now();
    let start = load(&app.db.pool, count).await;
    println!(
        "generated {count} chained events in {:?}",
        started.elapsed()
    );
    let viewer = app.signed_in("bench-viewer", Role::Viewer).await;

    let middle = start + Span::seconds(count as i64 / 2);
    let window = format!(
        "from={}&to={}",
        middle.format("%Y-%m-%dT%H:%M:%SZ"),
        (middle + Span::hours(1)).format("%Y-%m-%dT%H:%M:%SZ")
    );
    let deep = format!("action=traffic.change&after={}", count / 2);
    let queries = [
        "limit=50".to_owned(),
        "action=traffic.change".to_owned(),
        "actor=user-7".to_owned(),
        "endpoint=endpoint-42".to_owned(),
        format!("rollout={}", rollout(count / 2)),
        format!("change_request={}", change_request(count / 2)),
        window,
        // A rare word: one event's reason.
        format!("q=OPS-{}", count / 20 * 10 + 10),
        "q=green".to_owned(),
        "actor=user-7&action=traffic.change&endpoint=endpoint-7".to_owned(),
        deep,
    ];
    println!("| filter | p50 | p99 | events on the page |");
    for query in &queries {
        let (p50, p99, found) = time_page(&viewer, query).await;
        assert!(found > 0, "{query} finds events");
        println!("| `{query}` | {p50:.1?} | {p99:.1?} | {found} |");
    }

    let started = Instant::now();
    let state = viewer.get("/api/v1/audit/chain").await.1;
    println!(
        "chain state, first look (every event verified): {:?} -> {state}",
        started.elapsed()
    );
    assert!(state["broken"].is_null(), "{state}");
    for n in 0..100 {
        let mut tx = app.db.pool.begin().await.expect("begin");
        audit::record(
            &mut tx,
            &AuditEvent {
                actor: "bench".into(),
                action: AuditAction::SignOut,
                target: "bench".into(),
                details: json!({ "n": n }),
            },
        )
        .await
        .expect("record");
        tx.commit().await.expect("commit");
    }
    let started = Instant::now();
    let state = viewer.get("/api/v1/audit/chain").await.1;
    println!(
        "chain state, next look (100 new events): {:?} -> verified_events {}",
        started.elapsed(),
        state["verified_events"]
    );
    assert_eq!(state["verified_events"], count as u64 + 102);

    for format in ["jsonl", "csv"] {
        let (bytes, took, peak) = time_export(&viewer, format).await;
        println!(
            "export {format}: {} MB in {took:.1?}; peak RSS above the level before it: {} MB",
            bytes / 1_000_000,
            peak / 1024
        );
    }
}
