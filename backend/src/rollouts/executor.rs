//! The executor: any Greenlight process runs one. It claims due rollouts (`FOR UPDATE SKIP
//! LOCKED`, owned by this process's app instance, whose heartbeat is the lease) and advances
//! each by one idempotent tick: a tick reads the stored state and the workspace, and does only
//! what is not done yet. After a crash the next owner ticks again from the stored state.

use super::steps;
use crate::change_requests::Context;
use crate::store::leases::lease;
use crate::store::rollouts as store;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often an idle executor looks for due rollouts.
const POLL: Duration = Duration::from_millis(250);
/// How long a tick that failed unexpectedly waits before the rollout is tried again.
const RETRY: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct Executor {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Executor {
    pub fn start(ctx: Context) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(ctx, stop.clone()));
        Self { stop, task }
    }

    /// Stops after the tick under way; what is left is taken up by the next owner.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "the rollout executor ended abnormally");
        }
    }
}

async fn run(ctx: Context, stop: CancellationToken) {
    let me = ctx.operations.instance();
    while !stop.is_cancelled() {
        let claimed = match store::claim(&ctx.pool, me, lease()).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "claiming due rollouts failed");
                None
            }
        };
        let Some(claim) = claimed else {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(POLL) => continue,
            }
        };
        let id = claim.id;
        let next = match steps::tick(&ctx, id).await {
            Ok(next) => next,
            Err(err) => {
                tracing::warn!(rollout = %id, error = %err, "a rollout tick failed; it is tried again");
                RETRY
            }
        };
        if let Err(err) = store::due_in(&ctx.pool, claim, next).await {
            tracing::warn!(rollout = %id, error = %err, "could not schedule a rollout's next tick");
        }
    }
}
