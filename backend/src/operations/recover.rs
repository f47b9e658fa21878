//! Finishing an operation whose process died: follow the workspace's own operation from its
//! stored polling URL; when that can't be done (the URL was never stored, or the workspace no
//! longer knows the operation), follow the resource's provisioning state instead; and when even
//! that can't tell, record `Interrupted` with what was found. The audit event's `after` is read
//! back from the workspace, as the operation would have returned it.

use crate::store::leases::Orphan;
use crate::workspace::{ArmClient, OperationUrl, WorkspaceError};
use serde_json::{json, Value};
use shared::api::{DeploymentSummary, EndpointSummary, OperationKind, TrafficState};
use shared::arm::{OnlineDeployment, OnlineEndpoint, ProvisioningState};
use shared::{DeploymentName, EndpointName, WorkspaceErrorDetails};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a taken-up operation's resource is watched for a terminal state.
const SETTLE_LIMIT: Duration = Duration::from_secs(600);
const SETTLE_POLL: Duration = Duration::from_secs(1);

type Outcome = (Result<(), WorkspaceErrorDetails>, Value);

/// Follows `orphan` to its end in the workspace: the outcome and the state after it.
pub(super) async fn resume(workspace: Option<Arc<ArmClient>>, orphan: &Orphan) -> Outcome {
    let Some(client) = workspace else {
        return interrupted(
            "no workspace is configured to follow it in".into(),
            Value::Null,
        );
    };
    let resource = match Resource::of(orphan) {
        Ok(resource) => resource,
        Err(message) => return interrupted(message, Value::Null),
    };
    if let Some((url, kind)) = &orphan.poll {
        match client
            .follow_operation(&OperationUrl::stored(url.clone(), kind))
            .await
        {
            Ok(()) => {
                return match resource.read(&client).await {
                    Ok(found) => (Ok(()), found.after),
                    Err(err) => {
                        tracing::warn!(operation = %orphan.id, error = %err, "could not read the state after a taken-up operation");
                        (Ok(()), Value::Null)
                    }
                };
            }
            Err(WorkspaceError::OperationFailed { code, message }) => {
                return (Err(WorkspaceErrorDetails { code, message }), Value::Null);
            }
            Err(err) => {
                tracing::info!(operation = %orphan.id, error = %err, "the workspace's operation can't be followed; watching the resource instead");
            }
        }
    }
    if orphan.poll.is_none() && orphan.arm_operation_id.is_none() {
        // The change may never have reached the workspace: say what is there, claim nothing.
        return match resource.read(&client).await {
            Ok(found) => interrupted(
                format!(
                    "Greenlight stopped before the workspace accepted the change; found {}",
                    found.describe(&resource)
                ),
                found.after,
            ),
            Err(err) => interrupted(
                format!("Greenlight stopped before the workspace accepted the change, and reading it failed: {err}"),
                Value::Null,
            ),
        };
    }
    resource.settle(&client).await
}

fn interrupted(found: String, after: Value) -> Outcome {
    (
        Err(WorkspaceErrorDetails {
            code: "Interrupted".into(),
            message: format!(
                "Greenlight stopped while this operation ran and could not follow it to its end: {found}"
            ),
        }),
        after,
    )
}

/// The workspace resource an operation changes, and what its success looks like.
struct Resource {
    kind: OperationKind,
    endpoint: EndpointName,
    deployment: Option<DeploymentName>,
}

/// The resource as read back: its provisioning state (`None` when it is gone) and the `after`
/// the audit event records.
struct Found {
    state: Option<Option<ProvisioningState>>,
    after: Value,
}

impl Found {
    fn describe(&self, resource: &Resource) -> String {
        let what = match &resource.deployment {
            Some(d) => format!("deployment {}/{d}", resource.endpoint),
            None => format!("endpoint {}", resource.endpoint),
        };
        match &self.state {
            None => format!("{what} is gone"),
            Some(Some(state)) => format!("{what} is {state}"),
            Some(None) => format!("{what} has no provisioning state"),
        }
    }
}

