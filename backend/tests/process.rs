//! Tests of the `greenlight` binary as a person runs it: start-up, signals, kill -9, the
//! private Postgres it manages, the CLI, and what ends up in its logs.

#[path = "common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[path = "process/cluster.rs"]
mod cluster;
#[path = "process/db_restart.rs"]
mod db_restart;
#[path = "process/feed_bench.rs"]
mod feed_bench;
#[path = "process/feed_replicas.rs"]
mod feed_replicas;
#[path = "process/replicas.rs"]
mod replicas;
#[path = "process/rollout_crash.rs"]
mod rollout_crash;
#[path = "process/sse.rs"]
mod sse;
#[path = "process/tokens.rs"]
mod tokens;

const BIN: &str = env!("CARGO_BIN_EXE_greenlight");
const READY: &str = "Greenlight is ready at ";

/// A running `greenlight serve`, with everything it printed.
struct Server {
    child: Child,
    url: String,
    stdout: mpsc::Receiver<String>,
    stderr_file: PathBuf,
}

fn state_dir() -> tempfile::TempDir {
    // Under /tmp: the Postgres socket lives in here and socket paths are short.
    tempfile::Builder::new()
        .prefix("gl-proc-")
        .tempdir_in("/tmp")
        .expect("temp dir")
}

fn serve(state: &Path, extra_env: &[(&str, &str)], extra_args: &[&str]) -> Server {
    let stderr_file = state.with_extension(format!("stderr-{}", uuid::Uuid::new_v4().simple()));
    let stderr = std::fs::File::create(&stderr_file).expect("stderr file");
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .args(extra_args)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    for (key, value) in extra_env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawn greenlight");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let url = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no ready line; stdout so far: {seen:?}"));
        if let Some(url) = line.strip_prefix(READY) {
            break url.to_owned();
        }
        seen.push(line);
    };
    // Replay what came before the ready line (the one-time passwords) for the test to read.
    let (replay_tx, replay_rx) = mpsc::channel();
    for line in seen {
        let _ = replay_tx.send(line);
    }
    std::thread::spawn(move || {
        for line in rx {
            if replay_tx.send(line).is_err() {
                break;
            }
        }
    });
    Server {
        child,
        url,
        stdout: replay_rx,
        stderr_file,
    }
}

impl Server {
    fn signal(&self, signal: i32) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "greenlight did not exit within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Lines printed to standard output so far (banner included).
    fn printed(&self) -> Vec<String> {
        self.stdout.try_iter().collect()
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr_file).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr_file);
    }
}

/// Pids of the processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // pid (comm) state ppid …; comm may hold spaces, so read after the last ')'.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse::<u32>()
                .ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

/// Pids of Postgres processes whose command line mentions `dir`.
fn postgres_processes_in(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains("postgres") && cmdline.contains(&needle)).then_some(pid)
        })
        .collect()
}

fn assert_no_postgres_within(dir: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let left = postgres_processes_in(dir);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "orphan Postgres processes: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn sign_in(client: &reqwest::blocking::Client, url: &str, name: &str, password: &str) -> u16 {
    client
        .post(format!("{url}/api/v1/session"))
        .header("x-csrf-token", "sign-in")
        .json(&serde_json::json!({ "username": name, "password": password }))
        .send()
        .expect("sign-in request")
        .status()
        .as_u16()
}

/// Runs `greenlight user add NAME --role ROLE --password-stdin` with `password` on stdin.
fn user_add(args: &[&str], env: &[(&str, &str)], password: &str) -> std::process::Output {
    let mut command = Command::new(BIN);
    command
        .args(["user", "add"])
        .args(args)
        .arg("--password-stdin")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawn user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write password");
    child.wait_with_output().expect("user add output")
}

/// The admin password from the first-run banner.
fn admin_password(printed: &[String]) -> String {
    printed
        .iter()
        .find(|l| l.contains("user admin"))
        .and_then(|l| l.split_whitespace().last())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no admin password in {printed:?}"))
}

