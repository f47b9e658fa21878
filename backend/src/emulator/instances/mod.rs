//! Deployment instances as real processes: one Python harness per instance running the Azure ML
//! scoring contract (`init()` once, `run(raw_data)` per request), with readiness and liveness
//! probes, restarts with backoff after a crash, draining on scale-down, and kept logs. Each
//! instance runs sandboxed: cleared environment, own folder and process group, and an
//! unprivileged account when Greenlight is root.

mod logs;
mod pool;
mod process;
mod sandbox;
mod upstream;

pub use logs::LogBuffer;
pub use pool::{DeploymentPool, InstanceInfo, PoolStatus, ScoreError, ScoreReply};
pub use process::{InstanceSpec, Probe};
pub use sandbox::SandboxSettings;
