//! The local workspace: an emulator of the Azure ML online-endpoint API that really serves
//! models on this machine. This module never imports the rollout engine; Greenlight reaches it
//! only through its ARM client, as it would reach Azure.
//!
//! Two loopback listeners: the control plane (ARM routes, bearer token, long-running
//! operations) and the data plane (each endpoint's scoring URI, routing to instance processes).

pub mod arm;
pub mod blobs;
pub mod environments;
pub mod faults;
pub mod harness;
pub mod instances;
mod locks;
pub mod metrics;
pub mod operations;
pub mod routing;
pub mod scoring;
mod serve;
pub mod state;
pub mod tls;
pub mod workspace;

use crate::secret::Secret;
use anyhow::Context;
use shared::api::SAMPLE_REQUEST_PROPERTY;
use shared::{AssetKind, AssetRef};
use state::StateFile;
use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use workspace::{LocalWorkspace, Runtime};

/// The workspace demo assets are registered in; assets resolve from any workspace path.
pub const DEMO_WORKSPACE: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.MachineLearningServices/workspaces/local";

/// How to run the local workspace.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Holds `workspace.json` and the installed harness.
    pub state_dir: PathBuf,
    /// The bearer token ARM requests (and the data plane's Prometheus text) must carry.
    pub token: Secret,
    /// The Python interpreter instances run with.
    pub python: PathBuf,
    /// Demo models to register at start (`examples/`), when present.
    pub examples_dir: Option<PathBuf>,
    /// Serve both planes over HTTPS with a self-signed certificate kept in `state_dir/tls`.
    pub tls: bool,
}

/// A running local workspace.
#[derive(Debug)]
pub struct Emulator {
    pub control_url: String,
    pub scoring_url: String,
    pub workspace: Arc<LocalWorkspace>,
    /// The certificate to trust, when serving HTTPS.
    pub certificate: Option<PathBuf>,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
}

impl Emulator {
    /// Starts both planes on the given listeners and the instances of stored deployments.
    pub async fn start(
        config: EmulatorConfig,
        control: TcpListener,
        scoring: TcpListener,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.state_dir)
            .with_context(|| format!("creating {}", config.state_dir.display()))?;
        // Endpoint keys and the TLS key live here: no other account (instances) may enter.
        std::fs::set_permissions(&config.state_dir, Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", config.state_dir.display()))?;
        let tls = if config.tls {
            Some(tls::Tls::load_or_create(&config.state_dir.join("tls"))?)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let control_url = format!("{scheme}://{}", control.local_addr()?);
        let scoring_url = format!("{scheme}://{}", scoring.local_addr()?);
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .context("building the instance HTTP client")?;
        let runtime = Runtime {
            python: config.python.clone(),
            harness: harness::install(&config.state_dir)?,
            scoring_base: scoring_url.clone(),
            http,
            state_dir: config.state_dir.clone(),
            sandbox: instances::SandboxSettings::for_state_dir(&config.state_dir)?,
            blobs: blobs::BlobService::open(&config.state_dir, &control_url, config.token.clone())?,
            environments: Arc::new(environments::Environments::from_env(&config.python)),
        };
        let workspace = LocalWorkspace::open(StateFile::new(&config.state_dir), runtime)?;
        if let Some(dir) = &config.examples_dir {
            register_examples(&workspace, dir).await?;
        }
        let (stop, stopped) = watch::channel(false);
        let control_app = arm::router(arm::ControlState {
            workspace: Arc::clone(&workspace),
            journal_dir: config.state_dir.clone(),
            token: config.token.clone(),
            base_url: control_url.clone(),
            faults: Arc::default(),
        })
        .merge(workspace.blobs().router());
        let scoring_app = scoring::plane(Arc::clone(&workspace.routes), config.token.clone());
        // The control plane's connections may be dropped unanswered (the fault switch); the
        // scoring plane runs on its own thread and drains its requests on stop.
        let servers = vec![
            tokio::spawn(serve::serve(
                control,
                control_app,
                tls.clone(),
                stopped.clone(),
                serve::OnStop::Leave,
            )),
            scoring_plane(scoring, scoring_app, tls.clone(), stopped)?,
        ];
        Ok(Self {
            control_url,
            scoring_url,
            workspace,
            certificate: tls.map(|t| t.certificate_path),
            stop,
            servers,
        })
    }

    /// Stops both planes and every instance.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for server in self.servers {
            let _ = server.await;
        }
        self.workspace.shutdown().await;
    }
}

