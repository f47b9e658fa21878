//! Running long workspace calls in the background: the request that starts one gets `202` with
//! the operation at once; the call runs on its own task, its steps land in the `operations` row
//! (and the event feed) as the workspace reports them, and its end is written together with the
//! audit event that records who changed what, from what, to what.
//!
//! An operation always ends. Writing the end is retried while the database is unreachable; an
//! end whose details can't be stored is written without them (and its audit event says so).
//! Each runner holds a lease on the operations it runs (`store::leases`); when a process dies,
//! a live one takes up its operations, follows them in the workspace to their end and records
//! that end (`recover`).

mod recover;

use crate::audit::AuditEvent;
use crate::store::leases::{self, Orphan};
use crate::store::operations::{self as store, NewOperation};
use crate::store::StoreError;
use crate::workspace::{observed, ArmClient, OperationObserver, OperationUrl, WorkspaceError};
use serde_json::{json, Value};
use shared::api::{Operation, OperationKind};
use shared::audit::AuditAction;
use shared::{DeploymentName, EndpointName, WorkspaceErrorDetails};
use sqlx::PgPool;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// How often a running operation touches its row.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// How often a runner renews its lease and looks for operations of processes that are gone:
/// four times per `leases::lease()`.
fn lease_renewal() -> Duration {
    leases::lease() / 4
}

/// How long writing an end is retried while the database is unreachable (a restart, a
/// fail-over) before it is given up.
const RECORD_PATIENCE: Duration = Duration::from_secs(300);

/// Runs operations on tasks of their own and keeps track of them, so the app that owns it can
/// let them finish before it stops. Each app has its own, with its own instance id and lease:
/// two apps in one process (as in the tests) never wait on each other's work.
#[derive(Debug, Clone)]
pub struct OperationRunner {
    pool: PgPool,
    running: TaskTracker,
    /// This runner's app instance: the owner of the operations it runs.
    instance: Uuid,
    /// Where operations taken up from a dead process are followed.
    workspace: Option<Arc<ArmClient>>,
    /// Stops the lease renewal when the app stops.
    stop: CancellationToken,
}

/// An operation someone asked for: what, on which endpoint (and deployment), by whom, and what
/// its audit event records besides the outcome.
#[derive(Debug, Clone)]
pub struct Job {
    operation: NewOperation,
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
                // Its end is recorded outside the request: name the token now, if one asked.
                requested_by: crate::audit::attribution::actor(requested_by),
                before: Value::Null,
                request: Value::Null,
            },
        }
    }

    /// The state before the change, as the requester saw it.
    pub fn before(mut self, before: Value) -> Self {
        self.operation.before = before;
        self
    }

    /// What was asked for.
    pub fn request(mut self, request: Value) -> Self {
        self.operation.request = request;
        self
    }
}

/// `endpoint` or `endpoint/deployment`.
fn target(operation: &NewOperation) -> String {
    match &operation.deployment {
        Some(deployment) => format!("{}/{deployment}", operation.endpoint),
        None => operation.endpoint.clone(),
    }
}

enum Report {
    Accepted(Option<String>),
    Progress(String),
    Following(OperationUrl),
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

