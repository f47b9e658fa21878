//! The database: either the one `DATABASE_URL` names, or a private Postgres cluster that
//! Greenlight runs itself under its state directory.

mod backoff;
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

/// The role the app connects as in its private cluster: not the tables' owner, so it cannot
/// disable the audit log's triggers, and without UPDATE, DELETE or TRUNCATE on `audit_events`.
pub const APP_ROLE: &str = "greenlight_app";

/// Serializes [`grant_app_role`] between processes starting at once.
const GRANT_LOCK_KEY: i64 = 0x4752_4e54_4150_5052; // "GRNTAPPR"

/// Creates [`APP_ROLE`] if needed and gives it what the app needs on every table (run at each
/// start, so tables of new migrations are covered): reading and writing, except that audit rows
/// can only be added and read. Runtime queries: GRANT and CREATE ROLE cannot be prepared.
async fn grant_app_role(owner: &PgPool) -> anyhow::Result<()> {
    let mut conn = owner.acquire().await?;
    sqlx::query("select pg_advisory_lock($1)")
        .bind(GRANT_LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let granted = sqlx::raw_sql(&format!(
        "do $$ begin
             if not exists (select 1 from pg_roles where rolname = '{APP_ROLE}') then
                 create role {APP_ROLE} login nosuperuser nocreatedb nocreaterole noreplication;
             end if;
         end $$;
         grant usage on schema public to {APP_ROLE};
         grant select, insert, update, delete on all tables in schema public to {APP_ROLE};
         grant usage, select on all sequences in schema public to {APP_ROLE};
         revoke update, delete, truncate on audit_events from {APP_ROLE};
         revoke all on _sqlx_migrations from {APP_ROLE};"
    ))
    .execute(&mut *conn)
    .await
    .context("granting the app role its rights");
    sqlx::query("select pg_advisory_unlock($1)")
        .bind(GRANT_LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    granted?;
    Ok(())
}

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
        let pool = connect(options.clone()).await?;
        MIGRATOR
            .run(&pool)
            .await
            .context("applying database migrations")?;
        let pool = match cluster {
            // The owner applied the migrations; the app itself runs as a role that may only add
            // to and read the audit log.
            Some(_) => {
                grant_app_role(&pool).await?;
                pool.close().await;
                connect(options.username(APP_ROLE)).await?
            }
            None => pool,
        };
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