/// Serves the scoring plane on a thread of its own with a single-threaded runtime, as nginx
/// serves from one event loop: a request's two hops (the caller's connection and the
/// instance's) are polled on the same thread, with no wake-ups across threads between them.
/// The returned task ends when the plane has stopped and drained.
fn scoring_plane(
    listener: TcpListener,
    app: scoring::ScoringPlane,
    tls: Option<tls::Tls>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<std::io::Result<()>>> {
    let listener = listener.into_std()?;
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("scoring-plane".into())
        .spawn(move || {
            let served = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    runtime.block_on(async move {
                        let listener = TcpListener::from_std(listener)?;
                        let heartbeat = tokio::spawn(keep_a_timer_pending());
                        let served =
                            serve::serve(listener, app, tls, stop, serve::OnStop::Drain).await;
                        heartbeat.abort();
                        served
                    })
                });
            let _ = done.send(served);
        })
        .context("starting the scoring plane's thread")?;
    Ok(tokio::spawn(async move {
        finished
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("the scoring plane's thread panicked")))
    }))
}

/// How often the scoring thread's own timer fires; request timeouts at least this long never
/// wake the thread's time driver.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(1);

/// Keeps a timer pending on the scoring thread, so a request's timeout is never the earliest
/// timer there. Tokio's time driver unparks its own thread (an eventfd write and one more
/// `epoll_wait`) whenever a new timer is due before every pending one — with no other timer,
/// that was every request. One wake-up a second instead of two syscalls a request.
async fn keep_a_timer_pending() {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
    }
}

/// Registers each `examples/<name>/` holding `model/` and `code/` as model and code version
/// `<name>:1`, plus one environment, so the demo flow needs no registration step.
async fn register_examples(workspace: &LocalWorkspace, dir: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!(dir = %dir.display(), "no demo models found");
        return Ok(());
    };
    let failure =
        |f: arm::error::ArmFailure| anyhow::anyhow!("registering a demo asset: {}", f.error());
    workspace
        .put_asset(
            DEMO_WORKSPACE,
            &AssetRef::new(AssetKind::Environments, "python-stdlib", "1"),
            serde_json::json!({ "properties": {
                "description": "Python 3 with the standard library; what local instances run",
                "image": "local/python3",
            }}),
        )
        .await
        .map_err(failure)?;
    for entry in entries.flatten() {
        let path = entry.path().canonicalize()?;
        let (model, code) = (path.join("model"), path.join("code"));
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !model.is_dir() || !code.is_dir() {
            continue;
        }
        // The sample request rides in the model version's free-form properties, where a team
        // on Azure can put one too; the console's test panel starts from it.
        let mut properties = serde_json::Map::new();
        if let Ok(sample) = std::fs::read_to_string(path.join("sample-request.json")) {
            properties.insert(SAMPLE_REQUEST_PROPERTY.into(), sample.into());
        }
        workspace
            .put_asset(
                DEMO_WORKSPACE,
                &AssetRef::new(AssetKind::Models, name, "1"),
                serde_json::json!({ "properties": {
                    "description": format!("demo model {name}"),
                    "modelUri": format!("file://{}", model.display()),
                    "modelType": "CustomModel",
                    "properties": properties,
                }}),
            )
            .await
            .map_err(failure)?;
        workspace
            .put_asset(
                DEMO_WORKSPACE,
                &AssetRef::new(AssetKind::Codes, name, "1"),
                serde_json::json!({ "properties": {
                    "description": format!("scoring code of demo model {name}"),
                    "codeUri": format!("file://{}", code.display()),
                }}),
            )
            .await
            .map_err(failure)?;
    }
    Ok(())
}