#[test]
fn first_run_serves_health_and_sigterm_stops_postgres_too() {
    let state = state_dir();
    let mut server = serve(state.path(), &[], &[]);
    let health: serde_json::Value = http()
        .get(format!("{}/api/v1/health", server.url))
        .send()
        .expect("health")
        .json()
        .expect("json");
    assert_eq!(health["database"], "ok");
    let printed = server.printed();
    let password = admin_password(&printed);
    let browser = http();
    first_admin_sign_in(&browser, &server.url, &password);
    assert!(
        !postgres_processes_in(state.path()).is_empty(),
        "the private cluster runs"
    );
    // An open event stream, as a console tab keeps one, must not hold the stop.
    let events = browser
        .get(format!("{}/api/v1/events", server.url))
        .send()
        .expect("open the event stream");
    assert_eq!(events.status(), 200);

    server.signal(libc_signal::TERM);
    assert!(server.wait().success(), "clean exit on SIGTERM");
    assert_no_postgres_within(state.path(), Duration::from_secs(1));
    drop(events);
}

#[test]
fn ctrl_c_stops_cleanly_and_leaves_no_postgres() {
    let state = state_dir();
    let mut server = serve(state.path(), &[], &[]);
    server.signal(libc_signal::INT);
    assert!(server.wait().success(), "clean exit on SIGINT");
    assert_no_postgres_within(state.path(), Duration::from_secs(1));
}

#[test]
fn after_kill_9_postgres_goes_too_and_a_restart_keeps_the_users() {
    let state = state_dir();
    let state_arg = state.path().to_str().expect("utf-8 path");
    let mut server = serve(state.path(), &[], &[]);

    // Beside the running console, the CLI reuses its Postgres rather than starting another.
    let added = user_add(
        &["dora", "--role", "operator", "--state-dir", state_arg],
        &[],
        "dora-password-123",
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert_eq!(
        sign_in(&http(), &server.url, "dora", "dora-password-123"),
        200
    );

    server.signal(libc_signal::KILL);
    server.wait();
    assert_no_postgres_within(state.path(), Duration::from_secs(10));

    // A crash can also leave a stale postmaster.pid behind; the next start must cope.
    let pid_file = state.path().join("pg/data/postmaster.pid");
    std::fs::write(&pid_file, "999999\n/nowhere\n").expect("fake a stale pid file");

    let restarted = serve(state.path(), &[], &[]);
    assert_eq!(
        sign_in(&http(), &restarted.url, "dora", "dora-password-123"),
        200
    );
    assert!(
        restarted.printed().iter().all(|l| !l.contains("password")),
        "no new admin is created when users exist"
    );
}

#[test]
fn missing_postgres_programs_give_one_line_naming_the_package() {
    let state = state_dir();
    let output = Command::new(BIN)
        .args(["audit", "verify", "--state-dir"])
        .arg(state.path())
        .env_remove("DATABASE_URL")
        .env("PATH", "/nonexistent")
        .env("GREENLIGHT_PG_BIN", "/nonexistent")
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("apt-get install postgresql"), "{stderr}");
}

#[tokio::test]
async fn audit_verify_says_ok_then_names_the_row_a_superuser_tampered_with() {
    let db = common::fresh_database().await;
    let url = db.url();
    let env = [("DATABASE_URL", url.as_str())];
    for name in ["erin", "frank"] {
        let added = user_add(&[name, "--role", "viewer"], &env, "a-long-enough-password");
        assert!(
            added.status.success(),
            "{}",
            String::from_utf8_lossy(&added.stderr)
        );
    }
    let verify = || {
        Command::new(BIN)
            .args(["audit", "verify"])
            .env("DATABASE_URL", &url)
            .output()
            .expect("audit verify")
    };
    let ok = verify();
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("audit log OK: 2 events"));

    let first: i64 = sqlx::query_scalar("select min(id) from audit_events")
        .fetch_one(&db.pool)
        .await
        .expect("first id");
    common::as_superuser_without_the_trigger(
        &db,
        &[&format!(
            "update audit_events set target = 'mallory' where id = {first}"
        )],
    )
    .await;

    let broken = verify();
    assert!(!broken.status.success());
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert!(
        stdout.contains(&format!("BROKEN at event {first}")),
        "{stdout}"
    );
}

