//! The database: either the one `DATABASE_URL` names, or a private Postgres cluster that
//! Greenlight runs itself under its state directory.

mod binaries;
mod cluster;

pub use binaries::PgBinaries;
pub use cluster::{Cluster, ClusterOptions};

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Name of the database Greenlight uses inside its private cluster.
const EMBEDDED_DATABASE: &str = "greenlight";

/// An open, migrated database, and the private cluster behind it when Greenlight runs one.
#[derive(Debug)]
pub struct Database {
    pub pool: PgPool,
    cluster: Option<Cluster>,
}

impl Database {
    /// Connects to `database_url` when given, else starts (or reuses) the private cluster under
    /// `state_dir`; then applies pending migrations.
    pub async fn open(database_url: Option<&str>, state_dir: &Path) -> anyhow::Result<Self> {
        let (options, cluster) = match database_url {
            Some(url) => (
                PgConnectOptions::from_str(url)
                    .context("DATABASE_URL is not a valid Postgres URL")?,
                None,
            ),
            None => {
                let cluster = Cluster::start(&state_dir.join("pg"), ClusterOptions::durable())?;
                cluster.ensure_database(EMBEDDED_DATABASE).await?;
                (cluster.connect_options(EMBEDDED_DATABASE), Some(cluster))
            }
        };
        let pool = connect(options).await?;
        MIGRATOR
            .run(&pool)
            .await
            .context("applying database migrations")?;
        Ok(Self { pool, cluster })
    }

    /// Closes the pool, then stops the private cluster if this process started it.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(cluster) = self.cluster {
            cluster.stop();
        }
    }
}

/// A pool with the settings every Greenlight process uses. One connection is opened first, so
/// a wrong address or password is reported as such rather than as a pool time-out.
pub async fn connect(options: PgConnectOptions) -> anyhow::Result<PgPool> {
    let options = options.log_statements(tracing::log::LevelFilter::Trace);
    sqlx::PgConnection::connect_with(&options)
        .await
        .context("connecting to Postgres")?
        .close()
        .await?;
    PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .context("connecting to Postgres")
}
