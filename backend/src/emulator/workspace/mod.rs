//! The local workspace's behaviour behind the ARM routes: endpoints and deployments with
//! Azure's rules, real instance pools, one operation at a time per endpoint, and persistence.
//!
//! One file per concern, so a change to one resource's behaviour is read and reviewed alone:
//! `lifecycle` (open, shutdown, the per-endpoint busy mark, background operations),
//! `endpoints`, `deployments`, `assets`, `instance_spec` (what an ARM deployment means for
//! the processes that serve it) and `merge_patch`. Here: the workspace itself and what every
//! resource shares.

mod assets;
mod deployments;
mod endpoints;
mod instance_spec;
mod lifecycle;
mod merge_patch;

pub use lifecycle::BusyGuard;

use super::arm::error::ArmFailure;
use super::operations::{now, Operations};
use super::routing::RoutingTable;
use super::state::{Snapshot, StateFile};
use axum::http::StatusCode;
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use shared::arm::{CreatedByType, SystemData};
use shared::ResourceName;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub const ENDPOINT_TYPE: &str = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints";
pub const DEPLOYMENT_TYPE: &str =
    "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments";
/// The region the local workspace reports.
pub const LOCATION: &str = "local";

/// How the local workspace runs instances.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub python: PathBuf,
    pub harness: PathBuf,
    /// `http://127.0.0.1:<port>` of the scoring router.
    pub scoring_base: String,
    pub http: reqwest::Client,
    /// The workspace's state folder: no asset may be in it (keys, TLS key).
    pub state_dir: PathBuf,
    /// Where instance folders go and whom instances run as.
    pub sandbox: crate::emulator::instances::SandboxSettings,
    /// The storage account uploads go to (code, models).
    pub blobs: Arc<crate::emulator::blobs::BlobService>,
    /// The Python environments deployments run in.
    pub environments: Arc<crate::emulator::environments::Environments>,
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

impl LocalWorkspace {
    /// The workspace's storage account.
    pub fn blobs(&self) -> &Arc<crate::emulator::blobs::BlobService> {
        &self.runtime.blobs
    }
}

/// What a write answered: the status, the resource, and the operation to poll when the work
/// goes on in the background.
#[derive(Debug)]
pub struct Accepted<T> {
    pub status: StatusCode,
    pub resource: Option<T>,
    pub operation: Option<String>,
}

impl<T> Accepted<T> {
    /// 204: there was nothing to do (e.g. deleting what does not exist).
    pub fn nothing_to_do() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            resource: None,
            operation: None,
        }
    }

    /// 202 without a body: the work goes on in `operation`.
    pub fn running(operation: String) -> Self {
        Self {
            status: StatusCode::ACCEPTED,
            resource: None,
            operation: Some(operation),
        }
    }
}

/// Endpoints and deployments are stored and routed by their name lowercased: Azure compares
/// them without case.
fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// A new endpoint key (or scoring token): 48 random letters and digits.
fn new_key() -> String {
    Alphanumeric.sample_string(&mut OsRng, 48)
}

/// An endpoint or deployment name from the path, refused by Azure's rule (`what` names it).
fn parse_name(raw: &str, what: &str) -> Result<ResourceName, ArmFailure> {
    ResourceName::parse(raw).map_err(|e| ArmFailure::invalid_field("name", format!("{what} {e}")))
}

/// ARM's `systemData` for a resource written now, keeping when it was first created.
fn system_data(previous: Option<&SystemData>) -> SystemData {
    let at = now();
    SystemData {
        created_at: previous
            .and_then(|p| p.created_at.clone())
            .or(Some(at.clone())),
        created_by: Some("local".into()),
        created_by_type: Some(CreatedByType::User),
        last_modified_at: Some(at),
        last_modified_by: Some("local".into()),
        last_modified_by_type: Some(CreatedByType::User),
        extra: BTreeMap::new(),
    }
}
