//! The live routing state of each endpoint: who may call it, where its traffic goes, and the
//! instance pools behind its deployments. The control plane writes it; the scoring router reads
//! it as an immutable [`Routing`] snapshot, replaced whole on every change, so a request takes
//! one short read lock to clone an `Arc` and decides everything else without locks.

use super::instances::DeploymentPool;
use super::locks;
use super::metrics::{DeploymentMetrics, EndpointMetrics};
use crate::secret::constant_time_eq;
use axum::http::HeaderValue;
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
    routing: RwLock<Arc<Routing>>,
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

/// A deployment as the scoring path needs it: its pool, the header value naming it, and where
/// its requests are counted.
#[derive(Debug)]
pub struct Deployment {
    pub name: String,
    pub header: HeaderValue,
    pub pool: DeploymentPool,
    pub metrics: Arc<DeploymentMetrics>,
}

/// Where one request goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub deployment: Arc<Deployment>,
    /// Whether this request was drawn by weight (only those may be mirrored).
    pub by_weight: bool,
}

/// An endpoint's routing as of one change: what a request reads.
#[derive(Debug)]
pub struct Routing {
    auth: AuthMode,
    keys: [String; 2],
    tokens: HashMap<String, DateTime<Utc>>,
    deployments: BTreeMap<String, Arc<Deployment>>,
    /// Live shares in percent, each with its deployment (`None`: no pool of that name).
    traffic: Vec<(Option<Arc<Deployment>>, u32)>,
    total: u32,
    mirror: Option<(Option<Arc<Deployment>>, u32)>,
}

impl Routing {
    fn of(state: &RouteState, metrics: &EndpointMetrics) -> Self {
        let deployments: BTreeMap<String, Arc<Deployment>> = state
            .pools
            .iter()
            .map(|(name, pool)| {
                let deployment = Deployment {
                    name: name.clone(),
                    header: HeaderValue::from_str(name)
                        .unwrap_or_else(|_| HeaderValue::from_static("")),
                    pool: pool.clone(),
                    metrics: metrics.deployment(name),
                };
                (name.clone(), Arc::new(deployment))
            })
            .collect();
        let find = |name: &str| deployments.get(name).cloned();
        let traffic: Vec<_> = state
            .traffic
            .iter()
            .filter(|(_, share)| **share > 0)
            .map(|(name, share)| (find(name), *share))
            .collect();
        Self {
            auth: state.auth,
            keys: state.keys.clone(),
            tokens: state.tokens.clone(),
            total: traffic.iter().map(|(_, share)| share).sum(),
            traffic,
            mirror: state
                .mirror
                .as_ref()
                .map(|(name, share)| (find(name), *share)),
            deployments,
        }
    }

    /// True when `credential` may call this endpoint under its auth mode.
    pub fn authorizes(&self, credential: &str) -> bool {
        match self.auth {
            AuthMode::Key => self
                .keys
                .iter()
                .any(|k| !k.is_empty() && constant_time_eq(k.as_bytes(), credential.as_bytes())),
            AuthMode::AmlToken => self
                .tokens
                .get(credential)
                .is_some_and(|expiry| *expiry > Utc::now()),
        }
    }

    /// The deployment named by the caller, or one drawn by the live traffic weights.
    pub fn pick(&self, named: Option<&str>) -> Option<Target> {
        if let Some(name) = named {
            let found = match self.deployments.get(name) {
                Some(found) => Some(found),
                None => self.deployments.get(&name.to_ascii_lowercase()),
            };
            return found.map(|deployment| Target {
                deployment: Arc::clone(deployment),
                by_weight: false,
            });
        }
        if self.total == 0 {
            return None;
        }
        let mut draw = rand::thread_rng().gen_range(0..self.total);
        let (chosen, _) = self.traffic.iter().find(|(_, share)| {
            if draw < *share {
                true
            } else {
                draw -= *share;
                false
            }
        })?;
        chosen.as_ref().map(|deployment| Target {
            deployment: Arc::clone(deployment),
            by_weight: true,
        })
    }

    /// The mirror deployment, when this request is among the mirrored share.
    pub fn draw_mirror(&self) -> Option<Target> {
        let (deployment, share) = self.mirror.as_ref()?;
        if rand::thread_rng().gen_range(0..100) >= *share {
            return None;
        }
        deployment.as_ref().map(|deployment| Target {
            deployment: Arc::clone(deployment),
            by_weight: false,
        })
    }
}

impl EndpointRoute {
    pub fn new(name: &str, auth: AuthMode, keys: [String; 2]) -> Self {
        let state = RouteState {
            auth,
            keys,
            tokens: HashMap::new(),
            traffic: BTreeMap::new(),
            mirror: None,
            pools: BTreeMap::new(),
        };
        let metrics = EndpointMetrics::default();
        Self {
            name: name.to_owned(),
            routing: RwLock::new(Arc::new(Routing::of(&state, &metrics))),
            state: RwLock::new(state),
            metrics,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, RouteState> {
        locks::read(&self.state)
    }

    /// Changes the state with `change` and publishes the new routing, both under the state's
    /// write lock so snapshots follow changes in order.
    fn change<T>(&self, change: impl FnOnce(&mut RouteState) -> T) -> T {
        let mut state = locks::write(&self.state);
        let outcome = change(&mut state);
        *locks::write(&self.routing) = Arc::new(Routing::of(&state, &self.metrics));
        outcome
    }

    /// The routing as of now, for one request.
    pub fn routing(&self) -> Arc<Routing> {
        Arc::clone(&locks::read(&self.routing))
    }

    pub fn set_auth(&self, auth: AuthMode) {
        self.change(|state| state.auth = auth);
    }

    /// Replaces the keys; the old ones stop working at once.
    pub fn set_keys(&self, keys: [String; 2]) {
        self.change(|state| state.keys = keys);
    }

    pub fn keys(&self) -> [String; 2] {
        self.read().keys.clone()
    }

    /// Remembers a token issued by the `token` action until it expires.
    pub fn add_token(&self, token: String, expires: DateTime<Utc>) {
        self.change(|state| {
            let now = Utc::now();
            state.tokens.retain(|_, expiry| *expiry > now);
            state.tokens.insert(token, expires);
        });
    }

    /// True when `credential` may call this endpoint under its auth mode.
    pub fn authorizes(&self, credential: &str) -> bool {
        self.routing().authorizes(credential)
    }

    pub fn set_traffic(&self, traffic: BTreeMap<String, u32>, mirror: Option<(String, u32)>) {
        self.change(|state| {
            state.traffic = traffic;
            state.mirror = mirror.filter(|(_, share)| *share > 0);
        });
    }

    pub fn add_pool(&self, deployment: &str, pool: DeploymentPool) {
        self.change(|state| state.pools.insert(deployment.to_owned(), pool));
    }

    /// Takes `deployment` out of the routing: requests already routed to it finish on its
    /// instances (the pool drains them when shut down), new ones no longer reach it.
    pub fn remove_pool(&self, deployment: &str) -> Option<DeploymentPool> {
        self.change(|state| state.pools.remove(deployment))
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
