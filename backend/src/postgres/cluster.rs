//! A private Postgres cluster that lives and dies with this process.
//!
//! The server listens only on a Unix socket inside the cluster's folder (no TCP port to clash
//! with), is started directly as a child (not daemonised by `pg_ctl`) so the kernel can stop it
//! when we die, and is reused rather than restarted when another Greenlight process on the same
//! state directory already runs it (e.g. `greenlight user add` beside a running console).

use super::backoff::RestartBackoff;
use super::binaries::PgBinaries;
use crate::sys;
use anyhow::{bail, Context};
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Longest Unix socket path Linux accepts (`sun_path` is 108 bytes with the terminating NUL).
const MAX_SOCKET_PATH: usize = 107;
const SOCKET_NAME: &str = ".s.PGSQL.5432";
/// Parent of relocated clusters: world-traversable and, unlike /tmp, kept across reboots.
const RELOCATED_PARENT: &str = "/var/tmp";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Postgres' "fast" shutdown: roll back open transactions, then stop cleanly.
const FAST_SHUTDOWN: i32 = libc::SIGINT;

/// How much durability the cluster trades for speed.
#[derive(Debug, Clone, Copy)]
pub struct ClusterOptions {
    durable: bool,
}

impl ClusterOptions {
    /// For the user's data: fsync on.
    pub fn durable() -> Self {
        Self { durable: true }
    }

    /// For tests: nothing survives a crash, and everything is faster.
    pub fn throwaway() -> Self {
        Self { durable: false }
    }
}

/// A running cluster. Dropping it (or [`Cluster::stop`]) stops the server if this process
/// started it; a cluster we merely reused keeps running for its owner.
#[derive(Debug)]
pub struct Cluster {
    root: PathBuf,
    supervisor: Option<Supervisor>,
}

#[derive(Debug)]
struct Supervisor {
    stop: mpsc::Sender<()>,
    thread: thread::JoinHandle<()>,
}

impl Cluster {
    /// Starts the cluster in `root` (creating it on first use), or attaches to the server that
    /// already runs there. Blocks until the server accepts connections.
    pub fn start(root: &Path, options: ClusterOptions) -> anyhow::Result<Self> {
        let binaries = PgBinaries::find().map_err(anyhow::Error::msg)?;
        fs::create_dir_all(root)
            .with_context(|| format!("creating the database folder {}", root.display()))?;
        let requested = root
            .canonicalize()
            .with_context(|| format!("resolving {}", root.display()))?;
        let run_as = server_account()?;
        let root = match run_as {
            Some(account) if !reachable_by(&requested, account) => relocate(&requested, account)?,
            _ => requested,
        };
        check_socket_path(&root)?;
        restrict(&root).with_context(|| format!("restricting {}", root.display()))?;
        if let Some(account) = run_as {
            std::os::unix::fs::chown(&root, Some(account.uid), Some(account.gid))
                .with_context(|| format!("giving {} to the database account", root.display()))?;
        }
        let data = root.join("data");

        if let Some(pid) = live_postmaster(&data)? {
            tracing::info!(pid, dir = %root.display(), "reusing the running Postgres server");
            wait_until_ready(&data, || Ok(()))?;
            return Ok(Self {
                root,
                supervisor: None,
            });
        }
        if !data.join("PG_VERSION").exists() {
            init_cluster(&binaries, &root, &data, run_as, options)?;
        }
        let supervisor =
            Supervisor::spawn(server_command(&binaries, &root, &data, run_as, options))?;
        let started = Self {
            root,
            supervisor: Some(supervisor),
        };
        wait_until_ready(&data, || started.check_alive())?;
        tracing::info!(dir = %started.root.display(), "private Postgres server started");
        Ok(started)
    }