/// Serves on `db` with `state` as its state folder, audits a few sign-ins, stops gracefully
/// (which writes the audit checkpoint) and returns how many events were recorded.
async fn audited_run_then_stopped(db: &common::TestDatabase, state: &Path) -> i64 {
    let url = db.url();
    let state_owned = state.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut server = serve(&state_owned, &[("DATABASE_URL", url.as_str())], &[]);
        let admin = admin_password(&server.printed());
        let client = http();
        for _ in 0..3 {
            assert_eq!(
                sign_in(&client, &server.url, "admin", "not-the-password"),
                401
            );
        }
        assert_eq!(sign_in(&client, &server.url, "admin", &admin), 200);
        server.signal(libc_signal::TERM);
        assert!(server.wait().success(), "clean exit on SIGTERM");
    })
    .await
    .expect("server thread");
    assert!(
        state.join("audit-checkpoint.json").is_file(),
        "the graceful stop wrote the checkpoint"
    );
    sqlx::query_scalar("select count(*) from audit_events")
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

/// `greenlight audit verify` on `db` with `state` as its state folder.
fn audit_verify(db: &common::TestDatabase, state: &Path) -> (bool, String) {
    let output = Command::new(BIN)
        .args(["audit", "verify", "--state-dir"])
        .arg(state)
        .env("DATABASE_URL", db.url())
        .output()
        .expect("audit verify");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn verify_detects_a_cut_audit_tail() {
    let db = common::fresh_database().await;
    let state = state_dir();
    let events = audited_run_then_stopped(&db, state.path()).await;
    let (ok, stdout) = audit_verify(&db, state.path());
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains(&format!("audit log OK: {events} events"))
            && stdout.contains("reaches the signed checkpoint"),
        "{stdout}"
    );

    // The chain alone stays whole when its newest rows go.
    common::as_superuser_without_the_trigger(
        &db,
        &["delete from audit_events where id in \
           (select id from audit_events order by id desc limit 2)"],
    )
    .await;
    let (ok, stdout) = audit_verify(&db, state.path());
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("BROKEN at event"), "{stdout}");
    assert!(stdout.contains("tail of the log was cut"), "{stdout}");
    assert!(stdout.contains("audit-checkpoint.json"), "{stdout}");

    // So do they all.
    common::as_superuser_without_the_trigger(&db, &["delete from audit_events"]).await;
    let (ok, stdout) = audit_verify(&db, state.path());
    assert!(
        !ok && stdout.contains("tail of the log was cut"),
        "{stdout}"
    );
}

