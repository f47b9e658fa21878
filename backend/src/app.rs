//! The one way an app is put together and run: `greenlight serve` and the integration tests both
//! call [`App::build`] and [`App::run`], so the tests exercise exactly what production starts —
//! the live feed, the operation runner and its draining on stop included.

use crate::audit::{ChainWatch, Checkpointer};
use crate::auth::{RateLimits, SessionSettings};
use crate::events::EventHub;
use crate::http::{self, AppState, UiConfig};
use crate::operations::OperationRunner;
use crate::workspace::ArmClient;
use anyhow::Context;
use sqlx::PgPool;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long a graceful stop lets running operations finish and record their end.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// How often the audit checkpoint is brought up to date with the chain (and once more at stop).
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);

/// What an app is built from: `serve` fills it from its flags, the tests from their fixtures.
#[derive(Debug, Clone)]
pub struct AppSettings {
    pub pool: PgPool,
    /// The one way to the workspace (Azure ML or the local one), when there is one.
    pub workspace: Option<Arc<ArmClient>>,
    /// The embedded local workspace's addresses, shown on the console's home page.
    pub local_workspace: Option<shared::api::LocalWorkspaceInfo>,
    pub sessions: SessionSettings,
    pub rate_limits: RateLimits,
    pub ui: UiConfig,
    /// The URL people use (`--public-url`), when set: writes must come from its origin.
    pub public_url: Option<String>,
    /// Where the audit chain's head is anchored (`serve`: its state dir), when it is: a
    /// checkpoint now, every [`CHECKPOINT_INTERVAL`] while serving, once more after a stop.
    pub audit_anchor: Option<PathBuf>,
    /// Local accounts and / or single sign-on (`--local-accounts`, `--oidc-*`).
    pub sign_in: crate::auth::oidc::SignInOptions,
    /// How webhook deliveries are sent and retried (deep links use `public_url`).
    pub webhooks: crate::webhooks::NotifierSettings,
}

/// A built app, bound to its listener and ready to serve.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    address: SocketAddr,
    state: AppState,
    ui: UiConfig,
    checkpointer: Option<Checkpointer>,
    webhooks: crate::webhooks::NotifierSettings,
    public_url: Option<String>,
}

impl App {
    /// Prepares the live feed (dropping events older than its retention) and the operation
    /// runner — which takes up the operations of processes that stopped — and binds the app to
    /// `listener`.
    pub async fn build(settings: AppSettings, listener: TcpListener) -> anyhow::Result<Self> {
        let address = listener
            .local_addr()
            .context("reading the listening address")?;
        let pruned = crate::events::prune(&settings.pool).await?;
        tracing::debug!(pruned, "old live-feed events dropped");
        // Registers this process's lease and takes up operations a stopped process left running.
        let operations = OperationRunner::start(settings.pool.clone(), settings.workspace.clone())
            .await
            .context("starting the operation runner")?;
        let checkpointer = match &settings.audit_anchor {
            Some(dir) => Some(
                Checkpointer::start(settings.pool.clone(), dir)
                    .await
                    .context("anchoring the audit log")?,
            ),
            None => None,
        };
        // The console's chain state resumes from what the checkpointer just verified.
        let audit_chain = Arc::new(ChainWatch::starting_at(
            checkpointer.as_ref().and_then(Checkpointer::head),
        ));
        let http_metrics =
            crate::prometheus::HttpMetrics::new(http::route_templates().iter().map(String::as_str));
        // The redirect URI the provider sends browsers back to: on the public URL when set.
        let public_base = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"));
        let sign_in = crate::auth::oidc::SignInConfig::new(settings.sign_in, &public_base)
            .context("setting up single sign-on")?;
        if let Some(oidc) = &sign_in.oidc {
            tracing::info!(redirect_uri = oidc.redirect_uri(), "single sign-on is on");
        }
        let public_url = settings.public_url.clone();
        let state = AppState {
            sign_in,
            audit_chain,
            http_metrics: Arc::new(http_metrics),
            events: EventHub::new(settings.pool.clone(), settings.sessions),
            operations,
            pool: settings.pool,
            sessions: settings.sessions,
            rate_limits: settings.rate_limits,
            local_workspace: settings.local_workspace,
            workspace: settings.workspace,
            public_origin: settings
                .public_url
                .as_deref()
                .and_then(crate::http::middleware::origin_of),
        };
        Ok(Self {
            listener,
            address,
            state,
            ui: settings.ui,
            checkpointer,
            webhooks: settings.webhooks,
            public_url,
        })
    }

    /// Where the app listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` resolves, then closes open event streams (they would hold the
    /// stop forever) and lets running operations finish for up to [`DRAIN_LIMIT`].
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            ui,
            checkpointer,
            webhooks,
            public_url,
            ..
        } = self;
        let stop_checkpoints = CancellationToken::new();
        let checkpoints = checkpointer.map(|checkpointer| {
            tokio::spawn(keep_checkpointing(checkpointer, stop_checkpoints.clone()))
        });
        let events = Arc::clone(&state.events);
        let operations = state.operations.clone();
        // The rollout executor runs wherever a workspace is connected; any replica may.
        let executor = state
            .change_context()
            .ok()
            .map(crate::rollouts::Executor::start);
        // Every replica runs a notifier; row locks keep them from sending anything twice.
        let notifier = crate::webhooks::Notifier::start(state.pool.clone(), webhooks, public_url)
            .context("starting the webhook notifier")?;
        let service = http::router(state, &ui).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                events.close();
            })
            .await
            .context("serving HTTP");
        tracing::info!("shutting down");
        if let Some(executor) = executor {
            executor.stop().await;
        }
        notifier.stop().await;
        if !operations.drain(DRAIN_LIMIT).await {
            tracing::warn!(
                "operations still running after {} s were left to the workspace",
                DRAIN_LIMIT.as_secs()
            );
        }
        // After the drain, so the ends operations recorded are anchored too.
        stop_checkpoints.cancel();
        if let Some(checkpoints) = checkpoints {
            match checkpoints.await {
                Ok(mut checkpointer) => {
                    if let Err(err) = checkpointer.update().await {
                        tracing::error!("writing the audit checkpoint: {err:#}");
                    }
                }
                Err(err) => tracing::error!("the audit checkpoint task failed: {err}"),
            }
        }
        served
    }
}

/// Updates the checkpoint every [`CHECKPOINT_INTERVAL`] until `stop`, then hands it back.
async fn keep_checkpointing(
    mut checkpointer: Checkpointer,
    stop: CancellationToken,
) -> Checkpointer {
    loop {
        tokio::select! {
            () = stop.cancelled() => return checkpointer,
            () = tokio::time::sleep(CHECKPOINT_INTERVAL) => {
                if let Err(err) = checkpointer.update().await {
                    tracing::error!("writing the audit checkpoint: {err:#}");
                }
            }
        }
    }
}