    fn following(&self, operation: &OperationUrl) {
        let _ = self.0.send(Report::Following(operation.clone()));
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
    /// Registers this process as an app instance, takes up at once the running operations of
    /// processes whose lease has expired, and keeps renewing its own lease (and taking up more)
    /// until [`OperationRunner::drain`].
    pub async fn start(
        pool: PgPool,
        workspace: Option<Arc<ArmClient>>,
    ) -> Result<Self, StoreError> {
        let instance = leases::register(&pool).await?;
        let runner = Self {
            pool,
            running: TaskTracker::new(),
            instance,
            workspace,
            stop: CancellationToken::new(),
        };
        runner.rescue().await;
        tokio::spawn(runner.clone().keep_lease());
        Ok(runner)
    }

    /// This runner's app instance id.
    pub fn instance(&self) -> Uuid {
        self.instance
    }

    async fn keep_lease(self) {
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(lease_renewal()) => {}
            }
            if let Err(err) = leases::heartbeat(&self.pool, self.instance).await {
                tracing::warn!(error = %err, "could not renew this process's lease on its operations");
                continue;
            }
            self.rescue().await;
        }
    }

    /// Takes up every running operation whose process is gone.
    async fn rescue(&self) {
        match leases::claim_orphans(&self.pool, self.instance).await {
            Ok(orphans) => {
                for orphan in orphans {
                    self.take_up(orphan);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not look for operations left by a stopped process");
            }
        }
    }

    /// Follows `orphan` in the workspace to its end, then records the end as its own process
    /// would have.
    fn take_up(&self, orphan: Orphan) {
        tracing::info!(operation = %orphan.id, kind = orphan.kind.as_str(), "taking up an operation whose process stopped");
        let runner = self.clone();
        self.running.spawn(async move {
            let id = orphan.id;
            let note = "Greenlight stopped while this operation ran; following it in the workspace";
            if let Err(err) = store::report(&runner.pool, id, runner.instance, Some(note), None).await {
                tracing::warn!(operation = %id, error = %err, "could not record operation progress");
            }
            let workspace = runner.workspace.clone();
            let (result, after) = runner
                .observe(id, recover::resume(workspace, &orphan))
                .await;
            let operation = NewOperation {
                kind: orphan.kind,
                endpoint: orphan.endpoint,
                deployment: orphan.deployment,
                requested_by: orphan.requested_by,
                before: orphan.before,
                request: orphan.request,
            };
            runner.end(id, &operation, result, after).await;
        });
    }

    /// Starts `work` as an operation and returns it, running. `work` yields the state after the
    /// change, which the audit event records beside `job.before`.
    pub async fn launch<W, F>(&self, job: Job, work: W) -> Result<Operation, StoreError>
    where
        W: FnOnce() -> F + Send + 'static,
        F: Future<Output = Result<Value, WorkspaceError>> + Send + 'static,
    {
        let operation = store::start(&self.pool, &job.operation, self.instance).await?;
        self.run(operation.id, job, work);
        Ok(operation)
    }

    /// Records `job` as a running operation of this runner inside the caller's transaction;
    /// once that commits, [`Self::run`] does the work. Should the process stop in between,
    /// the lease lapses and a live process records the operation as interrupted before the
    /// workspace saw it (`recover`): the operation still ends, with the truth.
    pub async fn insert(
        &self,
        tx: &mut sqlx::PgConnection,
        job: &Job,
    ) -> Result<Operation, StoreError> {
        store::start_in(tx, &job.operation, self.instance).await
    }

    /// Does the work of operation `id` (started by [`Self::insert`]) on a task of its own and
    /// records its end.
    pub fn run<W, F>(&self, id: Uuid, job: Job, work: W)
    where
        W: FnOnce() -> F + Send + 'static,
        F: Future<Output = Result<Value, WorkspaceError>> + Send + 'static,
    {
        let runner = self.clone();
        self.running.spawn(async move {
            let new = job.operation;
            let outcome = runner.observe(id, work()).await;
            // The workspace has answered and every report is stored, but the end is not: a
            // process that dies here leaves the write in effect and the operation running,
            // for a live process to take up (`take_up`, which has no crash point, so the
            // write is crashed once, in the process that issued it).
            crate::failpoint::hit("operation-write-done");
            let (result, after) = match outcome {
                Ok(after) => (Ok(()), after),
                Err(err) => {
                    tracing::warn!(operation = %id, kind = new.kind.as_str(), error = %err, "operation failed");
                    (Err(error_details(&err)), Value::Null)
                }
            };
            runner.end(id, &new, result, after).await;
        });
    }

    /// Runs `work` with the workspace client's reports stored as they come; every step is
    /// stored before this returns.
    async fn observe<F: Future>(&self, id: Uuid, work: F) -> F::Output {
        let (sender, receiver) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_reports(
            self.pool.clone(),
            id,
            self.instance,
            receiver,
        ));
        let output = observed(Arc::new(ChannelObserver(sender)), work).await;
        // The observer (and with it the sender) is gone: the writer drains and stops.
        if let Err(err) = writer.await {
            tracing::error!(operation = %id, error = %err, "operation progress writer failed");
        }
        output
    }

    /// Records the end of operation `id` with its audit event. Transient database errors are
    /// retried; an end that still can't be written (its details can't be stored) is written
    /// with the details reduced to what can be, and an audit event that says so.
    async fn end(
        &self,
        id: Uuid,
        operation: &NewOperation,
        result: Result<(), WorkspaceErrorDetails>,
        after: Value,
    ) {
        let event = AuditEvent {
            actor: operation.requested_by.clone(),
            action: AuditAction::of_operation(operation.kind),
            target: target(operation),
            details: json!({
                "before": operation.before,
                "request": operation.request,
                "after": after,
            }),
        };
        let finish = |result: Result<(), WorkspaceErrorDetails>, event: AuditEvent| async move {
            with_retries(|| {
                store::finish(&self.pool, id, self.instance, result.clone(), event.clone())
            })
            .await
        };
        let refused = match finish(result.clone(), event.clone()).await {
            Ok(Some(_)) => return,
            Ok(None) => {
                tracing::warn!(operation = %id, "another process took up this operation; it records the end");
                return;
            }
            Err(err) => err,
        };
        tracing::error!(operation = %id, error = %refused, "could not record the end of an operation; recording it without its details");
        let reduced = result.map_err(|e| WorkspaceErrorDetails {
            code: shared::text::scrub(&e.code),
            message: shared::text::scrub(&e.message),
        });
        let event = AuditEvent {
            details: json!({
                "details_not_recorded": format!(
                    "the details of this change could not be stored: {}",
                    shared::text::scrub(&refused.to_string())
                ),
            }),
            ..event
        };
        if let Err(err) = finish(reduced, event).await {
            tracing::error!(operation = %id, error = %err, "could not record the end of an operation, even without its details");
        }
    }

    /// Waits up to `limit` for running operations to end (and record their end); true when
    /// they all did. Then gives up this process's lease, so another process takes up at once
    /// whatever is still running.
    pub async fn drain(&self, limit: Duration) -> bool {
        self.running.close();
        self.stop.cancel();
        let ended = tokio::time::timeout(limit, self.running.wait())
            .await
            .is_ok();
        if let Err(err) = leases::release(&self.pool, self.instance).await {
            tracing::warn!(error = %err, "could not give up this process's lease");
        }
        ended
    }
}

