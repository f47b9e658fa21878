//! Who is watching a workspace call: the operation runner wants the workspace's operation id and
//! a line of progress at each step, without every client method taking a callback.
//!
//! The runner wraps its call in [`observed`]; the client reports through [`accepted`] and
//! [`progress`] (and [`following`], the polling URL another process can resume from), which do
//! nothing outside such a scope (tests and reads stay untouched).

use std::future::Future;
use std::sync::Arc;

/// Receives what a long-running workspace call is doing. Called from inside the client, so it
/// must be quick: queue the news, don't write it to a database in place.
pub trait OperationObserver: Send + Sync {
    /// The workspace accepted a write; `arm_operation_id` names its long-running operation.
    fn accepted(&self, arm_operation_id: Option<&str>);
    /// A step, in words for the person waiting.
    fn progress(&self, message: &str);
    /// The write's long-running operation is polled at `operation`: stored, it lets another
    /// process follow it to the end should this one die.
    fn following(&self, _operation: &OperationUrl) {}
}

/// A long-running operation's polling URL: its `Azure-AsyncOperation` status document
/// (`status_document`) or its `Location` result. Enough to follow it from another process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationUrl {
    pub url: String,
    pub status_document: bool,
}

impl OperationUrl {
    /// `status` or `result`, as the operations table stores the kind.
    pub fn kind(&self) -> &'static str {
        if self.status_document {
            "status"
        } else {
            "result"
        }
    }

    /// From the stored URL and kind.
    pub fn stored(url: String, kind: &str) -> Self {
        Self {
            url,
            status_document: kind == "status",
        }
    }
}

tokio::task_local! {
    static OBSERVER: Arc<dyn OperationObserver>;
}

/// Runs `work` with `observer` receiving its reports.
pub async fn observed<F: Future>(observer: Arc<dyn OperationObserver>, work: F) -> F::Output {
    OBSERVER.scope(observer, work).await
}

pub(super) fn accepted(arm_operation_id: Option<&str>) {
    let _ = OBSERVER.try_with(|o| o.accepted(arm_operation_id));
}

pub(super) fn progress(message: &str) {
    let _ = OBSERVER.try_with(|o| o.progress(message));
}

pub(super) fn following(operation: &OperationUrl) {
    let _ = OBSERVER.try_with(|o| o.following(operation));
}
