//! Who is watching a workspace call: the operation runner wants the workspace's operation id and
//! a line of progress at each step, without every client method taking a callback.
//!
//! The runner wraps its call in [`observed`]; the client reports through [`accepted`] and
//! [`progress`], which do nothing outside such a scope (tests and reads stay untouched).

use std::future::Future;
use std::sync::Arc;

/// Receives what a long-running workspace call is doing. Called from inside the client, so it
/// must be quick: queue the news, don't write it to a database in place.
pub trait OperationObserver: Send + Sync {
    /// The workspace accepted a write; `arm_operation_id` names its long-running operation.
    fn accepted(&self, arm_operation_id: Option<&str>);
    /// A step, in words for the person waiting.
    fn progress(&self, message: &str);
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
