//! The local workspace's behaviour behind the ARM routes: endpoints and deployments with
//! Azure's rules, real instance pools, one operation at a time per endpoint, and persistence.

use super::arm::error::ArmFailure;
use super::instances::{DeploymentPool, InstanceSpec, PoolStatus, Probe};
use super::locks::lock;
use super::operations::{now, Operations};
use super::routing::{AuthMode, EndpointRoute, RoutingTable};
use super::state::{Snapshot, StateFile, StoredEndpoint};
use axum::http::StatusCode;
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use shared::arm::{
    self, EndpointComputeType, OnlineDeployment, OnlineEndpoint, ProvisioningState, SystemData,
};
use shared::limits::{parse_iso8601_duration, MAX_DEPLOYMENTS_PER_ENDPOINT};
use shared::{
    check_deployment, check_deployment_delete, check_traffic, AssetKind, AssetRef, ResourceName,
};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const ENDPOINT_TYPE: &str = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints";
pub const DEPLOYMENT_TYPE: &str =
    "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments";
/// The region the local workspace reports.
pub const LOCATION: &str = "local";
/// Azure's default for a deployment's `requestTimeout`.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How the local workspace runs instances.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub python: PathBuf,
    pub harness: PathBuf,
    /// `http://127.0.0.1:<port>` of the scoring router.
    pub scoring_base: String,
    pub http: reqwest::Client,
}

/// The local workspace.
#[derive(Debug)]
pub struct LocalWorkspace {
    state: tokio::sync::Mutex<Snapshot>,
    file: StateFile,
    busy: Mutex<HashSet<String>>,
    pub routes: Arc<RoutingTable>,
    pub operations: Operations,
    runtime: Runtime,
}

/// What a write answered: the status, the resource, and the operation to poll when the work
/// goes on in the background.
#[derive(Debug)]
pub struct Accepted<T> {
    pub status: StatusCode,
    pub resource: Option<T>,
    pub operation: Option<String>,
}

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

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn new_key() -> String {
    Alphanumeric.sample_string(&mut OsRng, 48)
}

