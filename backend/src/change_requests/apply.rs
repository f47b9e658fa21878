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
    change: Change,
    endpoint: EndpointName,
    before: TrafficSplit,
    client: Arc<ArmClient>,
}

pub(super) fn job(
    ctx: &Context,
    request_id: Uuid,
    change: &Change,
    endpoint: &EndpointName,
    before: &TrafficSplit,
    requester: &Username,
    approvers: &[Username],
) -> Prepared {
    let (kind, deployment) = match change {
        Change::Traffic { .. } => (OperationKind::TrafficChange, None),
        Change::DeleteDeployment { deployment } => {
            (OperationKind::DeploymentDelete, Some(deployment))
        }
        Change::DeleteEndpoint => (OperationKind::EndpointDelete, None),
        // Never reaches here (`pass_gate` applies it without an operation); a traffic
        // operation changing nothing is the harmless reading if it ever did.
        Change::PassGate { .. } => (OperationKind::TrafficChange, None),
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
    Prepared {
        job,
        change: change.clone(),
        endpoint: endpoint.clone(),
        before: before.clone(),
        client: Arc::clone(&ctx.workspace),
    }
}

impl Prepared {
    /// Runs the workspace call as operation `id` (already stored in the approving transaction).
    pub fn start(self, runner: &OperationRunner, id: Uuid) {
        let Prepared {
            job,
            change,
            endpoint,
            before,
            client,
        } = self;
        runner.run(id, job, move || async move {
            match change {
                Change::Traffic { after } => {
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
                Change::DeleteDeployment { deployment } => {
                    client.delete_deployment(&endpoint, &deployment).await?;
                    Ok(Value::Null)
                }
                Change::DeleteEndpoint => {
                    client.delete_endpoint(&endpoint).await?;
                    Ok(Value::Null)
                }
                Change::PassGate { .. } => Ok(Value::Null),
            }
        });
    }
}
