//! Running long workspace calls in the background: the request that starts one gets `202` with
//! the operation at once; the call runs on its own task, its steps land in the `operations` row
//! (and the event feed) as the workspace reports them, and its end is written together with the
//! audit event that records who changed what, from what, to what.

use crate::audit::AuditEvent;
use crate::store::operations::{self as store, NewOperation};
use crate::store::StoreError;
use crate::workspace::{observed, OperationObserver, WorkspaceError};
use serde_json::{json, Value};
use shared::api::{Operation, OperationKind};
use shared::audit::AuditAction;
use shared::{DeploymentName, EndpointName, WorkspaceErrorDetails};
use sqlx::PgPool;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// How often a running operation touches its row, well inside `store::ABANDONED_AFTER`.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// Runs operations on tasks of their own and keeps track of them, so the app that owns it can
/// let them finish before it stops. Each app has its own: two apps in one process (as in the
/// tests) never wait on each other's work.
#[derive(Debug, Clone)]
pub struct OperationRunner {
    pool: PgPool,
    running: TaskTracker,
}

/// An operation someone asked for: what, on which endpoint (and deployment), by whom, and what
/// its audit event records besides the outcome.
#[derive(Debug, Clone)]
pub struct Job {
    operation: NewOperation,
    /// The state before the change, as the requester saw it.
    before: Value,
    /// What was asked for.
    request: Value,
}

impl Job {
    pub fn new(
        kind: OperationKind,
        requested_by: &str,
        endpoint: &EndpointName,
        deployment: Option<&DeploymentName>,
    ) -> Self {
        Self {
            operation: NewOperation {
                kind,
                endpoint: endpoint.to_string(),
                deployment: deployment.map(DeploymentName::to_string),
                requested_by: requested_by.to_owned(),
            },
            before: Value::Null,
            request: Value::Null,
        }
    }

    pub fn before(mut self, before: Value) -> Self {
        self.before = before;
        self
    }

    pub fn request(mut self, request: Value) -> Self {
        self.request = request;
        self
    }

    /// `endpoint` or `endpoint/deployment`.
    fn target(&self) -> String {
        match &self.operation.deployment {
            Some(deployment) => format!("{}/{deployment}", self.operation.endpoint),
            None => self.operation.endpoint.clone(),
        }
    }
}

enum Report {
    Accepted(Option<String>),
    Progress(String),
}

/// Forwards the client's reports to the writer task; never blocks the client.
struct ChannelObserver(mpsc::UnboundedSender<Report>);

impl OperationObserver for ChannelObserver {
    fn accepted(&self, arm_operation_id: Option<&str>) {
        let _ = self
            .0
            .send(Report::Accepted(arm_operation_id.map(str::to_owned)));
    }

    fn progress(&self, message: &str) {
        let _ = self.0.send(Report::Progress(message.to_owned()));
    }
}

/// The workspace's error as the operation records it: Azure's code and message, unchanged.
/// When the workspace could not be reached (transport, credential, an answer that is not ARM's)
/// the cause is Greenlight's plumbing, not Azure's answer: the operation says so plainly and the
/// cause is logged under the operation's id when it ends.
pub fn error_details(err: &WorkspaceError) -> WorkspaceErrorDetails {
    match err {
        WorkspaceError::Arm { code, message, .. }
        | WorkspaceError::OperationFailed { code, message } => WorkspaceErrorDetails {
            code: code.clone(),
            message: message.clone(),
        },
        WorkspaceError::StaleTraffic { .. } => WorkspaceErrorDetails {
            code: "Conflict".into(),
            message: err.to_string(),
        },
        WorkspaceError::Timeout(_) => WorkspaceErrorDetails {
            code: "Timeout".into(),
            message: err.to_string(),
        },
        WorkspaceError::Transport(_)
        | WorkspaceError::Credential(_)
        | WorkspaceError::Unexpected(_) => WorkspaceErrorDetails {
            code: "WorkspaceUnavailable".into(),
            message: "the workspace could not be reached; the cause is in the server log under this operation's id".into(),
        },
    }
}

impl OperationRunner {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            running: TaskTracker::new(),
        }
    }

    /// Starts `work` as an operation and returns it, running. `work` yields the state after the
    /// change, which the audit event records beside `job.before`.
    pub async fn launch<W, F>(&self, job: Job, work: W) -> Result<Operation, StoreError>
    where
        W: FnOnce() -> F + Send + 'static,
        F: Future<Output = Result<Value, WorkspaceError>> + Send + 'static,
    {
        let operation = store::start(&self.pool, &job.operation).await?;
        let target = job.target();
        let new = job.operation;
        let pool = self.pool.clone();
        let id = operation.id;
        self.running.spawn(async move {
            let (sender, receiver) = mpsc::unbounded_channel();
            let writer = tokio::spawn(write_reports(pool.clone(), id, receiver));
            let outcome = observed(Arc::new(ChannelObserver(sender)), work()).await;
            // The observer (and with it the sender) is gone: the writer drains and stops, so every
            // step is stored before the end is.
            if let Err(err) = writer.await {
                tracing::error!(operation = %id, error = %err, "operation progress writer failed");
            }
            let (result, after) = match &outcome {
                Ok(after) => (Ok(()), after.clone()),
                Err(err) => (Err(error_details(err)), Value::Null),
            };
            if let Err(err) = &outcome {
                tracing::warn!(operation = %id, kind = new.kind.as_str(), error = %err, "operation failed");
            }
            let event = AuditEvent {
                actor: new.requested_by.clone(),
                action: AuditAction::of_operation(new.kind),
                target,
                details: json!({ "before": job.before, "request": job.request, "after": after }),
            };
            if let Err(err) = store::finish(&pool, id, result, event).await {
                tracing::error!(operation = %id, error = %err, "could not record the end of an operation");
            }
        });
        Ok(operation)
    }

    /// Waits up to `limit` for running operations to end (and record their end); true when
    /// they all did. Those still running after it are failed as interrupted by the next
    /// process that starts one.
    pub async fn drain(&self, limit: Duration) -> bool {
        self.running.close();
        tokio::time::timeout(limit, self.running.wait())
            .await
            .is_ok()
    }
}

/// Stores reports as they come, and touches the row every [`HEARTBEAT`] while none do.
async fn write_reports(pool: PgPool, id: Uuid, mut reports: mpsc::UnboundedReceiver<Report>) {
    loop {
        let next = tokio::time::timeout(HEARTBEAT, reports.recv()).await;
        let written = match next {
            Ok(None) => return,
            Ok(Some(Report::Progress(message))) => {
                store::report(&pool, id, Some(&message), None).await
            }
            Ok(Some(Report::Accepted(arm_id))) => {
                store::report(&pool, id, None, arm_id.as_deref()).await
            }
            Err(_) => store::report(&pool, id, None, None).await,
        };
        if let Err(err) = written {
            tracing::warn!(operation = %id, error = %err, "could not record operation progress");
        }
    }
}
