//! Online endpoints: create, replace, patch and delete them with Azure's rules (unique names in
//! the region, traffic only to existing deployments), keep the scoring route in step with the
//! stored resource, and issue keys and tokens for its scoring URI.

use super::merge_patch::apply_patch;
use super::{key, new_key, parse_name, system_data, Accepted, LocalWorkspace};
use super::{ENDPOINT_TYPE, LOCATION};
use crate::emulator::arm::error::ArmFailure;
use crate::emulator::routing::{AuthMode, EndpointRoute};
use crate::emulator::state::{Snapshot, StoredEndpoint};
use axum::http::StatusCode;
use shared::arm::{self, EndpointAuthKeys, OnlineEndpoint, ProvisioningState};
use shared::check_traffic;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

impl LocalWorkspace {
    pub async fn list_endpoints(&self, workspace_id: &str) -> Vec<OnlineEndpoint> {
        let state = self.state.lock().await;
        state
            .endpoints
            .values()
            .filter(|e| e.workspace_id.eq_ignore_ascii_case(workspace_id))
            .map(|e| self.served(e))
            .collect()
    }

    /// The endpoint as this run serves it: its scoring URIs name the data plane's address now,
    /// which changes from run to run when it listens on port 0 (the stored ones may be stale).
    fn served(&self, stored: &StoredEndpoint) -> OnlineEndpoint {
        let mut resource = stored.resource.clone();
        if let Some(name) = resource.name.clone() {
            let endpoint = key(&name);
            resource.properties.scoring_uri = Some(self.scoring_uri(&endpoint, "score"));
            resource.properties.swagger_uri = Some(self.scoring_uri(&endpoint, "swagger.json"));
        }
        resource
    }

    pub async fn get_endpoint(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> Result<OnlineEndpoint, ArmFailure> {
        let state = self.state.lock().await;
        find_endpoint(&state, workspace_id, name).map(|e| self.served(e))
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
        let endpoint = key(name.as_str());
        let guard = self.claim(name.as_str())?;
        shared::text::check_endpoint_text(&body).map_err(ArmFailure::rules_broken)?;
        let auth = requested_auth(&body)?;
        let (traffic, mirror) = body.properties.splits();
        let mut state = self.state.lock().await;
        let existing = state.endpoints.get(&endpoint).cloned();
        if let Some(other) = &existing {
            if !other.workspace_id.eq_ignore_ascii_case(workspace_id) {
                return Err(ArmFailure::endpoint_name_taken(name.as_str()));
            }
        }
        let deployment_names: Vec<String> = existing
            .iter()
            .flat_map(|e| e.deployments.values().filter_map(|d| d.name.clone()))
            .collect();
        let names: Vec<&str> = deployment_names.iter().map(String::as_str).collect();
        check_traffic(&traffic, &mirror, &names).map_err(ArmFailure::rules_broken)?;

        let mut resource = body;
        resource.id = Some(format!("{workspace_id}/onlineEndpoints/{}", name.as_str()));
        resource.name = Some(name.to_string());
        resource.resource_type = Some(ENDPOINT_TYPE.into());
        resource.location = resource.location.or(Some(LOCATION.into()));
        resource.system_data = Some(system_data(
            existing
                .as_ref()
                .and_then(|e| e.resource.system_data.as_ref()),
        ));
        let provided_keys = resource.properties.keys.take();
        let properties = &mut resource.properties;
        properties.traffic = Some(traffic.clone());
        properties.mirror_traffic = Some(mirror.clone());
        properties.scoring_uri = Some(self.scoring_uri(&endpoint, "score"));
        properties.swagger_uri = Some(self.scoring_uri(&endpoint, "swagger.json"));

        let Some(mut stored) = existing else {
            resource.properties.provisioning_state = Some(ProvisioningState::Creating);
            let stored = StoredEndpoint {
                workspace_id: workspace_id.to_owned(),
                resource: resource.clone(),
                keys: keys_of(provided_keys),
                deployments: BTreeMap::new(),
            };
            self.route_for(&stored);
            state.endpoints.insert(endpoint.clone(), stored);
            self.save(&state).await?;
            drop(state);
            let workspace = Arc::clone(self);
            let operation = self.in_background(guard, async move {
                // The route is live already; the short pause keeps clients honest about
                // polling, as Azure's minutes-long creation does.
                tokio::time::sleep(Duration::from_millis(100)).await;
                workspace
                    .set_endpoint_state(&endpoint, ProvisioningState::Succeeded)
                    .await
            });
            return Ok(Accepted {
                status: StatusCode::CREATED,
                resource: Some(resource),
                operation: Some(operation),
            });
        };
        resource.properties.provisioning_state = Some(ProvisioningState::Succeeded);
        stored.resource = resource.clone();
        if let Some(route) = self.routes.get(&endpoint) {
            route.set_auth(auth);
            route.set_traffic(weights(&traffic), mirror_of(&mirror));
        }
        state.endpoints.insert(endpoint, stored);
        self.save(&state).await?;
        Ok(Accepted {
            status: StatusCode::OK,
            resource: Some(resource),
            operation: None,
        })
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
        done.operation = Some(self.operations.succeeded());
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
                return Ok(Accepted::nothing_to_do());
            }
        }
        let guard = self.claim(name)?;
        self.set_endpoint_state(&key(name), ProvisioningState::Deleting)
            .await?;
        let workspace = Arc::clone(self);
        let endpoint = key(name);
        let operation = self.in_background(guard, async move {
            if let Some(route) = workspace.routes.remove(&endpoint) {
                route.shutdown().await;
            }
            let mut state = workspace.state.lock().await;
            state.endpoints.remove(&endpoint);
            workspace.save(&state).await
        });
        Ok(Accepted::running(operation))
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
    /// Returns the (already finished) operation's id.
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
        Ok(self.operations.succeeded())
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

    /// Builds and registers the scoring route of a stored endpoint: who may call it and where
    /// its traffic goes (deployments add their pools to it).
    pub(super) fn route_for(&self, stored: &StoredEndpoint) -> Arc<EndpointRoute> {
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

    /// `<scoring base>/endpoints/<endpoint>/<leaf>`, e.g. the scoring URI (`score`).
    fn scoring_uri(&self, endpoint: &str, leaf: &str) -> String {
        format!("{}/endpoints/{endpoint}/{leaf}", self.runtime.scoring_base)
    }
}

/// The endpoint `name` of workspace `workspace_id`, or 404.
pub(super) fn find_endpoint<'a>(
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

/// The auth mode a PUT asks for: Key or AMLToken, the two the local workspace serves.
fn requested_auth(body: &OnlineEndpoint) -> Result<AuthMode, ArmFailure> {
    match &body.properties.auth_mode {
        Some(arm::AuthMode::Key) => Ok(AuthMode::Key),
        Some(arm::AuthMode::AmlToken) => Ok(AuthMode::AmlToken),
        Some(other) => Err(ArmFailure::invalid_field(
            "properties.authMode",
            format!(
                "authMode {other:?} is not supported by the local workspace; use Key or AMLToken"
            ),
        )),
        None => Err(ArmFailure::invalid_field(
            "properties.authMode",
            "properties.authMode is required (Key or AMLToken)",
        )),
    }
}

/// A new endpoint's primary and secondary key: those the PUT carries, new random ones else.
fn keys_of(provided: Option<EndpointAuthKeys>) -> [String; 2] {
    match provided {
        Some(k) => [
            k.primary_key.unwrap_or_else(new_key),
            k.secondary_key.unwrap_or_else(new_key),
        ],
        None => [new_key(), new_key()],
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