    /// How to connect to `database` in this cluster.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.root)
            .username("postgres")
            .database(database)
    }

    /// Creates `database` unless it exists.
    pub async fn ensure_database(&self, database: &str) -> anyhow::Result<()> {
        let mut conn = sqlx::PgConnection::connect_with(&self.connect_options("postgres"))
            .await
            .context("connecting to the private Postgres server")?;
        let exists = sqlx::query_scalar!(
            r#"select exists (select 1 from pg_database where datname = $1) as "exists!""#,
            database,
        )
        .fetch_one(&mut conn)
        .await?;
        if !exists {
            // A runtime query, not `query!`: a database name is an identifier, which no bind
            // parameter can carry, and `create database` cannot be prepared to be described.
            let create = format!("create database \"{}\"", database.replace('"', "\"\""));
            if let Err(err) = sqlx::query(&create).execute(&mut conn).await {
                // Another process may have created it meanwhile.
                let duplicate = err
                    .as_database_error()
                    .and_then(|e| e.code())
                    .is_some_and(|code| code == "42P04");
                if !duplicate {
                    return Err(err).context("creating the database");
                }
            }
        }
        conn.close().await?;
        Ok(())
    }

    /// Stops the server if this process started it, and waits until it has exited.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(supervisor) = self.supervisor.take() {
            let _ = supervisor.stop.send(());
            if supervisor.thread.join().is_err() {
                tracing::error!("the Postgres supervisor thread panicked");
            }
        }
    }

    fn check_alive(&self) -> anyhow::Result<()> {
        match &self.supervisor {
            Some(s) if s.thread.is_finished() => bail!(
                "the Postgres server exited during start-up; its log ends with:\n{}",
                log_tail(&self.root.join("server.log"))
            ),
            _ => Ok(()),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

impl Supervisor {
    /// Spawns the server from a dedicated thread that outlives every caller: the kernel's
    /// parent-death signal fires when the *spawning thread* exits, so spawning from a request or
    /// test thread would stop the server as soon as that thread ended.
    fn spawn(mut command: Command) -> anyhow::Result<Self> {
        let (spawned_tx, spawned_rx) = mpsc::channel::<std::io::Result<()>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("postgres-supervisor".into())
            .spawn(move || match command.spawn() {
                Ok(child) => {
                    let _ = spawned_tx.send(Ok(()));
                    supervise(child, &mut command, &stop_rx);
                }
                Err(err) => {
                    let _ = spawned_tx.send(Err(err));
                }
            })
            .context("starting the Postgres supervisor thread")?;
        spawned_rx
            .recv()
            .context("the Postgres supervisor thread ended early")?
            .context("starting the Postgres server")?;
        Ok(Self {
            stop: stop_tx,
            thread,
        })
    }
}

/// Waits for a stop request (or for the owner to go away), then shuts the server down. A server
/// that dies meanwhile is started again, waiting 1 s, 2 s, 4 s … (at most 30 s:
/// [`RestartBackoff`]) between tries; requests fail (and `/health` says degraded) only until
/// it is back. Postgres recovers from its own crash on start, like after a power cut.
fn supervise(mut child: Child, command: &mut Command, stop: &mpsc::Receiver<()>) {
    let mut backoff = RestartBackoff::default();
    loop {
        match stop.recv_timeout(Duration::from_millis(250)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let Ok(Some(status)) = child.try_wait() else {
                    continue;
                };
                let delay = backoff.delay(std::time::Instant::now());
                tracing::error!(%status, retry_in_s = delay.as_secs(), "the private Postgres server exited unexpectedly; restarting it");
                // Wait out the delay, unless asked to stop meanwhile.
                if !matches!(
                    stop.recv_timeout(delay),
                    Err(mpsc::RecvTimeoutError::Timeout)
                ) {
                    return;
                }
                match command.spawn() {
                    Ok(restarted) => {
                        tracing::info!("private Postgres server restarted");
                        child = restarted;
                        backoff.restarted(std::time::Instant::now());
                    }
                    Err(err) => {
                        tracing::error!(%err, "restarting the private Postgres server failed");
                    }
                }
            }
        }
    }
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    if let Err(err) = sys::send_signal(pid, FAST_SHUTDOWN) {
        tracing::warn!(%err, "could not signal the Postgres server to stop");
    }
    match child.wait() {
        Ok(status) => tracing::info!(%status, "private Postgres server stopped"),
        Err(err) => tracing::warn!(%err, "waiting for the Postgres server to stop"),
    }
}

fn check_socket_path(root: &Path) -> anyhow::Result<()> {
    let socket = root.join(SOCKET_NAME);
    let len = socket.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        bail!(
            "the database socket path {} is {len} bytes, longer than the {MAX_SOCKET_PATH} \
             Linux allows: choose a shorter --state-dir",
            socket.display()
        );
    }
    Ok(())
}

