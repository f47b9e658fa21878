//! Starting one harness process and waiting until it reports that it serves.

use super::logs::LogBuffer;
use crate::sys;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// The line the harness prints once `init()` returned and it listens.
const READY_PREFIX: &str = "HARNESS_READY port=";
/// The line the harness prints (to stderr) before exiting when `init()` raised.
const INIT_FAILED_PREFIX: &str = "HARNESS_INIT_FAILED: ";

/// Probe settings, as a deployment's `readinessProbe` / `livenessProbe` give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
}

impl Probe {
    /// Azure's defaults for a managed deployment's readiness probe.
    pub fn default_readiness() -> Self {
        Self {
            initial_delay: Duration::from_secs(10),
            period: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            failure_threshold: 30,
        }
    }

    /// Azure's defaults for a managed deployment's liveness probe.
    pub fn default_liveness() -> Self {
        Self {
            initial_delay: Duration::from_secs(10),
            period: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            failure_threshold: 30,
        }
    }

    /// How long an instance may take from start to passing this probe.
    pub fn budget(&self) -> Duration {
        self.initial_delay + self.period * self.failure_threshold.max(1)
    }
}

/// Everything needed to start an instance of a deployment.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    pub python: PathBuf,
    pub harness: PathBuf,
    pub code_dir: PathBuf,
    pub scoring_script: String,
    pub model_dir: PathBuf,
    pub environment: BTreeMap<String, String>,
    pub readiness: Probe,
    pub liveness: Probe,
    pub request_timeout: Duration,
    /// `maxConcurrentRequestsPerInstance`: bounds how many requests may wait per instance.
    pub max_concurrent_per_instance: usize,
}

/// A started harness that reported its port.
#[derive(Debug)]
pub(super) struct Started {
    pub child: Child,
    pub address: SocketAddr,
}

/// Why an instance did not come up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StartError {
    /// The scoring script's `init()` (or its import) raised; the traceback's last line.
    InitFailed(String),
    /// Anything else: the process would not start, died, or never reported ready.
    Other(String),
}

/// Starts a harness for `spec` and waits for its ready line, copying everything it prints
/// into `logs` with the instance's name in front.
pub(super) async fn start(
    spec: &InstanceSpec,
    instance: &str,
    logs: &Arc<LogBuffer>,
) -> Result<Started, StartError> {
    let mut command = std::process::Command::new(&spec.python);
    command
        .arg("-u")
        .arg(&spec.harness)
        .arg("--code-dir")
        .arg(&spec.code_dir)
        .arg("--scoring-script")
        .arg(&spec.scoring_script)
        .arg("--model-dir")
        .arg(&spec.model_dir)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .envs(&spec.environment)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // An instance must not outlive the emulator, even after kill -9.
    sys::die_with_parent(&mut command, libc::SIGKILL);
    let mut command = Command::from(command);
    command.kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| StartError::Other(format!("cannot start {}: {e}", spec.python.display())))?;

    let (port_tx, port_rx) = oneshot::channel::<u16>();
    let (failed_tx, failed_rx) = oneshot::channel::<String>();
    if let Some(stdout) = child.stdout.take() {
        let logs = Arc::clone(logs);
        let prefix = instance.to_owned();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            let mut port_tx = Some(port_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.strip_prefix(READY_PREFIX) {
                    if let (Some(tx), Ok(port)) = (port_tx.take(), port.trim().parse()) {
                        let _ = tx.send(port);
                    }
                }
                logs.push(format!("[{prefix}] {line}"));
            }
        });
    }
    if let Some(stderr) = child.stderr.take() {
        let logs = Arc::clone(logs);
        let prefix = instance.to_owned();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut failed_tx = Some(failed_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(reason) = line.strip_prefix(INIT_FAILED_PREFIX) {
                    if let Some(tx) = failed_tx.take() {
                        let _ = tx.send(reason.to_owned());
                    }
                }
                logs.push(format!("[{prefix}] {line}"));
            }
        });
    }

    let budget = spec.readiness.budget();
    tokio::select! {
        port = port_rx => match port {
            Ok(port) => Ok(Started { child, address: SocketAddr::from(([127, 0, 0, 1], port)) }),
            Err(_) => Err(exit_reason(&mut child, failed_rx).await),
        },
        () = tokio::time::sleep(budget) => {
            let _ = child.kill().await;
            Err(StartError::Other(format!("the instance did not start serving within {budget:?}")))
        }
    }
}

/// After the process closed its stdout without a ready line: why it ended.
async fn exit_reason(child: &mut Child, failed: oneshot::Receiver<String>) -> StartError {
    let status = child.wait().await;
    // Stderr may still be draining; give it a moment to deliver the init failure.
    match tokio::time::timeout(Duration::from_secs(2), failed).await {
        Ok(Ok(reason)) => StartError::InitFailed(reason),
        _ => StartError::Other(match status {
            Ok(status) => format!("the instance exited during start-up ({status})"),
            Err(err) => format!("the instance failed during start-up: {err}"),
        }),
    }
}