impl Resource {
    fn of(orphan: &Orphan) -> Result<Self, String> {
        let endpoint = EndpointName::parse(&orphan.endpoint)
            .map_err(|e| format!("its endpoint name can't be read: {e}"))?;
        let deployment = orphan
            .deployment
            .as_deref()
            .map(DeploymentName::parse)
            .transpose()
            .map_err(|e| format!("its deployment name can't be read: {e}"))?;
        Ok(Self {
            kind: orphan.kind,
            endpoint,
            deployment,
        })
    }

    /// Whether success means the resource is gone.
    fn deletes(&self) -> bool {
        matches!(
            self.kind,
            OperationKind::EndpointDelete | OperationKind::DeploymentDelete
        )
    }

    async fn read(&self, client: &ArmClient) -> Result<Found, WorkspaceError> {
        let gone = |err: &WorkspaceError| matches!(err, WorkspaceError::Arm { status: 404, .. });
        match &self.deployment {
            Some(deployment) => match client.get_deployment(&self.endpoint, deployment).await {
                Ok(found) => Ok(Found {
                    state: Some(found.properties.provisioning_state.clone()),
                    after: self.after_deployment(found),
                }),
                Err(err) if gone(&err) => Ok(Found {
                    state: None,
                    after: Value::Null,
                }),
                Err(err) => Err(err),
            },
            None => match client.get_endpoint(&self.endpoint).await {
                Ok(found) => Ok(Found {
                    state: Some(found.properties.provisioning_state.clone()),
                    after: self.after_endpoint(&found),
                }),
                Err(err) if gone(&err) => Ok(Found {
                    state: None,
                    after: Value::Null,
                }),
                Err(err) => Err(err),
            },
        }
    }

    /// The `after` the operation's own work yields for this kind.
    fn after_deployment(&self, found: OnlineDeployment) -> Value {
        if self.deletes() {
            return Value::Null;
        }
        json!(DeploymentSummary::of(found))
    }

    fn after_endpoint(&self, found: &OnlineEndpoint) -> Value {
        match self.kind {
            OperationKind::EndpointCreate => json!(EndpointSummary::of(found)),
            OperationKind::TrafficChange => json!(TrafficState::of(found)),
            _ => Value::Null,
        }
    }

    /// Watches the resource until its provisioning state is terminal (or it is gone), and
    /// judges the operation by it.
    async fn settle(&self, client: &ArmClient) -> Outcome {
        let deadline = Instant::now() + SETTLE_LIMIT;
        loop {
            let found = match self.read(client).await {
                Ok(found) => found,
                Err(err) => {
                    return interrupted(format!("reading the workspace failed: {err}"), Value::Null)
                }
            };
            let outcome = match (&found.state, self.deletes()) {
                (None, true) => Some((Ok(()), Value::Null)),
                (None, false) => Some(interrupted(found.describe(self), Value::Null)),
                (Some(Some(state)), _) if !state.is_terminal() => None,
                (Some(_), true) => Some(interrupted(found.describe(self), found.after.clone())),
                (Some(Some(ProvisioningState::Succeeded)), false) => {
                    Some((Ok(()), found.after.clone()))
                }
                (Some(_), false) => Some((
                    Err(WorkspaceErrorDetails {
                        code: "OperationFailed".into(),
                        message: format!("the workspace reports the {}", found.describe(self)),
                    }),
                    Value::Null,
                )),
            };
            if let Some(outcome) = outcome {
                return outcome;
            }
            if Instant::now() + SETTLE_POLL > deadline {
                return interrupted(
                    format!(
                        "after {} s, {}",
                        SETTLE_LIMIT.as_secs(),
                        found.describe(self)
                    ),
                    found.after,
                );
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }
}
