//! Model code is untrusted: an instance starts from a cleared environment, runs as an
//! unprivileged account in its own process group when Greenlight is root, cannot read the state
//! dir or reach a database socket folder, dies with its whole group, and a deployment cannot
//! name interpreter or loader variables or a scoring script outside its code asset.
//!
//! Each test's `score.py` reports what the instance sees through its `run()` answer.

use crate::common::local_workspace_config;
use crate::helpers::{
    assert_refused, deployment_body, deployment_path, process_alive, start, start_on, Local, TOKEN,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// Deploys `source` as `blue` of `endpoint` with `variables`, gives it all traffic and returns
/// what its `run()` answers.
async fn deploy_and_ask(
    local: &Local,
    endpoint: &str,
    source: &str,
    variables: Value,
) -> (tempfile::TempDir, Value) {
    let code = local.register_code(endpoint, source).await;
    local.create_endpoint(endpoint).await;
    let mut body = deployment_body("regression-v1", 1);
    body["properties"]["codeConfiguration"]["codeId"] = json!(format!("azureml:{endpoint}:1"));
    body["properties"]["environmentVariables"] = variables;
    let outcome = local.create_deployment_from(endpoint, "blue", body).await;
    assert_eq!(outcome["status"], "Succeeded", "{outcome}");
    local
        .move_traffic(endpoint, json!({ "blue": 100 }), json!({}))
        .await;
    let key = local.key(endpoint).await;
    let (status, _, answer) = local.score(endpoint, &key, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    (code, answer)
}

const REPORT_ENVIRONMENT: &str = r#"
import os
def init():
    pass
def run(raw):
    return {"env": dict(os.environ), "uid": os.getuid(), "pid": os.getpid(),
            "pgrp": os.getpgrp(), "cwd": os.getcwd()}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_start_from_a_cleared_environment() {
    let local = start().await;
    let (_code, seen) = deploy_and_ask(
        &local,
        "cleared-env",
        REPORT_ENVIRONMENT,
        json!({ "MODEL_NAME": "blue", "WORKERS": "2" }),
    )
    .await;
    let env = seen["env"].as_object().expect("the instance's environment");
    let mut names: Vec<&str> = env.keys().map(String::as_str).collect();
    // Python's C-locale coercion (PEP 538) may add LC_CTYPE itself.
    names.retain(|n| *n != "LC_CTYPE");
    assert_eq!(
        names,
        ["AZUREML_MODEL_DIR", "HOME", "MODEL_NAME", "PATH", "WORKERS"],
        "{seen}"
    );
    assert_eq!(env["MODEL_NAME"], "blue");
    assert_eq!(env["PATH"], "/usr/local/bin:/usr/bin:/bin");
    assert_eq!(
        env["HOME"], seen["cwd"],
        "HOME is the instance's own folder"
    );
    let model_dir = env["AZUREML_MODEL_DIR"].as_str().unwrap_or_default();
    assert!(
        std::path::Path::new(model_dir).join("model.json").is_file(),
        "{model_dir}"
    );
    // Its own process group, and an unprivileged account when we are root.
    assert_eq!(seen["pgrp"], seen["pid"], "{seen}");
    if running_as_root() {
        assert_ne!(seen["uid"], 0, "{seen}");
    }
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interpreter_and_loader_variables_are_refused() {
    let local = start().await;
    let endpoint = "reserved-env";
    local.create_endpoint(endpoint).await;
    let marker = tempfile::tempdir().expect("marker dir");
    let witness = marker.path().join("id-ran");
    // The reproduction of issue 10: warnings import antigravity, which runs $BROWSER.
    let mut body = deployment_body("regression-v1", 1);
    body["properties"]["environmentVariables"] = json!({
        "PYTHONWARNINGS": "all:0:antigravity.x:0:0",
        "BROWSER": format!("/bin/sh -c \"id > {}\" #%s", witness.display()),
    });
    let path = deployment_path(endpoint, "blue");
    let reply = local.arm(Method::PUT, &path, Some(body.clone())).await;
    assert_refused(&reply, "properties.environmentVariables.BROWSER");
    for name in [
        "PYTHONPATH",
        "LD_PRELOAD",
        "ld_preload",
        "GLIBC_TUNABLES",
        "PATH",
        "1X",
    ] {
        body["properties"]["environmentVariables"] = json!({ name: "x" });
        let reply = local.arm(Method::PUT, &path, Some(body.clone())).await;
        assert_refused(&reply, &format!("properties.environmentVariables.{name}"));
    }
    // Nothing was deployed, and no command ran.
    let get = local.arm(Method::GET, &path, None).await;
    assert_eq!(get.status, StatusCode::NOT_FOUND, "{}", get.body);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!witness.exists(), "the BROWSER command ran");
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_cannot_read_the_state_dir() {
    let state = tempfile::tempdir().expect("state dir");
    // Even a state dir others could enter is closed to them once the workspace starts.
    std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let local = start_on(local_workspace_config(state.path(), TOKEN, false)).await;
    let mode = std::fs::metadata(state.path())
        .expect("state")
        .permissions();
    assert_eq!(mode.mode() & 0o777, 0o700);
    let state_file = state.path().join("workspace.json");
    assert!(state_file.is_file());
    let source = format!(
        r#"
def init():
    pass
def run(raw):
    try:
        open({state_file:?}).read()
        return "read"
    except OSError as e:
        return type(e).__name__
"#,
        state_file = state_file.display().to_string()
    );
    let (_code, seen) = deploy_and_ask(&local, "no-state", &source, json!({})).await;
    if running_as_root() {
        assert_eq!(seen, "PermissionError");
    } else {
        eprintln!("not root: the instance runs as this account; state dir check skipped ({seen})");
    }
    // A code or model asset may not be (or hold) the state folder.
    let reply = local
        .arm(
            Method::PUT,
            &format!("{}/codes/stateful/versions/1", crate::helpers::WORKSPACE),
            Some(json!({ "properties": { "codeUri": format!("file://{}", state.path().display()) } })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut body = deployment_body("regression-v1", 1);
    body["properties"]["codeConfiguration"] =
        json!({ "codeId": "azureml:stateful:1", "scoringScript": "workspace.json" });
    let reply = local
        .arm(
            Method::PUT,
            &deployment_path("no-state", "green"),
            Some(body),
        )
        .await;
    assert_refused(&reply, "properties.codeConfiguration.codeId");
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_cannot_reach_the_database_socket_folder() {
    if !running_as_root() {
        eprintln!("not root: instances run as this account; skipped");
        return;
    }
    // The private cluster's layout: a 0700 folder owned by the database account, the socket
    // inside it.
    let folder = tempfile::Builder::new()
        .prefix("pg-")
        .tempdir_in("/var/tmp")
        .expect("socket dir");
    let socket = folder.path().join(".s.PGSQL.5432");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    let owner = ["postgres", "nobody"]
        .into_iter()
        .find_map(|name| {
            let out = std::process::Command::new("id")
                .args(["-u", name])
                .output()
                .ok()?;
            String::from_utf8(out.stdout)
                .ok()?
                .trim()
                .parse::<u32>()
                .ok()
        })
        .expect("a database account");
    std::os::unix::fs::chown(folder.path(), Some(owner), None).expect("chown");
    std::fs::set_permissions(folder.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let source = format!(
        r#"
import socket
def init():
    pass
def run(raw):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect({socket:?})
        return "connected"
    except OSError as e:
        return type(e).__name__
"#,
        socket = socket.display().to_string()
    );
    let local = start().await;
    let (_code, seen) = deploy_and_ask(&local, "no-socket", &source, json!({})).await;
    assert_eq!(seen, "PermissionError");
    local.emulator.shutdown().await;
}

/// Starts a child and a grandchild (which leaves its parent) in `init()`; `run()` names them.
const SPAWN_CHILDREN: &str = r#"
import subprocess
children = {}
def init():
    child = subprocess.Popen(["sleep", "300"])
    out = subprocess.run(["/bin/sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True, check=True)
    children["child"] = child.pid
    children["grandchild"] = int(out.stdout.strip())
def run(raw):
    return children
"#;

fn pids_of(seen: &Value) -> [u32; 2] {
    ["child", "grandchild"].map(|k| {
        seen[k]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or_else(|| panic!("{k} in {seen}"))
    })
}

async fn wait_gone(pids: [u32; 2], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while pids.iter().any(|p| process_alive(*p)) {
        assert!(Instant::now() < deadline, "{what}: {pids:?} still run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_an_instance_ends_its_process_group() {
    let local = start().await;
    let endpoint = "process-group";
    let (_code, seen) = deploy_and_ask(&local, endpoint, SPAWN_CHILDREN, json!({})).await;
    let first = pids_of(&seen);
    assert!(first.iter().all(|p| process_alive(*p)), "{seen}");

    // kill -9 of the harness: the supervisor ends its group before starting a replacement.
    let pool = local.pool(endpoint, "blue");
    let harness = pool.ready_instances()[0].pid.expect("a pid");
    let killed = std::process::Command::new("kill")
        .args(["-9", &harness.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    wait_gone(first, "after kill -9 of the instance").await;

    // Deleting the deployment stops the replacement, and its children with it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let second = loop {
        let key = local.key(endpoint).await;
        let (status, _, seen) = local.score(endpoint, &key, None).await;
        if status == StatusCode::OK {
            break pids_of(&seen);
        }
        assert!(Instant::now() < deadline, "no replacement instance");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(second, first);
    local.move_traffic(endpoint, json!({}), json!({})).await;
    let reply = local
        .arm(Method::DELETE, &deployment_path(endpoint, "blue"), None)
        .await;
    assert_eq!(local.settle(&reply).await["status"], "Succeeded");
    wait_gone(second, "after the deployment was deleted").await;
    local.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoring_script_outside_the_code_asset_is_refused() {
    let local = start().await;
    let endpoint = "outside-code";
    let code = local
        .register_code(endpoint, "def init(): pass\ndef run(raw): return 1\n")
        .await;
    let elsewhere = tempfile::tempdir().expect("elsewhere");
    let evil = elsewhere.path().join("evil.py");
    std::fs::write(&evil, "def init(): pass\ndef run(raw): return 'evil'\n").expect("evil.py");
    std::os::unix::fs::symlink(&evil, code.path().join("linked.py")).expect("symlink");
    local.create_endpoint(endpoint).await;
    let path = deployment_path(endpoint, "blue");
    for script in [
        evil.display().to_string(),
        "../evil.py".into(),
        "linked.py".into(),
    ] {
        let mut body = deployment_body("regression-v1", 1);
        body["properties"]["codeConfiguration"] =
            json!({ "codeId": format!("azureml:{endpoint}:1"), "scoringScript": script });
        let reply = local.arm(Method::PUT, &path, Some(body)).await;
        assert_refused(&reply, "properties.codeConfiguration.scoringScript");
    }
    local.emulator.shutdown().await;
}
