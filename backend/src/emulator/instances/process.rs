//! Starting one harness process and waiting until it reports that it serves.
//!
//! The process starts from a cleared environment (the deployment's variables that pass
//! [`shared::check_variable`], `AZUREML_MODEL_DIR`, a minimal `PATH`, `HOME` = its own folder),
//! with Python in isolated mode (`-I`: no `PYTHON*` variable, no user site), in its own process
//! group, from its own [`Sandbox`] folder, and as an unprivileged account when we are root.

use super::logs::LogBuffer;
use super::sandbox::{Sandbox, SandboxSettings};
use crate::sys;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// The programs an instance may find without a path.
const INSTANCE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

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
    /// Where instance folders go and whom instances run as.
    pub sandbox: SandboxSettings,
}

/// A started harness that reported its port. Dropping it kills the instance's whole process
/// group (whatever `init()` started too), then removes its folder.
#[derive(Debug)]
pub(super) struct Started {
    pub child: Child,
    pub address: SocketAddr,
    pub group: Group,
}

/// An instance's process group and folder: when dropped, every process left in the group gets
/// SIGKILL, then the folder goes.
#[derive(Debug)]
pub(super) struct Group {
    leader: Option<i32>,
    _sandbox: Sandbox,
}

impl Group {
    /// Sends `signal` to every process of the group.
    pub fn signal(&self, signal: i32) {
        if let Some(leader) = self.leader {
            let _ = sys::signal_group(leader, signal);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
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
    let sandbox = {
        let (settings, name) = (spec.sandbox.clone(), instance.to_owned());
        let (harness, code, model) = (
            spec.harness.clone(),
            spec.code_dir.clone(),
            spec.model_dir.clone(),
        );
        tokio::task::spawn_blocking(move || {
            Sandbox::prepare(&settings, &name, &harness, &code, &model)
        })
        .await
        .map_err(|e| StartError::Other(format!("preparing the instance folder: {e}")))?
        .map_err(|e| StartError::Other(format!("preparing the instance folder: {e}")))?
    };
    for path in &sandbox.skipped {
        logs.push(format!(
            "[{instance}] left out {}: not readable by the instance's account",
            path.display()
        ));
    }
    let mut command = std::process::Command::new(&spec.python);
    command
        .arg("-I")
        .arg("-u")
        .arg(&sandbox.harness)
        .arg("--code-dir")
        .arg(&sandbox.code_dir)
        .arg("--scoring-script")
        .arg(&spec.scoring_script)
        .arg("--model-dir")
        .arg(&sandbox.model_dir)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .env_clear()
        .envs(allowed_environment(spec, instance, logs))
        .env("PATH", INSTANCE_PATH)
        .env("HOME", &sandbox.home)
        .env("AZUREML_MODEL_DIR", &sandbox.model_dir)
        .current_dir(&sandbox.home)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(account) = spec.sandbox.account {
        // std drops the supplementary groups too before setuid.
        command.uid(account.uid).gid(account.gid);
    }
    // An instance must not outlive the emulator, even after kill -9.
    sys::die_with_parent(&mut command, libc::SIGKILL);
    let mut command = Command::from(command);
    command.kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| StartError::Other(format!("cannot start {}: {e}", spec.python.display())))?;
    let group = Group {
        leader: child.id().and_then(|p| i32::try_from(p).ok()),
        _sandbox: sandbox,
    };

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
            Ok(port) => Ok(Started { child, address: SocketAddr::from(([127, 0, 0, 1], port)), group }),
            Err(_) => Err(exit_reason(&mut child, failed_rx).await),
        },
        () = tokio::time::sleep(budget) => {
            let _ = child.kill().await;
            Err(StartError::Other(format!("the instance did not start serving within {budget:?}")))
        }
    }
}

/// The deployment's variables an instance gets: those [`shared::check_variable`] allows. The
/// ARM layer refuses the others; a deployment stored before a name was refused is logged.
fn allowed_environment<'a>(
    spec: &'a InstanceSpec,
    instance: &str,
    logs: &LogBuffer,
) -> impl Iterator<Item = (&'a String, &'a String)> {
    let (allowed, refused): (Vec<_>, Vec<_>) = spec
        .environment
        .iter()
        .partition(|(name, value)| shared::check_variable(name, value).is_ok());
    for (name, _) in refused {
        logs.push(format!(
            "[{instance}] environment variable {name} left out: refused"
        ));
    }
    allowed.into_iter()
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