#[tokio::test]
async fn verify_detects_a_recomputed_chain() {
    let db = common::fresh_database().await;
    let state = state_dir();
    audited_run_then_stopped(&db, state.path()).await;

    // Change the first event, then recompute every hash after it as the app would.
    let rows: Vec<(
        i64,
        chrono::DateTime<chrono::Utc>,
        String,
        String,
        String,
        serde_json::Value,
    )> = sqlx::query_as(
        "select id, at, actor, action, target, details from audit_events order by id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("rows");
    let mut statements = Vec::new();
    let mut prev = vec![0u8; 32];
    for (index, (id, at, actor, action, target, details)) in rows.into_iter().enumerate() {
        let target = if index == 0 {
            "mallory".to_owned()
        } else {
            target
        };
        let canonical = serde_json::json!([
            id,
            at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            actor,
            action,
            target,
            details,
        ]);
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut hasher, &prev);
        sha2::Digest::update(&mut hasher, canonical.to_string().as_bytes());
        let hash = sha2::Digest::finalize(hasher).to_vec();
        statements.push(format!(
            "update audit_events set target = '{target}', prev_hash = '\\x{}', \
             hash = '\\x{}' where id = {id}",
            hex::encode(&prev),
            hex::encode(&hash)
        ));
        prev = hash;
    }
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    common::as_superuser_without_the_trigger(&db, &statements).await;

    // Without its checkpoint the forged chain passes: the recomputation is faithful.
    let checkpoint = state.path().join("audit-checkpoint.json");
    let aside = state.path().join("aside.json");
    std::fs::rename(&checkpoint, &aside).expect("move the checkpoint aside");
    let (ok, stdout) = audit_verify(&db, state.path());
    assert!(ok && stdout.contains("no checkpoint"), "{stdout}");
    std::fs::rename(&aside, &checkpoint).expect("put the checkpoint back");

    let (ok, stdout) = audit_verify(&db, state.path());
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("chain was recomputed"), "{stdout}");
    assert!(stdout.contains("audit-checkpoint.json"), "{stdout}");

    // A checkpoint edited to match the forged chain is reported too.
    let mut stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&checkpoint).expect("read")).expect("json");
    stored["last_hash"] = serde_json::Value::String(hex::encode(&prev));
    std::fs::write(&checkpoint, stored.to_string()).expect("write");
    let (ok, stdout) = audit_verify(&db, state.path());
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains("audit-checkpoint.json") && stdout.contains("altered"),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_app_role_can_only_insert_and_select_audit_rows() {
    let state = state_dir();
    let state_path = state.path().to_path_buf();
    let server = tokio::task::spawn_blocking(move || {
        let server = serve(&state_path, &[], &[]);
        let admin = admin_password(&server.printed());
        assert_eq!(sign_in(&http(), &server.url, "admin", &admin), 200);
        server
    })
    .await
    .expect("server thread");
    // Connect as the app does: the socket folder and port are in the server's pid file.
    let pid_file = std::fs::read_to_string(state.path().join("pg/data/postmaster.pid"))
        .expect("postmaster.pid");
    let lines: Vec<&str> = pid_file.lines().collect();
    let options = sqlx::postgres::PgConnectOptions::new()
        .socket(lines[4])
        .port(lines[3].trim().parse().expect("port"))
        .username("greenlight_app")
        .database("greenlight");
    let mut app = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options)
        .await
        .expect("connect as the app role");
    let rows: i64 = sqlx::query_scalar("select count(*) from audit_events")
        .fetch_one(&mut app)
        .await
        .expect("the app reads the audit log");
    assert!(rows >= 1, "the sign-in was recorded as the app role");
    for statement in [
        "alter table audit_events disable trigger audit_events_no_update_or_delete",
        "truncate audit_events",
        "delete from audit_events",
        "update audit_events set target = 'mallory'",
        "delete from _sqlx_migrations",
    ] {
        let err = sqlx::query(statement)
            .execute(&mut app)
            .await
            .expect_err(statement);
        let code = err.as_database_error().and_then(|e| e.code());
        // 42501: insufficient privilege (also "must be owner of table").
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: {err}");
    }
    drop(app);
    drop(server);
}

