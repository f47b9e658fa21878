//! Test harness shared by the integration test binaries: a real Postgres for every test.
//!
//! With `DATABASE_URL` set, tests create their databases there. Without it, the first test
//! starts a private throwaway cluster (the same code Greenlight runs in production) in a
//! temporary folder, and every test gets a fresh database in it.
#![allow(dead_code)]

use backend::postgres::{Cluster, ClusterOptions, MIGRATOR};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::OnceLock;

/// How to reach the server that holds the test databases.
struct TestServer {
    admin: PgConnectOptions,
    /// Kept alive for the whole test process; the kernel stops it when the process exits.
    _cluster: Option<Cluster>,
}

static SERVER: OnceLock<TestServer> = OnceLock::new();

fn server() -> &'static TestServer {
    SERVER.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) => TestServer {
            admin: PgConnectOptions::from_str(&url).expect("DATABASE_URL is a Postgres URL"),
            _cluster: None,
        },
        Err(_) => {
            remove_stale_clusters();
            let dir = cluster_dir(std::process::id());
            let cluster = Cluster::start(&dir, ClusterOptions::throwaway()).expect(
                "start a private Postgres for the tests (is the postgresql package installed?)",
            );
            TestServer {
                admin: cluster.connect_options("postgres"),
                _cluster: Some(cluster),
            }
        }
    })
}

fn cluster_dir(pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("greenlight-test-pg-{pid}"))
}

/// Removes clusters left by test processes that no longer run.
fn remove_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("greenlight-test-pg-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A fresh, migrated database of its own for one test.
pub struct TestDatabase {
    pub pool: PgPool,
    pub options: PgConnectOptions,
    pub name: String,
}

impl TestDatabase {
    /// A `DATABASE_URL` for this database, for the `greenlight` binary.
    pub fn url(&self) -> String {
        let host = self.options.get_host();
        let user = self.options.get_username();
        let port = self.options.get_port();
        if let Some(socket_dir) = self.options.get_socket() {
            let socket_dir = socket_dir.display();
            format!(
                "postgres:///{}?host={socket_dir}&user={user}&port={port}",
                self.name
            )
        } else {
            format!("postgres://{user}@{host}:{port}/{}", self.name)
        }
    }
}

pub async fn fresh_database() -> TestDatabase {
    let server = server();
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect_with(&server.admin)
        .await
        .expect("connect to the test Postgres");
    sqlx::query(&format!("create database \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    admin.close().await.expect("close admin connection");
    let options = server.admin.clone().database(&name);
    let pool = backend::postgres::connect(options.clone())
        .await
        .expect("connect to the test database");
    MIGRATOR
        .run(&pool)
        .await
        .expect("migrate the test database");
    TestDatabase {
        pool,
        options,
        name,
    }
}

/// The backend crate's folder, asked of the running `cargo test` rather than baked in at build
/// time: a shared target dir may hold a test binary built from another clone of the repository.
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The demo models in the repository.
pub fn examples_dir() -> std::path::PathBuf {
    manifest_dir().join("../examples")
}

/// A local workspace for a test: state in `state_dir`, `python3` instances, the demo models.
pub fn local_workspace_config(
    state_dir: &std::path::Path,
    token: &str,
    tls: bool,
) -> backend::emulator::EmulatorConfig {
    backend::emulator::EmulatorConfig {
        state_dir: state_dir.to_path_buf(),
        token: backend::secret::Secret::new(token),
        python: std::path::PathBuf::from("python3"),
        examples_dir: Some(examples_dir()),
        tls,
    }
}

/// Starts a local workspace with both planes on port 0.
pub async fn start_local_workspace(
    config: backend::emulator::EmulatorConfig,
) -> backend::emulator::Emulator {
    let bind = || async {
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0")
    };
    backend::emulator::Emulator::start(config, bind().await, bind().await)
        .await
        .expect("start the local workspace")
}

/// An endpoint name a test knows to be valid.
pub fn endpoint_name(name: &str) -> shared::EndpointName {
    shared::EndpointName::parse(name).expect("a valid endpoint name")
}

/// A deployment name a test knows to be valid.
pub fn deployment_name(name: &str) -> shared::DeploymentName {
    shared::DeploymentName::parse(name).expect("a valid deployment name")
}

/// Runs `statements` as the superuser with the no-update-or-delete trigger disabled: how the
/// tests of the audit chain tamper with it.
pub async fn as_superuser_without_the_trigger(db: &TestDatabase, statements: &[&str]) {
    let mut tx = db.pool.begin().await.expect("begin");
    sqlx::query("alter table audit_events disable trigger audit_events_no_update_or_delete")
        .execute(&mut *tx)
        .await
        .expect("disable trigger");
    for statement in statements {
        sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .expect("tamper");
    }
    sqlx::query("alter table audit_events enable trigger audit_events_no_update_or_delete")
        .execute(&mut *tx)
        .await
        .expect("enable trigger");
    tx.commit().await.expect("commit");
}

/// Panics, showing the rollout, unless every step of `rollout` (the API's JSON of one) succeeded
/// and its traffic steps were approved by `approvers` and no one else.
pub fn assert_rollout_succeeded_with(rollout: &serde_json::Value, approvers: &[&str]) {
    let steps = rollout["steps"].as_array().expect("the rollout's steps");
    assert!(
        !steps.is_empty() && steps.iter().all(|step| step["state"] == "succeeded"),
        "not every step succeeded: {rollout}"
    );
    assert_eq!(
        rollout["approvers"],
        serde_json::json!(approvers),
        "approvers: {rollout}"
    );
}
