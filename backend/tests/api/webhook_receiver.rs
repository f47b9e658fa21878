//! A webhook receiver on loopback, as a team would run one: it checks each delivery's
//! HMAC-SHA256 signature with the shared secret (independently of Greenlight's own signing
//! code), records what arrived, and answers with the statuses a test scripts.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub event: String,
    pub delivery: String,
    pub signature_ok: bool,
    pub body: Value,
}

#[derive(Clone)]
struct Inner {
    secret: String,
    answers: Arc<Mutex<VecDeque<u16>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

pub struct Receiver {
    pub url: String,
    inner: Inner,
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Whether `signature` (`sha256=<hex>`) is HMAC-SHA256(secret, "{timestamp}.{body}").
pub fn verify(secret: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex_mac) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_mac) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn receive(State(inner): State<Inner>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let timestamp = header(&headers, "x-greenlight-timestamp");
    let signature = header(&headers, "x-greenlight-signature");
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    let received = Received {
        event: header(&headers, "x-greenlight-event"),
        delivery: header(&headers, "x-greenlight-delivery"),
        signature_ok: fresh && verify(&inner.secret, &timestamp, &body, &signature),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    inner.received.lock().expect("lock").push(received);
    let status = inner
        .answers
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or(200);
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

impl Receiver {
    /// Starts a receiver checking signatures with `secret`; it answers `answers` in turn, then
    /// 200.
    pub async fn start(secret: &str, answers: &[u16]) -> Self {
        let inner = Inner {
            secret: secret.to_owned(),
            answers: Arc::new(Mutex::new(answers.iter().copied().collect())),
            received: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, inner }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().expect("lock").clone()
    }

    /// Waits (up to 30 s) until at least `count` requests arrived; returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {count} deliveries arrived: {received:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