#[tokio::test]
async fn no_password_session_id_or_hash_reaches_the_logs_or_the_audit_details() {
    let db = common::fresh_database().await;
    let url = db.url();
    let state = state_dir();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("RUST_LOG", "debug"),
        ("GREENLIGHT_LOG_FORMAT", "json"),
    ];
    let server = serve(state.path(), &env, &["--demo"]);
    let printed = server.printed();
    let admin = admin_password(&printed);

    let base = server.url.clone();
    let cli_password = "cli-secret-password-42";
    let api_password = "api-secret-password-43";
    let wrong_password = "wrong-secret-password-44";
    let own_password = "admin-own-password-45";
    let session_cookie = tokio::task::spawn_blocking(move || {
        let client = http();
        assert_eq!(sign_in(&client, &base, "admin", wrong_password), 401);
        let response = client
            .post(format!("{base}/api/v1/session"))
            .header("x-csrf-token", "sign-in")
            .json(&serde_json::json!({ "username": "admin", "password": admin }))
            .send()
            .expect("sign in");
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .map(|(_, v)| v.to_owned())
            .expect("cookie value");
        let session: serde_json::Value = response.json().expect("json");
        let csrf = session["csrf_token"].as_str().expect("csrf").to_owned();
        // The first-run admin password is one-time: its owner picks their own first.
        let changed = client
            .put(format!("{base}/api/v1/session/password"))
            .header("x-csrf-token", &csrf)
            .json(&serde_json::json!({ "current_password": admin, "new_password": own_password }))
            .send()
            .expect("change password");
        assert_eq!(changed.status().as_u16(), 204);
        let created = client
            .post(format!("{base}/api/v1/users"))
            .header("x-csrf-token", &csrf)
            .json(&serde_json::json!({ "username": "gina", "role": "viewer", "password": api_password }))
            .send()
            .expect("create user");
        assert_eq!(created.status().as_u16(), 201);
        let out = client
            .delete(format!("{base}/api/v1/session"))
            .header("x-csrf-token", &csrf)
            .send()
            .expect("sign out");
        assert_eq!(out.status().as_u16(), 204);
        (cookie, admin)
    })
    .await
    .expect("client thread");
    let (cookie, admin) = session_cookie;
    let added = user_add(&["hank", "--role", "viewer"], &env, cli_password);
    assert!(added.status.success());

    let mut secrets = vec![
        admin,
        cookie.clone(),
        cli_password.into(),
        api_password.into(),
        wrong_password.into(),
        own_password.into(),
    ];
    secrets.extend(
        printed
            .iter()
            .filter(|line| line.trim_start().starts_with("user "))
            .filter_map(|line| line.split_whitespace().last().map(str::to_owned)),
    );
    assert_eq!(
        secrets.len(),
        9,
        "admin, alice and bob were printed once each"
    );
    let hashes: Vec<String> = sqlx::query_scalar("select password_hash from users")
        .fetch_all(&db.pool)
        .await
        .expect("hashes");
    secrets.extend(hashes);
    let session_hash = sha2_hex(&cookie);
    secrets.push(session_hash);

    let mut logs = server.logs();
    logs.push_str(&String::from_utf8_lossy(&added.stderr));
    assert!(
        logs.contains("request finished"),
        "the logs were captured at debug level"
    );
    let details: Vec<String> = sqlx::query_scalar("select details::text from audit_events")
        .fetch_all(&db.pool)
        .await
        .expect("details");
    let details = details.join("\n");
    for secret in &secrets {
        assert!(secret.len() >= 12, "a real secret: {secret}");
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
        assert!(
            !details.contains(secret.as_str()),
            "a secret reached the audit details"
        );
    }
    let mut stdout_of_cli = String::new();
    added
        .stdout
        .as_slice()
        .read_to_string(&mut stdout_of_cli)
        .expect("utf-8");
    assert!(
        !stdout_of_cli.contains(cli_password),
        "a password given on stdin is not echoed"
    );
}

/// A child process that is killed when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sha2_hex(value: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(value.as_bytes()))
}

/// Signal numbers, named (Linux).
mod libc_signal {
    pub const INT: i32 = 2;
    pub const KILL: i32 = 9;
    pub const TERM: i32 = 15;
}

/// Starts `greenlight emulator` on port 0 with `token`; returns it and its ARM URL.
fn local_workspace_process(state: &Path, token: &str) -> (KillOnDrop, String) {
    let child = Command::new(BIN)
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--scoring-listen",
            "127.0.0.1:0",
        ])
        .arg("--state-dir")
        .arg(state)
        .arg("--examples-dir")
        .arg(common::examples_dir())
        .env("GREENLIGHT_EMULATOR_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn greenlight emulator");
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("a ready line before stdout closes");
        if let Some(url) = line.strip_prefix("Local workspace is ready at ") {
            break url.to_owned();
        }
    };
    (child, url)
}

