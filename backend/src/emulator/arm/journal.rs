//! The local workspace's own record of the writes it accepted: one JSON line per successful
//! PUT, PATCH, DELETE or POST action on an endpoint or deployment, in `writes.jsonl` in its
//! state folder. Like an Azure activity log, it lets a test (or a curious user) check what
//! reached the workspace — e.g. that a rollout resumed after a crash wrote each step once.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where the record is kept; writes are appended under one lock.
#[derive(Debug, Clone)]
pub struct Journal {
    path: Arc<Mutex<PathBuf>>,
}

impl Journal {
    pub fn in_dir(dir: &std::path::Path) -> Self {
        Self {
            path: Arc::new(Mutex::new(dir.join("writes.jsonl"))),
        }
    }

    fn append(&self, method: &Method, path: &str, status: u16) {
        let line = serde_json::json!({
            "at": chrono::Utc::now(),
            "method": method.as_str(),
            "path": path,
            "status": status,
        });
        let Ok(file_path) = self.path.lock() else {
            return;
        };
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&*file_path)
            .and_then(|mut file| writeln!(file, "{line}"));
        if let Err(err) = written {
            tracing::warn!(error = %err, "could not record a write in the local workspace's journal");
        }
    }
}

/// Records each accepted write to an online endpoint or deployment (not reads, not assets).
pub async fn record_writes(
    State(journal): State<Journal>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let is_write = method != Method::GET && method != Method::HEAD;
    let about_endpoints = path.contains("/onlineEndpoints/");
    let is_read_action =
        path.ends_with("/listKeys") || path.ends_with("/getLogs") || path.ends_with("/token");
    if is_write && about_endpoints && !is_read_action && response.status().is_success() {
        journal.append(&method, &path, response.status().as_u16());
    }
    response
}
