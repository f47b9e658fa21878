//! The operation that applies an approved request: which kind, what its audit event records,
//! and the workspace call. A traffic change is sent against the request's `before`, so the
//! workspace write itself refuses a split that changed after the staleness check.

use super::Context;
use crate::operations::{Job, OperationRunner};
use crate::workspace::ArmClient;
use serde_json::{json, Value};
use shared::api::{OperationKind, TrafficState};
use shared::rollout::{Change, TrafficSplit};
use shared::{EndpointName, Username};
use std::sync::Arc;
use uuid::Uuid;

/// A job and the work it does, not started yet.
pub(super) struct Prepared {
    pub job: Job,
    work: Work,
    endpoint: EndpointName,
    before: TrafficSplit,
    client: Arc<ArmClient>,
}

/// The workspace call an applied change makes.
enum Work {
    Traffic(TrafficSplit),
    DeleteDeployment(shared::DeploymentName),
    DeleteEndpoint,
}

/// The operation that applies `change`; `None` for a change that makes no workspace call (a
/// gate's pass, applied as it is approved).
pub(super) fn job(
    ctx: &Context,
    request_id: Uuid,
    change: &Change,
    endpoint: &EndpointName,
    before: &TrafficSplit,
    requester: &Username,
    approvers: &[Username],
) -> Option<Prepared> {
    let (kind, deployment, work) = match change {
        Change::Traffic { after } => (
            OperationKind::TrafficChange,
            None,
            Work::Traffic(after.clone()),
        ),
        Change::DeleteDeployment { deployment } => (
            OperationKind::DeploymentDelete,
            Some(deployment),
            Work::DeleteDeployment(deployment.clone()),
        ),
        Change::DeleteEndpoint => (OperationKind::EndpointDelete, None, Work::DeleteEndpoint),
        Change::PassGate { .. } => return None,
    };
    let mut request = json!({
        "change_request_id": request_id,
        "approvers": approvers,
    });
    if let Change::Traffic { after } = change {
        request["traffic"] = json!(after.traffic);
        request["mirror_traffic"] = json!(after.mirror_traffic);
    }
    let job = Job::new(kind, requester.as_str(), endpoint, deployment)
        .before(json!(before))
        .request(request);
    Some(Prepared {
        job,
        work,
        endpoint: endpoint.clone(),
        before: before.clone(),
        client: Arc::clone(&ctx.workspace),
    })
}

impl Prepared {
    /// Runs the workspace call as operation `id` (already stored in the approving transaction).
    pub fn start(self, runner: &OperationRunner, id: Uuid) {
        let Prepared {
            job,
            work,
            endpoint,
            before,
            client,
        } = self;
        runner.run(id, job, move || async move {
            match work {
                Work::Traffic(after) => {
                    let updated = client
                        .update_traffic(
                            &endpoint,
                            Some((&before.traffic, &before.mirror_traffic)),
                            after.traffic,
                            after.mirror_traffic,
                        )
                        .await?;
                    Ok(json!(TrafficState::of(&updated)))
                }
                Work::DeleteDeployment(deployment) => {
                    client.delete_deployment(&endpoint, &deployment).await?;
                    Ok(Value::Null)
                }
                Work::DeleteEndpoint => {
                    client.delete_endpoint(&endpoint).await?;
                    Ok(Value::Null)
                }
            }
        });
    }
}