#[test]
fn azure_mode_drives_a_workspace_over_arm_with_a_token_from_the_azure_cli() {
    // The local workspace stands in for Azure ML: Greenlight reaches it only over its Azure
    // configuration path (ARM endpoint override, token from azure_identity's Azure CLI
    // credential), exactly as it would reach management.azure.com.
    let workspace_state = state_dir();
    let (_workspace, arm_url) = local_workspace_process(workspace_state.path(), "token-from-az");

    // A stand-in `az` on PATH: what `az account get-access-token -o json` prints.
    let tools = tempfile::tempdir().expect("tools dir");
    let calls = tools.path().join("az-calls");
    let az = tools.path().join("az");
    std::fs::write(
        &az,
        format!(
            "#!/bin/sh\necho \"$@\" >> {calls}\n\
             printf '{{\"accessToken\":\"token-from-az\",\"expires_on\":%s,\"tokenType\":\"Bearer\"}}' \
             $(( $(date +%s) + 3600 ))\n",
            calls = calls.display()
        ),
    )
    .expect("write az");
    std::fs::set_permissions(&az, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod az");
    let path = format!(
        "{}:{}",
        tools.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let state = state_dir();
    let mut server = serve(
        state.path(),
        &[("PATH", path.as_str())],
        &cluster::azure_mode(&arm_url),
    );
    let printed = server.printed();
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with("Azure ML workspace local")),
        "{printed:?}"
    );
    assert!(
        !printed
            .iter()
            .any(|l| l.contains("Local workspace (Azure ML emulator)")),
        "no embedded local workspace in Azure mode"
    );
    let browser = http();
    let signed_in: serde_json::Value = browser
        .post(format!("{}/api/v1/session", server.url))
        .header("x-csrf-token", "sign-in")
        .json(&serde_json::json!({ "username": "admin", "password": admin_password(&printed) }))
        .send()
        .expect("sign in")
        .json()
        .expect("session");
    let csrf = signed_in["csrf_token"]
        .as_str()
        .expect("csrf token")
        .to_owned();
    choose_own_password(&browser, &server.url, &csrf, &admin_password(&printed));

    let started = browser
        .post(format!("{}/api/v1/endpoints", server.url))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({ "name": "through-arm" }))
        .send()
        .expect("create endpoint");
    assert_eq!(started.status().as_u16(), 202);
    let operation: serde_json::Value = started.json().expect("operation");
    let id = operation["id"].as_str().expect("id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let ended = loop {
        let now: serde_json::Value = browser
            .get(format!("{}/api/v1/operations/{id}", server.url))
            .send()
            .expect("operation")
            .json()
            .expect("json");
        if now["status"] != "running" {
            break now;
        }
        assert!(Instant::now() < deadline, "still running: {now}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ended["status"], "succeeded", "{ended}");

    // The workspace itself holds the endpoint, and the console lists it.
    let direct = browser
        .get(format!(
            "{arm_url}/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.MachineLearningServices/workspaces/local/onlineEndpoints/through-arm?api-version=2024-04-01"
        ))
        .bearer_auth("token-from-az")
        .send()
        .expect("direct read");
    assert_eq!(direct.status().as_u16(), 200);
    let listed: serde_json::Value = browser
        .get(format!("{}/api/v1/endpoints", server.url))
        .send()
        .expect("list")
        .json()
        .expect("json");
    assert_eq!(listed["items"][0]["name"], "through-arm", "{listed}");
    let about: serde_json::Value = browser
        .get(format!("{}/api/v1/about", server.url))
        .send()
        .expect("about")
        .json()
        .expect("json");
    assert!(about["local_workspace"].is_null(), "{about}");

    // The token was asked of the Azure CLI for ARM's scope, once (then cached).
    let asked = std::fs::read_to_string(&calls).expect("az was run");
    assert_eq!(asked.lines().count(), 1, "{asked}");
    assert!(
        asked.contains("get-access-token")
            && asked.contains("--scope https://management.azure.com/.default"),
        "{asked}"
    );
    server.signal(libc_signal::TERM);
    assert!(server.wait().success());
}

#[test]
fn azure_mode_without_its_settings_names_the_missing_flag() {
    let state = state_dir();
    let output = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state.path())
        .args([
            "--workspace",
            "azure",
            "--azure-subscription",
            "s",
            "--azure-resource-group",
            "g",
        ])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run greenlight");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--azure-workspace"), "{stderr}");
    assert!(
        postgres_processes_in(state.path()).is_empty(),
        "nothing was started"
    );
}

