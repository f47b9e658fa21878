//! Deployments under an endpoint: create, update, scale, patch and delete them with Azure's rules
//! (at most 20 per endpoint, settings per `shared::check_deployment`, no deleting one that takes
//! traffic), start and replace their instance pools, and follow each change in the background
//! until the instances are ready or have failed.

use super::endpoints::find_endpoint;
use super::instance_spec::{instance_count, readiness_of};
use super::merge_patch::apply_patch;
use super::{key, parse_name, system_data, Accepted, BusyGuard, LocalWorkspace};
use super::{DEPLOYMENT_TYPE, LOCATION};
use crate::emulator::arm::error::ArmFailure;
use crate::emulator::environments::Requirements;
use crate::emulator::instances::{DeploymentPool, InstanceSpec, PoolStatus, Probe};
use crate::emulator::routing::EndpointRoute;
use axum::http::StatusCode;
use shared::arm::{self, EndpointComputeType, OnlineDeployment, ProvisioningState};
use shared::limits::MAX_DEPLOYMENTS_PER_ENDPOINT;
use shared::{check_deployment, check_deployment_delete};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

impl LocalWorkspace {
    pub async fn list_deployments(
        &self,
        workspace_id: &str,
        endpoint: &str,
    ) -> Result<Vec<OnlineDeployment>, ArmFailure> {
        let state = self.state.lock().await;
        Ok(find_endpoint(&state, workspace_id, endpoint)?
            .deployments
            .values()
            .cloned()
            .collect())
    }

    pub async fn get_deployment(
        &self,
        workspace_id: &str,
        endpoint: &str,
        name: &str,
    ) -> Result<OnlineDeployment, ArmFailure> {
        let state = self.state.lock().await;
        find_endpoint(&state, workspace_id, endpoint)?
            .deployments
            .get(&key(name))
            .cloned()
            .ok_or_else(|| ArmFailure::resource_not_found("deployment", name))
    }

    /// The instance pool of a deployment (logs, metrics and tests look at it).
    pub fn pool(&self, endpoint: &str, deployment: &str) -> Option<DeploymentPool> {
        self.routes.get(&key(endpoint))?.pool(&key(deployment))
    }

    /// PUT: creates a deployment (201; instances start, the operation ends when they are
    /// ready or the scoring script fails) or applies new settings to an existing one.
    pub async fn put_deployment(
        self: &Arc<Self>,
        workspace_id: &str,
        endpoint: &str,
        name: &str,
        body: OnlineDeployment,
    ) -> Result<Accepted<OnlineDeployment>, ArmFailure> {
        let name = parse_name(name, "deployment name")?;
        let deployment = key(name.as_str());
        let guard = self.claim(endpoint)?;
        let mut state = self.state.lock().await;
        let stored = find_endpoint(&state, workspace_id, endpoint)?.clone();
        let existing = stored.deployments.get(&deployment).cloned();
        if existing.is_none() && stored.deployments.len() >= MAX_DEPLOYMENTS_PER_ENDPOINT {
            return Err(ArmFailure::too_many_deployments());
        }
        let mut resource = body;
        validate_deployment(&resource)?;
        resource.id = Some(format!(
            "{}/deployments/{}",
            stored.resource.id.clone().unwrap_or_default(),
            name.as_str()
        ));
        resource.name = Some(name.to_string());
        resource.resource_type = Some(DEPLOYMENT_TYPE.into());
        resource.location = resource.location.or(Some(LOCATION.into()));
        resource.system_data = Some(system_data(
            existing.as_ref().and_then(|d| d.system_data.as_ref()),
        ));
        let count = instance_count(&resource);
        fill_scale_defaults(&mut resource, count);
        let spec = self.instance_spec(&state, &resource)?;
        let requirements = self.requirements_of(&state, &resource)?;
        // Instances start once their environment is built (in the operation, below).
        let environment_ready = requirements
            .as_ref()
            .is_none_or(|r| self.runtime.environments.is_ready(r));
        let route = self
            .routes
            .get(&key(endpoint))
            .ok_or_else(|| ArmFailure::resource_not_found("endpoint", endpoint))?;

        let (status, provisioning) = match (&existing, route.pool(&deployment)) {
            (Some(old), Some(pool)) if same_code(old, &resource) => {
                pool.scale(count);
                (StatusCode::OK, ProvisioningState::Scaling)
            }
            (_, old_pool) => {
                let starting = if environment_ready { count } else { 0 };
                self.start_pool(&route, name.as_str(), spec, starting);
                if let Some(old_pool) = old_pool {
                    tokio::spawn(async move { old_pool.shutdown().await });
                }
                match existing {
                    Some(_) => (StatusCode::OK, ProvisioningState::Updating),
                    None => (StatusCode::CREATED, ProvisioningState::Creating),
                }
            }
        };
        resource.properties.provisioning_state = Some(provisioning);
        if let Some(entry) = state.endpoints.get_mut(&key(endpoint)) {
            entry.deployments.insert(deployment, resource.clone());
        }
        self.save(&state).await?;
        drop(state);
        let operation =
            self.follow_deployment(guard, endpoint, name.as_str(), &resource, requirements);
        Ok(Accepted {
            status,
            resource: Some(resource),
            operation: Some(operation),
        })
    }

