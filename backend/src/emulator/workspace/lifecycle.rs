//! The workspace's life: opening it from the state file (instances started again, interrupted
//! work followed to its end), shutting it down, saving, and the rule of one operation at a time
//! per endpoint, which Azure enforces with a 409 and background operations keep until they end.

use super::instance_spec::instance_count;
use super::{key, LocalWorkspace, Runtime};
use crate::emulator::arm::error::ArmFailure;
use crate::emulator::locks::lock;
use crate::emulator::operations::Operations;
use crate::emulator::routing::RoutingTable;
use crate::emulator::state::{Snapshot, StateFile};
use shared::arm::ProvisioningState;
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Holds an endpoint's "operation in progress" mark until dropped.
#[derive(Debug)]
pub struct BusyGuard {
    workspace: Arc<LocalWorkspace>,
    endpoint: String,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        lock(&self.workspace.busy).remove(&self.endpoint);
    }
}

impl LocalWorkspace {
    /// Loads the stored state and starts the instances of every stored deployment again.
    pub fn open(file: StateFile, runtime: Runtime) -> anyhow::Result<Arc<Self>> {
        let mut snapshot = file.load()?;
        let unfinished = settle_interrupted(&mut snapshot);
        file.save(&snapshot)?;
        let workspace = Arc::new(Self {
            state: tokio::sync::Mutex::new(snapshot.clone()),
            file,
            busy: Mutex::new(HashSet::new()),
            routes: Arc::new(RoutingTable::default()),
            operations: Operations::default(),
            runtime,
        });
        for stored in snapshot.endpoints.values() {
            let route = workspace.route_for(stored);
            for deployment in stored.deployments.values() {
                if deployment.properties.provisioning_state == Some(ProvisioningState::Failed) {
                    continue;
                }
                if let Ok(spec) = workspace.instance_spec(&snapshot, deployment) {
                    let name = deployment.name.clone().unwrap_or_default();
                    let count = instance_count(deployment);
                    // An environment gone from the cache is built again before instances start.
                    match workspace
                        .requirements_of(&snapshot, deployment)
                        .ok()
                        .flatten()
                    {
                        Some(requirements)
                            if !workspace.runtime.environments.is_ready(&requirements) =>
                        {
                            workspace.start_pool(&route, &name, spec, 0);
                            workspace.build_then_scale(&route, &name, requirements, count);
                        }
                        _ => workspace.start_pool(&route, &name, spec, count),
                    }
                }
            }
        }
        // Work a previous run left half done is followed to its end again.
        for (endpoint, deployment) in unfinished {
            if let (Ok(guard), Some(resource)) = (
                workspace.claim(&endpoint),
                snapshot
                    .endpoints
                    .get(&endpoint)
                    .and_then(|e| e.deployments.get(&deployment)),
            ) {
                let requirements = workspace
                    .requirements_of(&snapshot, resource)
                    .ok()
                    .flatten();
                workspace.follow_deployment(guard, &endpoint, &deployment, resource, requirements);
            }
        }
        Ok(workspace)
    }

    /// Stops every instance.
    pub async fn shutdown(&self) {
        let names: Vec<String> = self.state.lock().await.endpoints.keys().cloned().collect();
        for name in names {
            if let Some(route) = self.routes.get(&name) {
                route.shutdown().await;
            }
        }
    }

    /// Marks `endpoint` busy, or refuses with 409 when another operation runs on it.
    pub fn claim(self: &Arc<Self>, endpoint: &str) -> Result<BusyGuard, ArmFailure> {
        if !lock(&self.busy).insert(key(endpoint)) {
            return Err(ArmFailure::conflict_busy(endpoint));
        }
        Ok(BusyGuard {
            workspace: Arc::clone(self),
            endpoint: key(endpoint),
        })
    }

    pub(super) async fn save(&self, snapshot: &Snapshot) -> Result<(), ArmFailure> {
        self.file
            .save(snapshot)
            .map_err(|e| ArmFailure::internal(&e))
    }

    /// Runs `work` in the background as a long-running operation that keeps `guard` (the
    /// endpoint's busy mark) until it ends, and returns the operation's id to poll.
    pub(super) fn in_background<F>(self: &Arc<Self>, guard: BusyGuard, work: F) -> String
    where
        F: Future<Output = Result<(), ArmFailure>> + Send + 'static,
    {
        let operation = self.operations.start();
        let workspace = Arc::clone(self);
        let id = operation.clone();
        tokio::spawn(async move {
            let outcome = work.await.map_err(ArmFailure::into_error);
            drop(guard);
            workspace.operations.finish(&id, outcome);
        });
        operation
    }
}

/// Finishes in the stored state what a previous run was doing when it stopped: endpoints being
/// created are up, deletions are completed, and deployments still creating, updating or scaling
/// are returned (endpoint, deployment) to be followed again.
fn settle_interrupted(snapshot: &mut Snapshot) -> Vec<(String, String)> {
    snapshot.endpoints.retain(|_, e| {
        e.resource.properties.provisioning_state != Some(ProvisioningState::Deleting)
    });
    let mut unfinished = Vec::new();
    for (endpoint, stored) in &mut snapshot.endpoints {
        let state = &mut stored.resource.properties.provisioning_state;
        if *state == Some(ProvisioningState::Creating)
            || *state == Some(ProvisioningState::Updating)
        {
            *state = Some(ProvisioningState::Succeeded);
        }
        stored
            .deployments
            .retain(|_, d| d.properties.provisioning_state != Some(ProvisioningState::Deleting));
        for (name, deployment) in &stored.deployments {
            let running = deployment
                .properties
                .provisioning_state
                .as_ref()
                .is_some_and(|s| !s.is_terminal());
            if running {
                unfinished.push((endpoint.clone(), name.clone()));
            }
        }
    }
    unfinished
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::state::StoredEndpoint;
    use shared::arm::{OnlineDeployment, OnlineEndpoint};
    #[test]
    fn work_interrupted_by_a_restart_is_finished_or_followed_again() {
        let endpoint = |state: ProvisioningState, deployments: &[(&str, ProvisioningState)]| {
            let mut resource: OnlineEndpoint =
                serde_json::from_value(serde_json::json!({"properties": {}})).expect("endpoint");
            resource.properties.provisioning_state = Some(state);
            StoredEndpoint {
                workspace_id: "w".into(),
                resource,
                keys: [String::new(), String::new()],
                deployments: deployments
                    .iter()
                    .map(|(name, state)| {
                        let mut d: OnlineDeployment =
                            serde_json::from_value(serde_json::json!({"properties": {}}))
                                .expect("deployment");
                        d.properties.provisioning_state = Some(state.clone());
                        ((*name).to_owned(), d)
                    })
                    .collect(),
            }
        };
        let mut snapshot = Snapshot::default();
        snapshot
            .endpoints
            .insert("gone".into(), endpoint(ProvisioningState::Deleting, &[]));
        snapshot.endpoints.insert(
            "kept".into(),
            endpoint(
                ProvisioningState::Creating,
                &[
                    ("blue", ProvisioningState::Succeeded),
                    ("green", ProvisioningState::Scaling),
                    ("old", ProvisioningState::Deleting),
                ],
            ),
        );
        let unfinished = settle_interrupted(&mut snapshot);
        assert_eq!(unfinished, [("kept".to_owned(), "green".to_owned())]);
        assert!(!snapshot.endpoints.contains_key("gone"));
        let kept = &snapshot.endpoints["kept"];
        assert_eq!(
            kept.resource.properties.provisioning_state,
            Some(ProvisioningState::Succeeded)
        );
        assert!(!kept.deployments.contains_key("old"));
    }
}
