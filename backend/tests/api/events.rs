//! `/api/v1/events`: operations pushed as Server-Sent Events, resumable with `Last-Event-ID`.

use crate::helpers::{spawn_app_with_workspace, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::Role;
use std::time::Duration;

/// One parsed SSE event.
#[derive(Debug)]
struct SseEvent {
    id: i64,
    name: String,
    data: Value,
}

/// Reads events from an open stream until `done` says stop (bounded by a deadline).
async fn read_until(
    response: &mut reqwest::Response,
    mut done: impl FnMut(&SseEvent) -> bool,
) -> Vec<SseEvent> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut id, mut name, mut data) = (None, String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if let Some(id) = id {
                let event = SseEvent {
                    id,
                    name,
                    data: serde_json::from_str(&data).expect("event data is JSON"),
                };
                let stop = done(&event);
                events.push(event);
                if stop {
                    return events;
                }
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("events arrive in time")
            .expect("stream readable")
            .expect("stream still open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn open(client: &Client, last_event_id: Option<i64>) -> reqwest::Response {
    let mut request = client.http.get(format!("{}/api/v1/events", client.base));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let response = request.send().await.expect("open the stream");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream")));
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_stream_to_other_browsers_and_resume_after_a_reconnect() {
    let (app, workspace) = spawn_app_with_workspace().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    let watcher = app.signed_in("vera", Role::Viewer).await;
    let (status, _) = app.client().get("/api/v1/events").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let mut stream = open(&watcher, None).await;
    let (status, started) = operator
        .send(
            Method::POST,
            "/api/v1/endpoints",
            Some(json!({ "name": "streamed" })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["id"].clone();
    let seen = read_until(&mut stream, |e| {
        e.data["id"] == id && e.data["status"] == "succeeded"
    })
    .await;
    assert!(seen.iter().all(|e| e.name == "operation"));
    assert_eq!(seen[0].data["status"], "running", "{:?}", seen[0]);
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id), "ids ascend");
    let progress = seen
        .last()
        .and_then(|e| e.data["progress"].as_array())
        .map(Vec::len)
        .unwrap_or(0);
    assert!(progress > 0, "steps were reported");
    drop(stream);

    // Reconnecting with the id of the first event replays everything after it.
    let first = seen[0].id;
    let mut resumed = open(&watcher, Some(first)).await;
    let replayed = read_until(&mut resumed, |e| {
        e.data["id"] == id && e.data["status"] == "succeeded"
    })
    .await;
    assert_eq!(
        replayed.iter().map(|e| e.id).collect::<Vec<_>>(),
        seen[1..].iter().map(|e| e.id).collect::<Vec<_>>()
    );
    workspace.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_with_its_session_and_sends_nothing_after_sign_out() {
    let (app, _workspace) = spawn_app_with_workspace().await;
    let operator = app.signed_in("olga", Role::Operator).await;
    let watcher = app.signed_in("vera", Role::Viewer).await;
    let mut stream = open(&watcher, None).await;
    let (status, _) = watcher.send(Method::DELETE, "/api/v1/session", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A change after the sign-out: its events must not reach the signed-out browser.
    operator
        .run(
            Method::POST,
            "/api/v1/endpoints",
            Some(json!({ "name": "after-sign-out", "auth_mode": "key" })),
        )
        .await;
    let mut received = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(chunk) = stream.chunk().await.expect("stream readable") {
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ends once its session is gone");
    assert!(
        !received.lines().any(|line| line.starts_with("id:")),
        "no event after sign-out: {received}"
    );
}