    /// Starts `count` instances of deployment `name` from `spec` and routes to them.
    pub(super) fn start_pool(
        &self,
        route: &EndpointRoute,
        name: &str,
        spec: InstanceSpec,
        count: usize,
    ) {
        let pool = DeploymentPool::new(name, spec, self.runtime.http.clone());
        pool.scale(count);
        route.add_pool(&key(name), pool);
    }

    /// Builds the environment in the background, then starts the deployment's instances (a
    /// failure is in the deployment's logs).
    pub(super) fn build_then_scale(
        &self,
        route: &EndpointRoute,
        name: &str,
        requirements: Requirements,
        count: usize,
    ) {
        let (Some(pool), environments) = (
            route.pool(&key(name)),
            Arc::clone(&self.runtime.environments),
        ) else {
            return;
        };
        tokio::spawn(async move {
            if environments
                .ensure(&requirements, pool.logs())
                .await
                .is_ok()
            {
                pool.scale(count);
            }
        });
    }

    /// Waits in the background until the deployment's environment is built (when it names
    /// packages) and its instances settle, then records the outcome in the resource and the
    /// operation.
    pub(super) fn follow_deployment(
        self: &Arc<Self>,
        guard: BusyGuard,
        endpoint: &str,
        deployment: &str,
        resource: &OnlineDeployment,
        requirements: Option<Requirements>,
    ) -> String {
        let count = instance_count(resource);
        let workspace = Arc::clone(self);
        let endpoint = key(endpoint);
        let deployment = key(deployment);
        let readiness = readiness_of(resource);
        self.in_background(guard, async move {
            let pool = workspace
                .pool(&endpoint, &deployment)
                .ok_or_else(|| ArmFailure::resource_not_found("deployment", &deployment))?;
            let built = match &requirements {
                Some(requirements) => workspace
                    .runtime
                    .environments
                    .ensure(requirements, pool.logs())
                    .await
                    .map(|()| pool.scale(count)),
                None => Ok(()),
            };
            let (provisioning, outcome) = match built {
                Ok(()) => settle(&pool, &readiness).await,
                Err(why) => {
                    pool.shutdown().await;
                    (
                        ProvisioningState::Failed,
                        Err(ArmFailure::environment_failed(format!(
                            "the Python packages of its environment's condaFile \
                             (properties.environmentId) could not be installed: {why}"
                        ))),
                    )
                }
            };
            let mut state = workspace.state.lock().await;
            if let Some(stored) = state
                .endpoints
                .get_mut(&endpoint)
                .and_then(|e| e.deployments.get_mut(&deployment))
            {
                stored.properties.provisioning_state = Some(provisioning);
            }
            workspace.save(&state).await?;
            outcome
        })
    }

    /// PATCH: merges the patch (typically `sku.capacity` to scale) into the deployment.
    pub async fn patch_deployment(
        self: &Arc<Self>,
        workspace_id: &str,
        endpoint: &str,
        name: &str,
        patch: serde_json::Value,
    ) -> Result<Accepted<OnlineDeployment>, ArmFailure> {
        let current = self.get_deployment(workspace_id, endpoint, name).await?;
        let body = apply_patch(&current, &patch, "a deployment")?;
        let mut accepted = self
            .put_deployment(workspace_id, endpoint, name, body)
            .await?;
        accepted.status = StatusCode::ACCEPTED;
        Ok(accepted)
    }