/// Postgres refuses to run as root. When we are root, the server runs as the `postgres`
/// account (or `nobody` where there is none).
fn server_account() -> anyhow::Result<Option<sys::Account>> {
    if sys::effective_uid() != 0 {
        return Ok(None);
    }
    ["postgres", "nobody"]
        .into_iter()
        .find_map(sys::lookup_account)
        .map(Some)
        .context("running as root, but there is no `postgres` or `nobody` account to run the database server as")
}

/// True when `account` may enter every folder above `dir` (it will own `dir` itself).
fn reachable_by(dir: &Path, account: sys::Account) -> bool {
    dir.ancestors().skip(1).all(|ancestor| {
        fs::metadata(ancestor).is_ok_and(|meta| {
            let mode = meta.mode();
            mode & 0o001 != 0
                || (meta.uid() == account.uid && mode & 0o100 != 0)
                || (meta.gid() == account.gid && mode & 0o010 != 0)
        })
    })
}

/// Where the cluster of `requested` lives when the unprivileged database account cannot reach
/// it (root running Greenlight from a private folder such as /root): a folder in /var/tmp named
/// after the requested path, so each state directory keeps its own cluster across restarts. A
/// note in `requested` tells people where their data went.
fn relocate(requested: &Path, account: sys::Account) -> anyhow::Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(requested.as_os_str().as_encoded_bytes());
    let root =
        Path::new(RELOCATED_PARENT).join(format!("greenlight-pg-{}", &hex::encode(digest)[..16]));
    tracing::warn!(
        requested = %requested.display(),
        actual = %root.display(),
        "the database account cannot enter the state directory; keeping the cluster elsewhere"
    );
    match fs::create_dir(&root) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(err).with_context(|| format!("creating {}", root.display())),
    }
    check_relocated_dir(&root, account)?;
    let note = format!(
        "The Postgres cluster of this state directory lives in {} because the unprivileged \
         account that runs it cannot enter this folder.\n",
        root.display()
    );
    fs::write(requested.join("LOCATION.txt"), note)
        .with_context(|| format!("writing a note in {}", requested.display()))?;
    Ok(root)
}

/// The relocated folder sits in world-writable /var/tmp, where anyone could have made it first:
/// it must be a real folder (never a symbolic link) owned by us or by the database account, or
/// another local account could read or plant the database.
fn check_relocated_dir(root: &Path, account: sys::Account) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let found =
        fs::symlink_metadata(root).with_context(|| format!("reading {}", root.display()))?;
    anyhow::ensure!(
        !found.file_type().is_symlink(),
        "{} is a symbolic link; refusing to keep the database there (remove it and start again)",
        root.display()
    );
    anyhow::ensure!(found.is_dir(), "{} is not a folder", root.display());
    let owner = found.uid();
    anyhow::ensure!(
        owner == sys::effective_uid() || owner == account.uid,
        "{} belongs to another account (uid {owner}); refusing to keep the database there \
         (remove it and start again)",
        root.display()
    );
    Ok(())
}

/// The pid of a server already running on `data`, after clearing a stale `postmaster.pid`
/// left by a crash.
fn live_postmaster(data: &Path) -> anyhow::Result<Option<i32>> {
    let pid_file = data.join("postmaster.pid");
    let Ok(contents) = fs::read_to_string(&pid_file) else {
        return Ok(None);
    };
    let pid = contents
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok());
    if let Some(pid) = pid {
        let is_postgres = fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|comm| comm.trim() == "postgres");
        if sys::process_exists(pid) && is_postgres {
            return Ok(Some(pid));
        }
    }
    tracing::warn!(file = %pid_file.display(), "removing a stale postmaster.pid left by an earlier run");
    fs::remove_file(&pid_file).with_context(|| format!("removing {}", pid_file.display()))?;
    Ok(None)
}

