//! `greenlight serve`: the database, the start-up accounts, the listener, graceful shutdown.

use crate::app::{App, AppSettings};
use crate::auth::password;
use crate::auth::{RateLimits, SessionSettings};
use crate::bootstrap;
use crate::config::{EmulatorArgs, ServeArgs, WorkspaceArgs, WorkspaceKind};
use crate::emulator::{Emulator, EmulatorConfig};
use crate::http::UiConfig;
use crate::postgres::Database;
use crate::secret::Secret;
use crate::workspace::{ArmClient, ArmClientConfig, StaticToken};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Listen for signals before anything else: from the moment the ready line is printed, a
    // Ctrl-C or SIGTERM must mean a graceful stop, never the default abrupt exit.
    let shutdown = shutdown_signal()?;
    // Every open event stream holds a socket: take all the open files the system allows.
    match crate::sys::raise_open_files_limit() {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(err) => tracing::warn!(error = %err, "cannot raise the open files limit"),
    }
    if let Some(url) = &args.public_url {
        anyhow::ensure!(
            crate::http::middleware::origin_of(url).is_some(),
            "--public-url must be an absolute URL such as https://greenlight.example.com (got {url:?})"
        );
    }
    // Azure settings are checked before anything starts, so a missing flag is the only output.
    let azure = match args.azure.kind {
        WorkspaceKind::Azure => Some(crate::workspace::azure::client(&args.azure)?),
        WorkspaceKind::Local => None,
    };
    // Sign-in settings too: a bad --oidc-role-map stops the start naming the flag.
    let sign_in = crate::auth::oidc::SignInOptions::from_args(&args.sign_in)?;
    let database = Database::open(
        args.database.database_url.as_deref(),
        &args.database.state_dir,
    )
    .await?;
    // Without local accounts, a generated admin password would be of no use: the first admin
    // comes from the provider's groups.
    let mut accounts: Vec<_> = if sign_in.local_accounts {
        bootstrap::initial_admin(&database.pool).await?
    } else {
        None
    }
    .into_iter()
    .collect();
    if args.demo {
        accounts.extend(bootstrap::demo_accounts(&database.pool).await?);
    }
    if !accounts.is_empty() {
        print!("{}", bootstrap::banner(&accounts));
    }

    let (workspace, local_workspace, emulator) = match azure {
        None => {
            // The embedded local workspace, on its own loopback listeners with a token of this
            // run.
            let workspace_token = password::generate();
            let emulator = start_emulator(
                &args.database.state_dir.join("workspace"),
                workspace_token.clone(),
                &args.workspace,
                (loopback_any_port(), loopback_any_port()),
                false,
            )
            .await?;
            println!(
                "Local workspace (Azure ML emulator): ARM API at {}, scoring at {}",
                emulator.control_url, emulator.scoring_url
            );
            let client = ArmClient::new(
                ArmClientConfig::local(&emulator.control_url),
                Arc::new(StaticToken(workspace_token)),
            )?;
            let info = shared::api::LocalWorkspaceInfo {
                arm_url: emulator.control_url.clone(),
                scoring_url: emulator.scoring_url.clone(),
            };
            (client, Some(info), Some(emulator))
        }
        Some(client) => {
            println!(
                "Azure ML workspace {} in resource group {} through {}",
                args.azure.azure_workspace.as_deref().unwrap_or_default(),
                args.azure
                    .azure_resource_group
                    .as_deref()
                    .unwrap_or_default(),
                args.azure.arm_endpoint
            );
            (client, None, None)
        }
    };

    let ui = UiConfig {
        dir: args.ui_dir.clone(),
    };
    if !ui.dir.join("index.html").is_file() {
        tracing::warn!(
            dir = %ui.dir.display(),
            "the console is not built there; the API works, the pages will not (run `make run`)"
        );
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let app = App::build(
        AppSettings {
            pool: database.pool.clone(),
            workspace: Some(Arc::new(workspace)),
            local_workspace,
            sessions: SessionSettings {
                idle: Duration::from_secs(args.session_idle_minutes.saturating_mul(60)),
                absolute: Duration::from_secs(args.session_max_hours.saturating_mul(3600)),
                secure_cookie: args
                    .public_url
                    .as_deref()
                    .is_some_and(|url| url.starts_with("https://")),
            },
            rate_limits: RateLimits::default(),
            ui,
            public_url: args.public_url.clone(),
            audit_anchor: Some(args.database.state_dir.clone()),
            sign_in,
            webhooks: args.webhooks.settings(),
        },
        listener,
    )
    .await?;
    let address = app.address();
    tracing::info!(%address, "serving");
    println!("Greenlight is ready at http://{address}");

    let served = app.run(shutdown).await;
    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    database.close().await;
    served
}

/// `greenlight emulator`: only the local workspace, until Ctrl-C or SIGTERM.
pub async fn emulator_only(args: EmulatorArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_signal()?;
    let (token, generated) = match args.token {
        Some(token) => (Secret::new(token), false),
        None => (password::generate(), true),
    };
    let emulator = start_emulator(
        &args.state_dir.join("workspace"),
        token.clone(),
        &args.workspace,
        (args.listen, args.scoring_listen),
        args.tls,
    )
    .await?;
    if let Some(certificate) = &emulator.certificate {
        println!("HTTPS certificate to trust: {}", certificate.display());
    }
    if generated {
        println!("Bearer token for this run (shown once): {}", token.expose());
    }
    println!("Scoring URIs are under {}", emulator.scoring_url);
    println!("Local workspace is ready at {}", emulator.control_url);
    shutdown.await;
    emulator.shutdown().await;
    Ok(())
}

fn loopback_any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start_emulator(
    state_dir: &std::path::Path,
    token: Secret,
    workspace: &WorkspaceArgs,
    (control, scoring): (SocketAddr, SocketAddr),
    tls: bool,
) -> anyhow::Result<Emulator> {
    let control = TcpListener::bind(control)
        .await
        .with_context(|| format!("listening on {control} (local workspace API)"))?;
    let scoring = TcpListener::bind(scoring)
        .await
        .with_context(|| format!("listening on {scoring} (local workspace scoring)"))?;
    Emulator::start(
        EmulatorConfig {
            state_dir: state_dir.to_path_buf(),
            token,
            python: workspace.python.clone(),
            examples_dir: Some(workspace.examples_dir.clone()),
            tls,
        },
        control,
        scoring,
    )
    .await
    .context("starting the local workspace")
}

/// Installs the SIGINT and SIGTERM handlers now; the future resolves on the first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
        }
    })
}