    /// DELETE: refused while the deployment has live or mirror traffic; otherwise its
    /// instances drain and stop, then it is gone (202).
    pub async fn delete_deployment(
        self: &Arc<Self>,
        workspace_id: &str,
        endpoint: &str,
        name: &str,
    ) -> Result<Accepted<()>, ArmFailure> {
        let guard = self.claim(endpoint)?;
        let mut state = self.state.lock().await;
        let stored = find_endpoint(&state, workspace_id, endpoint)?.clone();
        let Some(existing) = stored.deployments.get(&key(name)) else {
            return Ok(Accepted::nothing_to_do());
        };
        let real_name = existing.name.clone().unwrap_or_else(|| name.to_owned());
        let (traffic, mirror) = stored.resource.properties.splits();
        check_deployment_delete(&real_name, &traffic, &mirror)
            .map_err(|v| ArmFailure::rules_broken(vec![v]))?;
        let (endpoint, deployment) = (key(endpoint), key(name));
        if let Some(entry) = state
            .endpoints
            .get_mut(&endpoint)
            .and_then(|e| e.deployments.get_mut(&deployment))
        {
            entry.properties.provisioning_state = Some(ProvisioningState::Deleting);
        }
        self.save(&state).await?;
        drop(state);
        let workspace = Arc::clone(self);
        let operation = self.in_background(guard, async move {
            if let Some(pool) = workspace
                .routes
                .get(&endpoint)
                .and_then(|r| r.remove_pool(&deployment))
            {
                pool.shutdown().await;
            }
            let mut state = workspace.state.lock().await;
            if let Some(entry) = state.endpoints.get_mut(&endpoint) {
                entry.deployments.remove(&deployment);
            }
            workspace.save(&state).await
        });
        Ok(Accepted::running(operation))
    }
}

/// Waits until the pool's instances settle: the provisioning state and the operation's outcome.
async fn settle(
    pool: &DeploymentPool,
    readiness: &Probe,
) -> (ProvisioningState, Result<(), ArmFailure>) {
    // Start-up budget, plus time to drain instances being removed.
    let limit = readiness.budget() + Duration::from_secs(60);
    match pool.wait_settled(limit).await {
        PoolStatus::Settled { .. } => (ProvisioningState::Succeeded, Ok(())),
        PoolStatus::Failed(reason) => {
            pool.shutdown().await;
            (
                ProvisioningState::Failed,
                Err(ArmFailure::deployment_failed(format!(
                    "the deployment's instances failed to start: {reason}"
                ))),
            )
        }
        PoolStatus::Converging { ready, wanted } => (
            ProvisioningState::Failed,
            Err(ArmFailure::deployment_failed(format!(
                "only {ready} of {wanted} instances became ready in time"
            ))),
        ),
    }
}

/// Azure's rules for a deployment's settings (the first one broken is the answer, naming its
/// field), after the local workspace's own: it runs managed deployments only.
fn validate_deployment(deployment: &OnlineDeployment) -> Result<(), ArmFailure> {
    if let Some(other) = deployment
        .properties
        .endpoint_compute_type
        .as_ref()
        .filter(|t| !matches!(t, EndpointComputeType::Managed))
    {
        return Err(ArmFailure::invalid_field(
            "properties.endpointComputeType",
            format!(
                "endpointComputeType {other:?} is not supported by the local workspace: \
                 it runs managed deployments only"
            ),
        ));
    }
    check_deployment(deployment).map_err(ArmFailure::first_rule_broken)
}

/// What Azure fills in when a PUT leaves it out: the `Default` SKU with the instance count, and
/// `Default` (manual) scaling.
fn fill_scale_defaults(resource: &mut OnlineDeployment, count: usize) {
    let sku = resource.sku.get_or_insert_with(|| arm::Sku {
        name: "Default".into(),
        tier: Some(arm::SkuTier::Standard),
        size: None,
        family: None,
        capacity: None,
        extra: BTreeMap::new(),
    });
    sku.capacity = Some(count as i64);
    if resource.properties.scale_settings.is_none() {
        resource.properties.scale_settings = Some(arm::ScaleSettings {
            scale_type: arm::ScaleType::Default,
            min_instances: None,
            max_instances: None,
            polling_interval: None,
            target_utilization_percentage: None,
            extra: BTreeMap::new(),
        });
    }
}

/// True when only the instance count differs, so scaling the pool is enough.
fn same_code(old: &OnlineDeployment, new: &OnlineDeployment) -> bool {
    let (a, b) = (&old.properties, &new.properties);
    a.model == b.model
        && a.environment_id == b.environment_id
        && a.code_configuration == b.code_configuration
        && a.environment_variables == b.environment_variables
        && a.request_settings == b.request_settings
        && a.liveness_probe == b.liveness_probe
        && a.readiness_probe == b.readiness_probe
}