fn init_cluster(
    binaries: &PgBinaries,
    root: &Path,
    data: &Path,
    run_as: Option<sys::Account>,
    options: ClusterOptions,
) -> anyhow::Result<()> {
    tracing::info!(dir = %data.display(), "creating a private Postgres cluster");
    let mut command = Command::new(binaries.initdb());
    command
        .arg("-D")
        .arg(data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
        .arg("--no-instructions")
        .current_dir(root)
        .stdin(Stdio::null());
    if !options.durable {
        command.arg("--no-sync");
    }
    as_account(&mut command, run_as);
    let output = command.output().context("running initdb")?;
    if !output.status.success() {
        bail!(
            "initdb failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn server_command(
    binaries: &PgBinaries,
    root: &Path,
    data: &Path,
    run_as: Option<sys::Account>,
    options: ClusterOptions,
) -> Command {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("server.log"));
    let mut command = Command::new(binaries.postgres());
    command
        .arg("-D")
        .arg(data)
        .arg("-k")
        .arg(root)
        .args([
            "-c",
            "listen_addresses=",
            "-c",
            "unix_socket_permissions=0700",
        ])
        .current_dir(root)
        .stdin(Stdio::null());
    if !options.durable {
        command.args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]);
    }
    match log.and_then(|f| Ok((f.try_clone()?, f))) {
        Ok((out, err)) => {
            command.stdout(out).stderr(err);
        }
        Err(err) => {
            tracing::warn!(%err, "cannot open server.log; Postgres output is discarded");
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    as_account(&mut command, run_as);
    sys::die_with_parent(&mut command, FAST_SHUTDOWN);
    command
}

fn as_account(command: &mut Command, account: Option<sys::Account>) {
    if let Some(account) = account {
        command.uid(account.uid).gid(account.gid);
    }
}

/// Polls `postmaster.pid` until its status line says `ready` (what `pg_ctl -w` waits for).
fn wait_until_ready(
    data: &Path,
    check_alive: impl Fn() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let ready = fs::read_to_string(data.join("postmaster.pid"))
            .is_ok_and(|pid_file| pid_file.lines().nth(7).is_some_and(|l| l.trim() == "ready"));
        if ready {
            return Ok(());
        }
        check_alive()?;
        if Instant::now() > deadline {
            bail!("the Postgres server did not become ready within {READY_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(25));
    }
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// Keeps the cluster folder (socket, server log) private to its owner.
fn restrict(dir: &Path) -> std::io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database_account() -> sys::Account {
        sys::Account {
            uid: 4242,
            gid: 4242,
        }
    }

    #[test]
    fn a_relocated_cluster_folder_that_is_a_symlink_is_refused() {
        let scratch = tempfile::tempdir().expect("temp dir");
        let real = scratch.path().join("elsewhere");
        fs::create_dir(&real).expect("folder");
        let link = scratch.path().join("greenlight-pg-0123456789abcdef");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let refusal = check_relocated_dir(&link, database_account())
            .expect_err("a symlink is refused")
            .to_string();
        assert!(refusal.contains("symbolic link"), "{refusal}");
        check_relocated_dir(&real, database_account()).expect("our own folder is fine");
    }

    #[test]
    fn a_relocated_cluster_folder_owned_by_another_account_is_refused() {
        if sys::effective_uid() != 0 {
            // Giving a folder away needs root; CI runs as root.
            return;
        }
        let scratch = tempfile::tempdir().expect("temp dir");
        let planted = scratch.path().join("greenlight-pg-fedcba9876543210");
        fs::create_dir(&planted).expect("folder");
        std::os::unix::fs::chown(&planted, Some(31337), Some(31337)).expect("chown");
        let refusal = check_relocated_dir(&planted, database_account())
            .expect_err("another account's folder is refused")
            .to_string();
        assert!(refusal.contains("belongs to another account"), "{refusal}");
        std::os::unix::fs::chown(&planted, Some(4242), Some(4242)).expect("chown");
        check_relocated_dir(&planted, database_account()).expect("the database account's is fine");
    }
}
