//! Three replicas on one database: an event written through any one of them reaches every open
//! event stream of every replica, with the same id everywhere.

use super::cluster::{add_users, fake_az, replica, Api, TOKEN};
use super::sse::{SseEvent, SseParser};
use super::{common, local_workspace_process, state_dir, Server};
use reqwest::Method;
use serde_json::json;
use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const REPLICAS: usize = 3;
const STREAMS_PER_REPLICA: usize = 2;
/// How long an event may take to reach every stream.
const DELIVERY: Duration = Duration::from_secs(10);
const ENDPOINT: &str = "feed-replicas";

/// An open `/api/v1/events` of a signed-in browser: its events, as they come, from a thread of
/// its own.
struct Stream {
    name: String,
    events: mpsc::Receiver<SseEvent>,
}

impl Stream {
    fn open(name: String, browser: Api) -> Self {
        let mut response = browser
            .client
            .get(format!("{}/api/v1/events", browser.url))
            .timeout(Duration::from_secs(600))
            .send()
            .expect("open the event stream");
        assert_eq!(response.status().as_u16(), 200, "{name}");
        let (sender, events) = mpsc::channel();
        std::thread::spawn(move || {
            let _browser = browser;
            let mut parser = SseParser::default();
            let mut buffer = [0_u8; 4096];
            let mut listening = true;
            while listening {
                match response.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => parser.push(&buffer[..n], |event| {
                        listening &= sender.send(event).is_ok();
                    }),
                }
            }
        });
        Self { name, events }
    }
}

/// Waits until every stream has delivered the `name` event about `id`; returns its feed id,
/// which must be one and the same on every stream.
fn delivered_everywhere(streams: &[Stream], name: &str, id: &str) -> i64 {
    let deadline = Instant::now() + DELIVERY;
    let ids: Vec<i64> = streams
        .iter()
        .map(|stream| loop {
            let event = stream
                .events
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| {
                    panic!("{} did not get the {name} event about {id}", stream.name)
                });
            if event.is(name, id) {
                break event.id;
            }
        })
        .collect();
    assert!(
        ids.iter().all(|&each| each == ids[0]),
        "one feed id on every stream: {ids:?}"
    );
    ids[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_written_through_any_replica_reaches_the_streams_of_every_replica() {
    let db = common::fresh_database().await;
    let url = db.url();
    tokio::task::spawn_blocking(move || {
        let workspace_state = state_dir();
        let (_workspace, arm_url) = local_workspace_process(workspace_state.path(), TOKEN);
        let tools = tempfile::tempdir().expect("tools");
        let path = fake_az(tools.path());
        add_users(&url, &[("alice", "operator"), ("vera", "viewer")]);
        let states: Vec<_> = (0..REPLICAS).map(|_| state_dir()).collect();
        let (url, path, arm_url) = (&url, &path, &arm_url);
        let replicas: Vec<Server> = std::thread::scope(|scope| {
            let starting: Vec<_> = states
                .iter()
                .map(|state| scope.spawn(move || replica(state.path(), url, path, arm_url)))
                .collect();
            starting
                .into_iter()
                .map(|start| start.join().expect("a replica started"))
                .collect()
        });
        // Each stream is a browser of its own: signed in, following the feed with its cookie.
        let streams: Vec<Stream> = replicas
            .iter()
            .enumerate()
            .flat_map(|(r, server)| {
                (0..STREAMS_PER_REPLICA).map(move |s| {
                    Stream::open(
                        format!("stream {s} of replica {r}"),
                        Api::sign_in(&server.url, "vera"),
                    )
                })
            })
            .collect();
        let writers: Vec<Api> = replicas
            .iter()
            .map(|server| Api::sign_in(&server.url, "alice"))
            .collect();

        // Through replica 0: an operation starts (its first event, written as it starts).
        let (status, operation) = writers[0].send(
            Method::POST,
            "/api/v1/endpoints",
            json!({ "name": ENDPOINT }),
        );
        assert_eq!(status, 202, "{operation}");
        let operation = operation["id"].as_str().expect("operation id");
        let mut last = delivered_everywhere(&streams, "operation", operation);
        assert_eq!(writers[0].finish(operation)["status"], "succeeded");

        // Through replicas 1 and 2 in turn: a traffic change is asked for.
        let traffic = format!("/api/v1/endpoints/{ENDPOINT}/traffic");
        for writer in &writers[1..] {
            let version = writer.get(&traffic)["version"].clone();
            let (status, request) = writer.send(
                Method::PUT,
                &traffic,
                json!({ "traffic": {}, "version": version, "reason": "the feed reaches every replica" }),
            );
            assert_eq!(status, 202, "{request}");
            let request = request["id"].as_str().expect("change request id");
            let id = delivered_everywhere(&streams, "change_request", request);
            assert!(id > last, "a newer event: {id} after {last}");
            last = id;
        }
        drop(streams);
        drop(replicas);
    })
    .await
    .expect("replicas");
}
