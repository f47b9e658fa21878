//! The live routing state of each endpoint: who may call it, where its traffic goes, and the
//! instance pools behind its deployments. The control plane writes it; the scoring router reads it.

use super::instances::DeploymentPool;
use super::locks;
use super::metrics::EndpointMetrics;
use crate::secret::constant_time_eq;
use chrono::{DateTime, Utc};
use rand::Rng;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// How callers prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// The endpoint's primary or secondary key.
    Key,
    /// A token from the `token` action, valid until its expiry.
    AmlToken,
}

/// One endpoint's routing state.
#[derive(Debug)]
pub struct EndpointRoute {
    pub name: String,
    state: RwLock<RouteState>,
    pub metrics: EndpointMetrics,
}

#[derive(Debug, Clone)]
struct RouteState {
    auth: AuthMode,
    keys: [String; 2],
    tokens: HashMap<String, DateTime<Utc>>,
    /// Live shares by deployment, in percent.
    traffic: BTreeMap<String, u32>,
    /// The mirror deployment and its share, when mirroring.
    mirror: Option<(String, u32)>,
    pools: BTreeMap<String, DeploymentPool>,
}

/// Where one request goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub deployment: String,
    pub pool: DeploymentPool,
    /// Whether this request was drawn by weight (only those may be mirrored).
    pub by_weight: bool,
}

impl EndpointRoute {
    pub fn new(name: &str, auth: AuthMode, keys: [String; 2]) -> Self {
        Self {
            name: name.to_owned(),
            state: RwLock::new(RouteState {
                auth,
                keys,
                tokens: HashMap::new(),
                traffic: BTreeMap::new(),
                mirror: None,
                pools: BTreeMap::new(),
            }),
            metrics: EndpointMetrics::default(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, RouteState> {
        locks::read(&self.state)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, RouteState> {
        locks::write(&self.state)
    }

    pub fn set_auth(&self, auth: AuthMode) {
        self.write().auth = auth;
    }

    /// Replaces the keys; the old ones stop working at once.
    pub fn set_keys(&self, keys: [String; 2]) {
        self.write().keys = keys;
    }

    pub fn keys(&self) -> [String; 2] {
        self.read().keys.clone()
    }

    /// Remembers a token issued by the `token` action until it expires.
    pub fn add_token(&self, token: String, expires: DateTime<Utc>) {
        let mut state = self.write();
        let now = Utc::now();
        state.tokens.retain(|_, expiry| *expiry > now);
        state.tokens.insert(token, expires);
    }

    /// True when `credential` may call this endpoint under its auth mode.
    pub fn authorizes(&self, credential: &str) -> bool {
        let state = self.read();
        match state.auth {
            AuthMode::Key => state
                .keys
                .iter()
                .any(|k| !k.is_empty() && constant_time_eq(k.as_bytes(), credential.as_bytes())),
            AuthMode::AmlToken => state
                .tokens
                .get(credential)
                .is_some_and(|expiry| *expiry > Utc::now()),
        }
    }

    pub fn set_traffic(&self, traffic: BTreeMap<String, u32>, mirror: Option<(String, u32)>) {
        let mut state = self.write();
        state.traffic = traffic;
        state.mirror = mirror.filter(|(_, share)| *share > 0);
    }

    pub fn add_pool(&self, deployment: &str, pool: DeploymentPool) {
        self.write().pools.insert(deployment.to_owned(), pool);
    }

    pub fn remove_pool(&self, deployment: &str) -> Option<DeploymentPool> {
        self.write().pools.remove(deployment)
    }

    pub fn pool(&self, deployment: &str) -> Option<DeploymentPool> {
        self.read().pools.get(deployment).cloned()
    }

    /// How many instances of each deployment are ready to take requests.
    pub fn ready_counts(&self) -> BTreeMap<String, u64> {
        self.read()
            .pools
            .iter()
            .map(|(name, pool)| (name.clone(), pool.ready_instances().len() as u64))
            .collect()
    }

    pub fn pools(&self) -> Vec<DeploymentPool> {
        self.read().pools.values().cloned().collect()
    }

    /// Stops the instances of every deployment, one pool after the other.
    pub async fn shutdown(&self) {
        for pool in self.pools() {
            pool.shutdown().await;
        }
    }

    /// The deployment named by the caller, or one drawn by the live traffic weights.
    pub fn pick(&self, named: Option<&str>) -> Option<Target> {
        let state = self.read();
        if let Some(name) = named {
            let name = name.to_ascii_lowercase();
            return state.pools.get(&name).map(|pool| Target {
                deployment: name,
                pool: pool.clone(),
                by_weight: false,
            });
        }
        let total: u32 = state.traffic.values().sum();
        if total == 0 {
            return None;
        }
        let mut draw = rand::thread_rng().gen_range(0..total);
        let chosen = state.traffic.iter().find(|(_, share)| {
            if draw < **share {
                true
            } else {
                draw -= **share;
                false
            }
        })?;
        state.pools.get(chosen.0).map(|pool| Target {
            deployment: chosen.0.clone(),
            pool: pool.clone(),
            by_weight: true,
        })
    }

    /// The mirror deployment, when this request is among the mirrored share.
    pub fn draw_mirror(&self) -> Option<Target> {
        let state = self.read();
        let (name, share) = state.mirror.as_ref()?;
        if rand::thread_rng().gen_range(0..100) >= *share {
            return None;
        }
        state.pools.get(name).map(|pool| Target {
            deployment: name.clone(),
            pool: pool.clone(),
            by_weight: false,
        })
    }
}

/// Every endpoint's routing state, by name.
#[derive(Debug, Default)]
pub struct RoutingTable {
    endpoints: RwLock<HashMap<String, Arc<EndpointRoute>>>,
}

impl RoutingTable {
    pub fn get(&self, endpoint: &str) -> Option<Arc<EndpointRoute>> {
        locks::read(&self.endpoints).get(endpoint).cloned()
    }

    pub fn insert(&self, route: Arc<EndpointRoute>) {
        locks::write(&self.endpoints).insert(route.name.clone(), route);
    }

    /// Every endpoint, by name.
    pub fn all(&self) -> Vec<Arc<EndpointRoute>> {
        let mut all: Vec<_> = locks::read(&self.endpoints).values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    pub fn remove(&self, endpoint: &str) -> Option<Arc<EndpointRoute>> {
        locks::write(&self.endpoints).remove(endpoint)
    }
}