fn parse_name(raw: &str, what: &str) -> Result<ResourceName, ArmFailure> {
    ResourceName::parse(raw).map_err(|e| ArmFailure::invalid_field("name", format!("{what} {e}")))
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
                    let pool = DeploymentPool::new(&name, spec, workspace.runtime.http.clone());
                    pool.scale(instance_count(deployment));
                    route.add_pool(&key(&name), pool);
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
                workspace.follow_deployment(guard, &endpoint, &deployment, resource);
            }
        }
        Ok(workspace)
    }

    /// Stops every instance.
    pub async fn shutdown(&self) {
        let names: Vec<String> = self.state.lock().await.endpoints.keys().cloned().collect();
        for name in names {
            if let Some(route) = self.routes.get(&name) {
                for pool in route.pools() {
                    pool.shutdown().await;
                }
            }
        }
    }

    fn route_for(&self, stored: &StoredEndpoint) -> Arc<EndpointRoute> {
        let name = key(stored.resource.name.as_deref().unwrap_or_default());
        let route = Arc::new(EndpointRoute::new(
            &name,
            auth_of(&stored.resource),
            stored.keys.clone(),
        ));
        let (traffic, mirror) = stored.resource.properties.splits();
        route.set_traffic(weights(&traffic), mirror_of(&mirror));
        self.routes.insert(Arc::clone(&route));
        route
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

    async fn save(&self, snapshot: &Snapshot) -> Result<(), ArmFailure> {
        self.file
            .save(snapshot)
            .map_err(|e| ArmFailure::internal(&e))
    }

    /// Runs `work` in the background as a long-running operation that keeps `guard` (the
    /// endpoint's busy mark) until it ends, and returns the operation's id to poll.
    fn in_background<F>(self: &Arc<Self>, guard: BusyGuard, work: F) -> String
    where
        F: std::future::Future<Output = Result<(), ArmFailure>> + Send + 'static,
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

    fn scoring_uri(&self, endpoint: &str) -> String {
        format!(
            "{}/endpoints/{}/score",
            self.runtime.scoring_base,
            key(endpoint)
        )
    }

    fn system_data(previous: Option<&SystemData>) -> SystemData {
        let at = now();
        SystemData {
            created_at: previous
                .and_then(|p| p.created_at.clone())
                .or(Some(at.clone())),
            created_by: Some("local".into()),
            created_by_type: Some(arm::CreatedByType::User),
            last_modified_at: Some(at),
            last_modified_by: Some("local".into()),
            last_modified_by_type: Some(arm::CreatedByType::User),
            extra: BTreeMap::new(),
        }
    }

    // ---------------------------------------------------------------- endpoints

    pub async fn list_endpoints(&self, workspace_id: &str) -> Vec<OnlineEndpoint> {
        let state = self.state.lock().await;
        state
            .endpoints
            .values()
            .filter(|e| e.workspace_id.eq_ignore_ascii_case(workspace_id))
            .map(|e| e.resource.clone())
            .collect()
    }

    pub async fn get_endpoint(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> Result<OnlineEndpoint, ArmFailure> {
        let state = self.state.lock().await;
        find_endpoint(&state, workspace_id, name).map(|e| e.resource.clone())
    }

    /// PUT: creates the endpoint (201, then Succeeded once its route is up) or replaces its
    /// settings (200). Like Azure, a PUT replaces `traffic` and `mirrorTraffic` with what it
    /// carries — leaving them out sets them to nothing.
    pub async fn put_endpoint(
        self: &Arc<Self>,
        workspace_id: &str,
        name: &str,
        body: OnlineEndpoint,
    ) -> Result<Accepted<OnlineEndpoint>, ArmFailure> {
        let name = parse_name(name, "endpoint name")?;
        let guard = self.claim(name.as_str())?;
        let auth = match &body.properties.auth_mode {
            Some(arm::AuthMode::Key) => AuthMode::Key,
            Some(arm::AuthMode::AmlToken) => AuthMode::AmlToken,
            Some(other) => {
                return Err(ArmFailure::invalid_field(
                    "properties.authMode",
                    format!("authMode {other:?} is not supported by the local workspace; use Key or AMLToken"),
                ))
            }
            None => {
                return Err(ArmFailure::invalid_field(
                    "properties.authMode",
                    "properties.authMode is required (Key or AMLToken)",
                ))
            }
        };
        let (traffic, mirror) = body.properties.splits();
        let mut state = self.state.lock().await;
        if let Some(other) = state.endpoints.get(&key(name.as_str())) {
            if !other.workspace_id.eq_ignore_ascii_case(workspace_id) {
                return Err(ArmFailure::endpoint_name_taken(name.as_str()));
            }
        }
        let existing = state.endpoints.get(&key(name.as_str())).cloned();
        let deployment_names: Vec<String> = existing
            .as_ref()
            .map(|e| {
                e.deployments
                    .values()
                    .filter_map(|d| d.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        let names: Vec<&str> = deployment_names.iter().map(String::as_str).collect();
        check_traffic(&traffic, &mirror, &names).map_err(ArmFailure::rules_broken)?;

        let mut resource = body;
        resource.id = Some(format!("{workspace_id}/onlineEndpoints/{}", name.as_str()));
        resource.name = Some(name.to_string());
        resource.resource_type = Some(ENDPOINT_TYPE.into());
        resource.location = resource.location.or(Some(LOCATION.into()));
        resource.system_data = Some(Self::system_data(
            existing
                .as_ref()
                .and_then(|e| e.resource.system_data.as_ref()),
        ));
        let provided_keys = resource.properties.keys.take();
        let properties = &mut resource.properties;
        properties.traffic = Some(traffic.clone());
        properties.mirror_traffic = Some(mirror.clone());
        properties.scoring_uri = Some(self.scoring_uri(name.as_str()));
        properties.swagger_uri = Some(format!(
            "{}/endpoints/{}/swagger.json",
            self.runtime.scoring_base,
            key(name.as_str())
        ));

        match existing {
            Some(mut stored) => {
                resource.properties.provisioning_state = Some(ProvisioningState::Succeeded);
                stored.resource = resource.clone();
                if let Some(route) = self.routes.get(&key(name.as_str())) {
                    route.set_auth(auth);
                    route.set_traffic(weights(&traffic), mirror_of(&mirror));
                }
                state.endpoints.insert(key(name.as_str()), stored);
                self.save(&state).await?;
                Ok(Accepted {
                    status: StatusCode::OK,
                    resource: Some(resource),
                    operation: None,
                })
            }
            None => {
                let keys = provided_keys
                    .map(|k| {
                        [
                            k.primary_key.unwrap_or_else(new_key),
                            k.secondary_key.unwrap_or_else(new_key),
                        ]
                    })
                    .unwrap_or_else(|| [new_key(), new_key()]);
                resource.properties.provisioning_state = Some(ProvisioningState::Creating);
                let stored = StoredEndpoint {
                    workspace_id: workspace_id.to_owned(),
                    resource: resource.clone(),
                    keys,
                    deployments: BTreeMap::new(),
                };
                self.route_for(&stored);
                state.endpoints.insert(key(name.as_str()), stored);
                self.save(&state).await?;
                drop(state);
                let workspace = Arc::clone(self);
                let endpoint = key(name.as_str());
                let operation = self.in_background(guard, async move {
                    // The route is live already; the short pause keeps clients honest about
                    // polling, as Azure's minutes-long creation does.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    workspace
                        .set_endpoint_state(&endpoint, ProvisioningState::Succeeded)
                        .await
                });
                Ok(Accepted {
                    status: StatusCode::CREATED,
                    resource: Some(resource),
                    operation: Some(operation),
                })
            }
        }
    }

    async fn set_endpoint_state(
        &self,
        endpoint: &str,
        provisioning: ProvisioningState,
    ) -> Result<(), ArmFailure> {
        let mut state = self.state.lock().await;
        if let Some(stored) = state.endpoints.get_mut(endpoint) {
            stored.resource.properties.provisioning_state = Some(provisioning);
        }
        self.save(&state).await
    }

    /// PATCH: merges tags (and, as the console needs, `properties.traffic` /
    /// `properties.mirrorTraffic` when present) into the endpoint.
    pub async fn patch_endpoint(
        self: &Arc<Self>,
        workspace_id: &str,
        name: &str,
        patch: serde_json::Value,
    ) -> Result<Accepted<OnlineEndpoint>, ArmFailure> {
        let current = self.get_endpoint(workspace_id, name).await?;
        let body = apply_patch(&current, &patch, "an endpoint")?;
        let mut done = self.put_endpoint(workspace_id, name, body).await?;
        done.status = StatusCode::ACCEPTED;
        let operation = self.operations.start();
        self.operations.finish(&operation, Ok(()));
        done.operation = Some(operation);
        Ok(done)
    }

    /// DELETE: stops every deployment's instances and removes the endpoint (202), or 204 when
    /// there is no such endpoint.
    pub async fn delete_endpoint(
        self: &Arc<Self>,
        workspace_id: &str,
        name: &str,
    ) -> Result<Accepted<()>, ArmFailure> {
        {
            let state = self.state.lock().await;
            if find_endpoint(&state, workspace_id, name).is_err() {
                return Ok(Accepted {
                    status: StatusCode::NO_CONTENT,
                    resource: None,
                    operation: None,
                });
            }
        }
        let guard = self.claim(name)?;
        self.set_endpoint_state(&key(name), ProvisioningState::Deleting)
            .await?;
        let workspace = Arc::clone(self);
        let endpoint = key(name);
        let operation = self.in_background(guard, async move {
            if let Some(route) = workspace.routes.remove(&endpoint) {
                for pool in route.pools() {
                    pool.shutdown().await;
                }
            }
            let mut state = workspace.state.lock().await;
            state.endpoints.remove(&endpoint);
            workspace.save(&state).await
        });
        Ok(Accepted {
            status: StatusCode::ACCEPTED,
            resource: None,
            operation: Some(operation),
        })
    }

    pub async fn keys(&self, workspace_id: &str, name: &str) -> Result<[String; 2], ArmFailure> {
        let state = self.state.lock().await;
        let stored = find_endpoint(&state, workspace_id, name)?;
        if auth_of(&stored.resource) != AuthMode::Key {
            return Err(ArmFailure::keys_need_key_auth());
        }
        Ok(stored.keys.clone())
    }

    /// Replaces one key (with `value`, or a new random one); the old key stops working at once.
    pub async fn regenerate_key(
        &self,
        workspace_id: &str,
        name: &str,
        secondary: bool,
        value: Option<String>,
    ) -> Result<String, ArmFailure> {
        let mut state = self.state.lock().await;
        let stored = find_endpoint(&state, workspace_id, name)?.clone();
        let mut keys = stored.keys.clone();
        keys[usize::from(secondary)] = value.filter(|v| !v.is_empty()).unwrap_or_else(new_key);
        if let Some(route) = self.routes.get(&key(name)) {
            route.set_keys(keys.clone());
        }
        if let Some(entry) = state.endpoints.get_mut(&key(name)) {
            entry.keys = keys;
        }
        self.save(&state).await?;
        let operation = self.operations.start();
        self.operations.finish(&operation, Ok(()));
        Ok(operation)
    }

    /// Issues a scoring token for an AMLToken endpoint: (token, expiry, refresh-after).
    pub async fn token(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> Result<(String, i64, i64), ArmFailure> {
        let state = self.state.lock().await;
        let stored = find_endpoint(&state, workspace_id, name)?;
        if auth_of(&stored.resource) != AuthMode::AmlToken {
            return Err(ArmFailure::tokens_need_aml_token_auth());
        }
        let token = new_key();
        let expiry = chrono::Utc::now() + chrono::Duration::hours(1);
        if let Some(route) = self.routes.get(&key(name)) {
            route.add_token(token.clone(), expiry);
        }
        Ok((
            token,
            expiry.timestamp(),
            (expiry - chrono::Duration::minutes(15)).timestamp(),
        ))
    }

    // -------------------------------------------------------------- deployments

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
        let guard = self.claim(endpoint)?;
        let mut state = self.state.lock().await;
        let stored = find_endpoint(&state, workspace_id, endpoint)?.clone();
        let existing = stored.deployments.get(&key(name.as_str())).cloned();
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
        resource.system_data = Some(Self::system_data(
            existing.as_ref().and_then(|d| d.system_data.as_ref()),
        ));
        let count = instance_count(&resource);
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
        let spec = self.instance_spec(&state, &resource)?;
        let route = self
            .routes
            .get(&key(endpoint))
            .ok_or_else(|| ArmFailure::resource_not_found("endpoint", endpoint))?;

        let (status, provisioning) = match (&existing, route.pool(&key(name.as_str()))) {
            (Some(old), Some(pool)) if same_code(old, &resource) => {
                pool.scale(count);
                (StatusCode::OK, ProvisioningState::Scaling)
            }
            (_, old_pool) => {
                let pool = DeploymentPool::new(name.as_str(), spec, self.runtime.http.clone());
                pool.scale(count);
                route.add_pool(&key(name.as_str()), pool);
                if let Some(old_pool) = old_pool {
                    tokio::spawn(async move { old_pool.shutdown().await });
                }
                let status = if existing.is_some() {
                    StatusCode::OK
                } else {
                    StatusCode::CREATED
                };
                let provisioning = if existing.is_some() {
                    ProvisioningState::Updating
                } else {
                    ProvisioningState::Creating
                };
                (status, provisioning)
            }
        };
        resource.properties.provisioning_state = Some(provisioning);
        if let Some(entry) = state.endpoints.get_mut(&key(endpoint)) {
            entry
                .deployments
                .insert(key(name.as_str()), resource.clone());
        }
        self.save(&state).await?;
        drop(state);
        let operation = self.follow_deployment(guard, endpoint, name.as_str(), &resource);
        Ok(Accepted {
            status,
            resource: Some(resource),
            operation: Some(operation),
        })
    }

    /// Waits in the background until the deployment's instances settle, then records the
    /// outcome in the resource and the operation.
    fn follow_deployment(
        self: &Arc<Self>,
        guard: BusyGuard,
        endpoint: &str,
        deployment: &str,
        resource: &OnlineDeployment,
    ) -> String {
        let workspace = Arc::clone(self);
        let endpoint = key(endpoint);
        let deployment = key(deployment);
        let readiness = readiness_of(resource);
        self.in_background(guard, async move {
            let pool = workspace
                .pool(&endpoint, &deployment)
                .ok_or_else(|| ArmFailure::resource_not_found("deployment", &deployment))?;
            // Start-up budget, plus time to drain instances being removed.
            let limit = readiness.budget() + Duration::from_secs(60);
            let (provisioning, outcome) = match pool.wait_settled(limit).await {
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
            return Ok(Accepted {
                status: StatusCode::NO_CONTENT,
                resource: None,
                operation: None,
            });
        };
        let real_name = existing.name.clone().unwrap_or_else(|| name.to_owned());
        let (traffic, mirror) = stored.resource.properties.splits();
        check_deployment_delete(&real_name, &traffic, &mirror)
            .map_err(|v| ArmFailure::rules_broken(vec![v]))?;
        if let Some(entry) = state
            .endpoints
            .get_mut(&key(endpoint))
            .and_then(|e| e.deployments.get_mut(&key(name)))
        {
            entry.properties.provisioning_state = Some(ProvisioningState::Deleting);
        }
        self.save(&state).await?;
        drop(state);
        let workspace = Arc::clone(self);
        let (endpoint, deployment) = (key(endpoint), key(name));
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
        Ok(Accepted {
            status: StatusCode::ACCEPTED,
            resource: None,
            operation: Some(operation),
        })
    }

    // ------------------------------------------------------------------- assets

    /// Registers (or replaces) an asset version under its ARM id in `workspace_id`.
    pub async fn put_asset(
        &self,
        workspace_id: &str,
        asset: &AssetRef,
        mut body: serde_json::Value,
    ) -> Result<serde_json::Value, ArmFailure> {
        let id = asset.id_in(workspace_id);
        body["id"] = id.clone().into();
        // An asset version's resource name is its version.
        body["name"] = asset.version.clone().into();
        body["type"] = format!(
            "Microsoft.MachineLearningServices/workspaces/{}/versions",
            asset.kind
        )
        .into();
        if !body["properties"].is_object() {
            return Err(ArmFailure::invalid_field(
                "properties",
                format!("asset {} needs properties", asset.name),
            ));
        }
        let mut state = self.state.lock().await;
        state.assets.insert(id.to_ascii_lowercase(), body.clone());
        self.save(&state).await?;
        Ok(body)
    }

    /// An asset version, asked for under `workspace_id`. The local workspaces share their
    /// assets (the demo models are registered once), so one registered under any workspace
    /// path is found from all.
    pub async fn get_asset(
        &self,
        workspace_id: &str,
        asset: &AssetRef,
    ) -> Result<serde_json::Value, ArmFailure> {
        let state = self.state.lock().await;
        find_asset(&state, asset)
            .cloned()
            .ok_or_else(|| ArmFailure::resource_not_found("asset", &asset.id_in(workspace_id)))
    }

    /// Every registered version of `kind`, keyed by `(name, version)` (the local workspaces
    /// share their assets, so one registered under any workspace path counts once).
    fn asset_versions_of(
        state: &Snapshot,
        kind: AssetKind,
    ) -> BTreeMap<(String, String), serde_json::Value> {
        let mut found = BTreeMap::new();
        for asset in state.assets.values() {
            let id = asset["id"].as_str().unwrap_or_default();
            if let Ok(AssetRef { name, version, .. }) = AssetRef::parse(id, kind) {
                found
                    .entry((name, version))
                    .or_insert_with(|| asset.clone());
            }
        }
        found
    }

    /// The asset containers of `kind` (ARM's `GET .../{kind}`), each with its latest version.
    pub async fn asset_containers(
        &self,
        workspace_id: &str,
        kind: AssetKind,
    ) -> Vec<serde_json::Value> {
        let state = self.state.lock().await;
        let mut latest: BTreeMap<String, String> = BTreeMap::new();
        for (name, version) in Self::asset_versions_of(&state, kind).into_keys() {
            latest.insert(name, version);
        }
        latest
            .into_iter()
            .map(|(name, version)| {
                serde_json::json!({
                    "id": format!("{workspace_id}/{kind}/{name}"),
                    "name": name,
                    "type": format!("Microsoft.MachineLearningServices/workspaces/{kind}"),
                    "properties": { "latestVersion": version, "isArchived": false },
                })
            })
            .collect()
    }

    /// The versions of asset `name` of `kind` (ARM's `GET .../{kind}/{name}/versions`).
    pub async fn asset_versions(
        &self,
        kind: AssetKind,
        name: &str,
    ) -> Result<Vec<serde_json::Value>, ArmFailure> {
        let state = self.state.lock().await;
        let versions: Vec<serde_json::Value> = Self::asset_versions_of(&state, kind)
            .into_iter()
            .filter(|((asset, _), _)| asset.eq_ignore_ascii_case(name))
            .map(|(_, body)| body)
            .collect();
        if versions.is_empty() {
            return Err(ArmFailure::resource_not_found(kind.as_str(), name));
        }
        Ok(versions)
    }

    /// Where an instance of `deployment` finds its model and scoring code.
    fn instance_spec(
        &self,
        state: &Snapshot,
        deployment: &OnlineDeployment,
    ) -> Result<InstanceSpec, ArmFailure> {
        let properties = &deployment.properties;
        let model = properties.model.as_deref().ok_or_else(|| {
            ArmFailure::invalid_field("properties.model", "properties.model is required")
        })?;
        let model_dir = asset_path(
            state,
            AssetKind::Models,
            model,
            "modelUri",
            "properties.model",
        )?;
        let code = properties.code_configuration.as_ref().ok_or_else(|| {
            ArmFailure::invalid_field(
                "properties.codeConfiguration",
                "properties.codeConfiguration (codeId and scoringScript) is required",
            )
        })?;
        let code_id = code.code_id.as_deref().ok_or_else(|| {
            ArmFailure::invalid_field(
                "properties.codeConfiguration.codeId",
                "properties.codeConfiguration.codeId is required",
            )
        })?;
        let code_dir = asset_path(
            state,
            AssetKind::Codes,
            code_id,
            "codeUri",
            "properties.codeConfiguration.codeId",
        )?;
        let scoring_script = code.scoring_script.clone().ok_or_else(|| {
            ArmFailure::invalid_field(
                "properties.codeConfiguration.scoringScript",
                "properties.codeConfiguration.scoringScript is required",
            )
        })?;
        if !code_dir.join(&scoring_script).is_file() {
            return Err(ArmFailure::invalid_field(
                "properties.codeConfiguration.scoringScript",
                format!("scoring script {scoring_script} is not in the code asset"),
            ));
        }
        Ok(InstanceSpec {
            python: self.runtime.python.clone(),
            harness: self.runtime.harness.clone(),
            code_dir,
            scoring_script,
            model_dir,
            environment: properties.environment_variables.clone().unwrap_or_default(),
            readiness: readiness_of(deployment),
            liveness: probe_of(
                properties.liveness_probe.as_ref(),
                Probe::default_liveness(),
            ),
            request_timeout: request_timeout_of(deployment),
            max_concurrent_per_instance: properties
                .request_settings
                .as_ref()
                .and_then(|r| r.max_concurrent_requests_per_instance)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(1),
        })
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

fn find_endpoint<'a>(
    state: &'a Snapshot,
    workspace_id: &str,
    name: &str,
) -> Result<&'a StoredEndpoint, ArmFailure> {
    state
        .endpoints
        .get(&key(name))
        .filter(|e| e.workspace_id.eq_ignore_ascii_case(workspace_id))
        .ok_or_else(|| ArmFailure::resource_not_found("endpoint", name))
}

fn auth_of(endpoint: &OnlineEndpoint) -> AuthMode {
    match endpoint.properties.auth_mode {
        Some(arm::AuthMode::AmlToken) => AuthMode::AmlToken,
        _ => AuthMode::Key,
    }
}

fn weights(traffic: &BTreeMap<String, i64>) -> BTreeMap<String, u32> {
    traffic
        .iter()
        .filter_map(|(name, share)| Some((key(name), u32::try_from(*share).ok()?)))
        .collect()
}

fn mirror_of(mirror: &BTreeMap<String, i64>) -> Option<(String, u32)> {
    mirror
        .iter()
        .find(|(_, share)| **share > 0)
        .and_then(|(name, share)| Some((key(name), u32::try_from(*share).ok()?)))
}

fn instance_count(deployment: &OnlineDeployment) -> usize {
    deployment
        .sku
        .as_ref()
        .and_then(|s| s.capacity)
        .and_then(|c| usize::try_from(c).ok())
        .unwrap_or(1)
}

/// True when only the instance count differs, so scaling the pool is enough.
fn same_code(old: &OnlineDeployment, new: &OnlineDeployment) -> bool {
    let (a, b) = (&old.properties, &new.properties);
    a.model == b.model
        && a.code_configuration == b.code_configuration
        && a.environment_variables == b.environment_variables
        && a.request_settings == b.request_settings
        && a.liveness_probe == b.liveness_probe
        && a.readiness_probe == b.readiness_probe
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

fn readiness_of(deployment: &OnlineDeployment) -> Probe {
    probe_of(
        deployment.properties.readiness_probe.as_ref(),
        Probe::default_readiness(),
    )
}

fn probe_of(settings: Option<&arm::ProbeSettings>, default: Probe) -> Probe {
    let Some(settings) = settings else {
        return default;
    };
    let duration = |text: &Option<String>, fallback| {
        text.as_deref()
            .and_then(|t| parse_iso8601_duration(t).ok())
            .unwrap_or(fallback)
    };
    Probe {
        initial_delay: duration(&settings.initial_delay, default.initial_delay),
        period: duration(&settings.period, default.period),
        timeout: duration(&settings.timeout, default.timeout),
        failure_threshold: settings
            .failure_threshold
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(default.failure_threshold),
    }
}

fn request_timeout_of(deployment: &OnlineDeployment) -> Duration {
    deployment
        .properties
        .request_settings
        .as_ref()
        .and_then(|s| s.request_timeout.as_deref())
        .and_then(|t| parse_iso8601_duration(t).ok())
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT)
}

/// Resolves a reference to a registered asset (`azureml:name:version` or an ARM id ending in
/// `/{kind}/{name}/versions/{version}`) to its local folder.
fn asset_path(
    state: &Snapshot,
    kind: AssetKind,
    reference: &str,
    uri_field: &str,
    field: &str,
) -> Result<PathBuf, ArmFailure> {
    let wanted = AssetRef::parse(reference, kind)
        .map_err(|e| ArmFailure::invalid_field(field, e.to_string()))?;
    let asset = find_asset(state, &wanted).ok_or_else(|| {
        ArmFailure::invalid_field(field, format!("{reference} is not registered"))
    })?;
    let uri = asset["properties"][uri_field].as_str().unwrap_or_default();
    let path = uri.strip_prefix("file://").ok_or_else(|| {
        ArmFailure::invalid_field(
            field,
            format!("{reference} must point at a local folder (file://), not {uri:?}"),
        )
    })?;
    Ok(PathBuf::from(path))
}

/// The registered version `wanted` names, under whichever workspace path it was registered.
fn find_asset<'a>(state: &'a Snapshot, wanted: &AssetRef) -> Option<&'a serde_json::Value> {
    state
        .assets
        .iter()
        .find(|(id, _)| AssetRef::parse(id, wanted.kind).is_ok_and(|r| r.same_version(wanted)))
        .map(|(_, asset)| asset)
}

/// `current` with a PATCH body merged in, read back as the resource type (`what` names it in
/// the refusal when the result no longer fits).
fn apply_patch<T>(current: &T, patch: &serde_json::Value, what: &str) -> Result<T, ArmFailure>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut merged = serde_json::to_value(current).map_err(|e| ArmFailure::internal(&e.into()))?;
    merge_json(&mut merged, patch);
    serde_json::from_value(merged).map_err(|e| {
        ArmFailure::invalid_field("body", format!("the patch does not fit {what}: {e}"))
    })
}

/// RFC 7386 JSON merge patch.
fn merge_json(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(target), serde_json::Value::Object(patch)) => {
            for (k, v) in patch {
                if v.is_null() {
                    target.remove(k);
                } else {
                    merge_json(
                        target.entry(k.clone()).or_insert(serde_json::Value::Null),
                        v,
                    );
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_replaces_leaves_and_removes_nulls() {
        let mut doc = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}, "e": 4});
        merge_json(
            &mut doc,
            &serde_json::json!({"b": {"c": 5, "d": null}, "e": null, "f": 6}),
        );
        assert_eq!(doc, serde_json::json!({"a": 1, "b": {"c": 5}, "f": 6}));
    }

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

    #[test]
    fn asset_ids_match_across_workspaces_by_their_tail() {
        let mut state = Snapshot::default();
        let id = "/subscriptions/s/resourceGroups/g/providers/P/workspaces/w/models/M/versions/1";
        state
            .assets
            .insert(id.to_ascii_lowercase(), serde_json::json!({ "id": id }));
        let asked = |reference: &str| {
            let asset = AssetRef::parse(reference, AssetKind::Models).expect("a reference");
            find_asset(&state, &asset).map(|a| a["id"].clone())
        };
        let other_workspace = "/subscriptions/t/resourceGroups/h/providers/P/workspaces/v";
        assert_eq!(
            asked(&format!("{other_workspace}/models/m/versions/1")),
            Some(id.into())
        );
        assert_eq!(asked("azureml:m:1"), Some(id.into()));
        assert_eq!(asked("azureml:m:2"), None);
    }

    #[test]
    fn traffic_weights_use_lowercase_names() {
        let traffic = BTreeMap::from([("Blue".to_owned(), 90), ("green".to_owned(), 10)]);
        let w = weights(&traffic);
        assert_eq!(w.get("blue"), Some(&90));
        assert_eq!(
            mirror_of(&BTreeMap::from([("g".into(), 0), ("h".into(), 10)])),
            Some(("h".into(), 10))
        );
    }
}