#[test]
fn greenlight_emulator_serves_the_arm_api_alone_until_sigterm() {
    let state = state_dir();
    // Killed on drop, so a failing assertion does not leave it running.
    let (mut child, url) = local_workspace_process(state.path(), "cli-token");
    let workspace = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w";
    let client = http();
    let answer = client
        .get(format!("{url}{workspace}?api-version=2024-04-01"))
        .bearer_auth("cli-token")
        .send()
        .expect("workspace");
    assert_eq!(answer.status().as_u16(), 200);
    let body: serde_json::Value = answer.json().expect("json");
    assert_eq!(body["location"], "local");
    let model = client
        .get(format!(
            "{url}{workspace}/models/regression-v1/versions/1?api-version=2024-04-01"
        ))
        .bearer_auth("cli-token")
        .send()
        .expect("model");
    assert_eq!(
        model.status().as_u16(),
        200,
        "demo models are registered at start"
    );
    let model: serde_json::Value = model.json().expect("json");
    assert!(model["properties"]["modelUri"]
        .as_str()
        .is_some_and(|uri| uri.starts_with("file://") && uri.ends_with("regression-v1/model")));
    let refused = client
        .get(format!("{url}{workspace}?api-version=2024-04-01"))
        .send()
        .expect("anonymous");
    assert_eq!(refused.status().as_u16(), 401);

    let killed = Command::new("kill")
        .args(["-15", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.0.wait().expect("wait");
    assert!(status.success(), "clean exit on SIGTERM: {status}");
}

/// Signs `client` in and returns its CSRF token.
fn sign_in_for_writes(client: &reqwest::blocking::Client, url: &str, password: &str) -> String {
    let body: serde_json::Value = client
        .post(format!("{url}/api/v1/session"))
        .header("x-csrf-token", "sign-in")
        .json(&serde_json::json!({ "username": "admin", "password": password }))
        .send()
        .expect("sign-in request")
        .json()
        .expect("sign-in body");
    body["csrf_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no csrf token in {body}"))
        .to_owned()
}

/// The admin's password once they replaced the first run's one-time password.
const ADMIN_OWN_PASSWORD: &str = "admin-own-password-1";

/// Signs in as the first-run admin with the printed one-time password and replaces it with
/// [`ADMIN_OWN_PASSWORD`]; returns the session's CSRF token.
fn first_admin_sign_in(client: &reqwest::blocking::Client, url: &str, one_time: &str) -> String {
    let csrf = sign_in_for_writes(client, url, one_time);
    choose_own_password(client, url, &csrf, one_time);
    csrf
}

/// The first-run admin password is one-time: its owner picks their own before anything else.
fn choose_own_password(client: &reqwest::blocking::Client, url: &str, csrf: &str, one_time: &str) {
    let changed = client
        .put(format!("{url}/api/v1/session/password"))
        .header("x-csrf-token", csrf)
        .json(&serde_json::json!({
            "current_password": one_time,
            "new_password": ADMIN_OWN_PASSWORD,
        }))
        .send()
        .expect("password change");
    assert_eq!(changed.status().as_u16(), 204, "the admin chose a password");
}

/// Polls operation `id` until `done` says so, or panics after `limit`.
fn wait_for_operation(
    client: &reqwest::blocking::Client,
    url: &str,
    id: &str,
    limit: Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let operation: serde_json::Value = client
            .get(format!("{url}/api/v1/operations/{id}"))
            .send()
            .expect("read the operation")
            .json()
            .expect("operation body");
        if done(&operation) {
            return operation;
        }
        assert!(Instant::now() < deadline, "operation {id}: {operation}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn after_kill_9_during_a_deployment_create_the_restarted_server_follows_it_to_its_end_and_audits_it(
) {
    let state = state_dir();
    let examples = common::examples_dir();
    let examples_args = ["--examples-dir", examples.to_str().expect("utf-8 path")];
    let server = serve(state.path(), &[], &examples_args);
    let password = admin_password(&server.printed());
    let client = http();
    let csrf = first_admin_sign_in(&client, &server.url, &password);
    let post = |path: &str, body: serde_json::Value| -> serde_json::Value {
        let response = client
            .post(format!("{}{path}", server.url))
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
            .expect("request");
        assert_eq!(response.status().as_u16(), 202, "POST {path}");
        response.json().expect("operation")
    };
    let created = post(
        "/api/v1/endpoints",
        serde_json::json!({ "name": "crash-endpoint" }),
    );
    let id = created["id"].as_str().expect("id").to_owned();
    let ended = wait_for_operation(&client, &server.url, &id, Duration::from_secs(60), |o| {
        o["status"] != "running"
    });
    assert_eq!(ended["status"], "succeeded", "{ended}");

    // A deployment whose instance is ready only after 8 s: killed while it is being created.
    let started = post(
        "/api/v1/endpoints/crash-endpoint/deployments",
        serde_json::json!({
            "name": "blue",
            "model": "azureml:regression-v1:1",
            "instance_type": "Standard_DS3_v2",
            "instance_count": 1,
            "readiness_probe": { "initial_delay_s": 8 }
        }),
    );
    let id = started["id"].as_str().expect("id").to_owned();
    let accepted = wait_for_operation(&client, &server.url, &id, Duration::from_secs(30), |o| {
        !o["arm_operation_id"].is_null()
    });
    assert_eq!(accepted["status"], "running", "{accepted}");
    // The polling URL is stored right after the ARM operation id.
    std::thread::sleep(Duration::from_millis(500));
    let mut server = server;
    server.signal(libc_signal::KILL);
    server.wait();
    assert_no_postgres_within(state.path(), Duration::from_secs(10));

    // The restarted server takes it up once the dead process's lease expires: no new operation
    // is started to make that happen.
    let restarted = serve(state.path(), &[], &examples_args);
    let client = http();
    sign_in_for_writes(&client, &restarted.url, ADMIN_OWN_PASSWORD);
    let ended = wait_for_operation(
        &client,
        &restarted.url,
        &id,
        Duration::from_secs(150),
        |o| o["status"] != "running",
    );
    assert_eq!(
        ended["status"],
        "succeeded",
        "{ended}\n{}",
        restarted.logs()
    );
    assert_eq!(ended["arm_operation_id"], accepted["arm_operation_id"]);
    let operations: serde_json::Value = client
        .get(format!("{}/api/v1/operations", restarted.url))
        .send()
        .expect("list operations")
        .json()
        .expect("operations");
    assert_eq!(
        operations["items"].as_array().map(Vec::len),
        Some(2),
        "{operations}"
    );

    let audit: serde_json::Value = client
        .get(format!("{}/api/v1/audit", restarted.url))
        .send()
        .expect("read the audit log")
        .json()
        .expect("audit page");
    let created: Vec<&serde_json::Value> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["action"] == "deployment.create")
        .collect();
    assert_eq!(created.len(), 1, "{audit}");
    let details = &created[0]["details"];
    assert_eq!(created[0]["target"], "crash-endpoint/blue");
    assert_eq!(created[0]["actor"], "admin");
    assert_eq!(details["outcome"], "succeeded", "{details}");
    assert_eq!(details["operation_id"], serde_json::json!(id));
    assert_eq!(details["arm_operation_id"], accepted["arm_operation_id"]);
    assert!(details["before"].is_null(), "{details}");
    assert_eq!(details["request"]["name"], "blue");
    assert_eq!(details["request"]["readiness_probe"]["initial_delay_s"], 8);
    assert_eq!(details["after"]["name"], "blue");
    assert_eq!(details["after"]["provisioning_state"], "Succeeded");
    assert_eq!(details["after"]["instance_count"], 1);
}

#[test]
fn a_private_postgres_that_dies_is_restarted_and_requests_work_again() {
    let state = state_dir();
    let server = serve(state.path(), &[], &[]);
    let password = admin_password(&server.printed());
    let health = |client: &reqwest::blocking::Client| {
        client
            .get(format!("{}/api/v1/health", server.url))
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let client = http();
    assert_eq!(health(&client), 200);
    let postmaster = postgres_processes_in(state.path());
    assert_eq!(postmaster.len(), 1, "one postmaster: {postmaster:?}");
    // The whole server dies at once, as when the kernel's OOM killer takes it: the postmaster
    // and every backend it started.
    // The postmaster first (so it starts no new backend), then whatever backends it had; a
    // backend may end on its own meanwhile, so only the postmaster's kill must succeed.
    let backends = children_of(postmaster[0]);
    let kill = |pid: u32| {
        Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("run kill")
            .success()
    };
    assert!(kill(postmaster[0]), "the postmaster is killed");
    for backend in backends {
        kill(backend);
    }

    // Degraded while it is down (the supervisor waits a second before restarting it)...
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut saw_degraded = false;
    while Instant::now() < deadline && !saw_degraded {
        saw_degraded = health(&client) == 503;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        saw_degraded,
        "/health says degraded while the database is down: {}",
        server.logs()
    );
    // ...then back, without anyone touching it: a new postmaster, and health says ok.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let running = postgres_processes_in(state.path());
        let back = running.len() == 1 && running[0] != postmaster[0];
        if back && health(&client) == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the database came back ({running:?}): {}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(sign_in(&http(), &server.url, "admin", &password), 200);
    assert!(server.logs().contains("restarting it"), "{}", server.logs());
}
