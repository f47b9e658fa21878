//! Following a long-running ARM operation to its end: the `Azure-AsyncOperation` status
//! document when the answer names one, else the `Location` result URL.

use super::error::WorkspaceError;
use super::observer::{self, OperationUrl};
use super::retry::retry_after;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use shared::arm::{OperationState, OperationStatus};
use std::time::{Duration, Instant};

/// Wait between polls when the server does not say (ARM's own default is 30 s; the local
/// workspace asks for 1 s).
const DEFAULT_POLL: Duration = Duration::from_secs(5);
/// Bounds on the server's `Retry-After`, so a poll neither spins nor stalls.
const MIN_POLL: Duration = Duration::from_millis(100);
const MAX_POLL: Duration = Duration::from_secs(60);

/// Where to poll, taken from a write's answer; `None` when the write finished at once.
pub fn poll_target(headers: &HeaderMap) -> Option<PollTarget> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let first_wait = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    if let Some(url) = header("azure-asyncoperation") {
        return Some(PollTarget::Status { url, first_wait });
    }
    header("location").map(|url| PollTarget::Result { url, first_wait })
}

/// The workspace's id for the operation a write started: the last segment of its
/// `Azure-AsyncOperation` (or `Location`) URL, else the request id ARM stamps on every answer.
pub fn operation_id(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let last_segment = |url: &str| {
        let path = url.split('?').next().unwrap_or(url);
        path.rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    header("azure-asyncoperation")
        .or_else(|| header("location"))
        .and_then(last_segment)
        .or_else(|| header("x-ms-request-id").map(str::to_owned))
}

#[derive(Debug, Clone)]
pub enum PollTarget {
    Status {
        url: String,
        first_wait: Option<Duration>,
    },
    Result {
        url: String,
        first_wait: Option<Duration>,
    },
}

impl PollTarget {
    /// Where it is polled, as a successor process can store and follow it.
    pub fn operation_url(&self) -> OperationUrl {
        match self {
            Self::Status { url, .. } => OperationUrl {
                url: url.clone(),
                status_document: true,
            },
            Self::Result { url, .. } => OperationUrl {
                url: url.clone(),
                status_document: false,
            },
        }
    }
}

/// Where a stored operation is polled: at once (after the shortest wait), as it may have ended
/// long ago.
pub(super) fn stored_target(operation: &OperationUrl) -> PollTarget {
    let url = operation.url.clone();
    if operation.status_document {
        PollTarget::Status {
            url,
            first_wait: Some(Duration::ZERO),
        }
    } else {
        PollTarget::Result {
            url,
            first_wait: Some(Duration::ZERO),
        }
    }
}

fn clamp(wait: Option<Duration>) -> Duration {
    wait.unwrap_or(DEFAULT_POLL).clamp(MIN_POLL, MAX_POLL)
}

/// Polls `target` with `get` until the operation ends, or `limit` passes.
pub async fn follow<F, Fut>(
    target: PollTarget,
    limit: Duration,
    get: F,
) -> Result<(), WorkspaceError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<reqwest::Response, WorkspaceError>>,
{
    let deadline = Instant::now() + limit;
    let (url, mut wait, by_status) = match target {
        PollTarget::Status { url, first_wait } => (url, clamp(first_wait), true),
        PollTarget::Result { url, first_wait } => (url, clamp(first_wait), false),
    };
    let mut last_reported: Option<OperationState> = None;
    loop {
        if Instant::now() + wait > deadline {
            return Err(WorkspaceError::Timeout(limit));
        }
        tokio::time::sleep(wait).await;
        let response = get(url.clone()).await?;
        let status = response.status();
        let next_wait = retry_after(&response);
        if by_status {
            if !status.is_success() {
                return Err(WorkspaceError::from_response(response).await);
            }
            let document: OperationStatus = response
                .json()
                .await
                .map_err(|e| WorkspaceError::Unexpected(format!("operation status: {e}")))?;
            if last_reported.as_ref() != Some(&document.status) {
                observer::progress(&format!("the operation is {}", document.status));
                last_reported = Some(document.status.clone());
            }
            match document.status {
                OperationState::Succeeded => return Ok(()),
                OperationState::Failed | OperationState::Canceled => {
                    let error = document.error.unwrap_or_default();
                    return Err(WorkspaceError::OperationFailed {
                        code: error.code,
                        message: error.message,
                    });
                }
                _ => {}
            }
        } else if status != StatusCode::ACCEPTED {
            if status.is_success() {
                return Ok(());
            }
            // The result URL answers with the operation's error, in ARM's error shape.
            return Err(match WorkspaceError::from_response(response).await {
                WorkspaceError::Arm { code, message, .. } => {
                    WorkspaceError::OperationFailed { code, message }
                }
                other => other,
            });
        }
        wait = clamp(next_wait);
    }
}