/// Runs `attempt` until it succeeds, fails for good, or [`RECORD_PATIENCE`] has passed, backing
/// off between tries of a transient failure.
async fn with_retries<T, F, Fut>(mut attempt: F) -> sqlx::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = sqlx::Result<T>>,
{
    let deadline = Instant::now() + RECORD_PATIENCE;
    let mut wait = Duration::from_millis(200);
    loop {
        match attempt().await {
            Err(err) if transient(&err) && Instant::now() + wait < deadline => {
                tracing::warn!(error = %err, retry_in = ?wait, "the database is unreachable; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(15));
            }
            other => return other,
        }
    }
}

/// Whether `err` may pass by itself: the connection, the server starting or stopping, a
/// serialization conflict, resources running out. A refused value (bad data) is not.
fn transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
        }),
        _ => false,
    }
}

/// Stores reports as they come, and touches the row every [`HEARTBEAT`] while none do.
async fn write_reports(
    pool: PgPool,
    id: Uuid,
    owner: Uuid,
    mut reports: mpsc::UnboundedReceiver<Report>,
) {
    loop {
        let next = tokio::time::timeout(HEARTBEAT, reports.recv()).await;
        let written = match next {
            Ok(None) => return,
            Ok(Some(Report::Progress(message))) => {
                store::report(&pool, id, owner, Some(&message), None).await
            }
            Ok(Some(Report::Accepted(arm_id))) => {
                store::report(&pool, id, owner, None, arm_id.as_deref()).await
            }
            Ok(Some(Report::Following(operation))) => {
                store::following(&pool, id, owner, &operation.url, operation.kind()).await
            }
            Err(_) => store::report(&pool, id, owner, None, None).await,
        };
        if let Err(err) = written {
            tracing::warn!(operation = %id, error = %err, "could not record operation progress");
        }
    }
}
