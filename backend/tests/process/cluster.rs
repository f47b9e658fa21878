//! Replicas of Greenlight on one database, all driving one local workspace over ARM exactly as
//! they would drive Azure ML: a stand-in `az`, the replicas, their users, and a signed-in user of
//! one replica. Shared by the replica tests.

use super::{http, serve, user_add, Server};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// The token the local workspace expects and the stand-in `az` prints.
pub(super) const TOKEN: &str = "replica-token";

/// A stand-in `az` on a PATH of its own, printing a token for the local workspace; returns that
/// PATH.
pub(super) fn fake_az(dir: &Path) -> String {
    let az = dir.join("az");
    std::fs::write(
        &az,
        format!(
            "#!/bin/sh\nprintf '{{\"accessToken\":\"{TOKEN}\",\"expires_on\":%s,\"tokenType\":\"Bearer\"}}' \
             $(( $(date +%s) + 3600 ))\n"
        ),
    )
    .expect("write az");
    std::fs::set_permissions(&az, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod az");
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `greenlight serve`'s flags for driving the workspace at `arm_url` over ARM as Azure ML, with
/// a token from the Azure CLI.
pub(super) fn azure_mode(arm_url: &str) -> [&str; 14] {
    [
        "--workspace",
        "azure",
        "--arm-endpoint",
        arm_url,
        "--arm-audience",
        "https://management.azure.com",
        "--azure-subscription",
        "00000000-0000-0000-0000-000000000000",
        "--azure-resource-group",
        "local",
        "--azure-workspace",
        "local",
        "--azure-credential",
        "azure-cli",
    ]
}

/// A replica on `database`, reaching the workspace at `arm_url` with a token from the `az` on
/// `path`.
pub(super) fn replica(state: &Path, database: &str, path: &str, arm_url: &str) -> Server {
    serve(
        state,
        &[
            ("DATABASE_URL", database),
            ("PATH", path),
            ("GREENLIGHT_LEASE_SECS", "2"),
        ],
        &azure_mode(arm_url),
    )
}

fn password(name: &str) -> String {
    format!("{name}-replica-password")
}

/// Adds each `(name, role)` to `database` with `greenlight user add`.
pub(super) fn add_users(database: &str, users: &[(&str, &str)]) {
    for (name, role) in users {
        let added = user_add(
            &[name, "--role", role],
            &[("DATABASE_URL", database)],
            &password(name),
        );
        assert!(
            added.status.success(),
            "{}",
            String::from_utf8_lossy(&added.stderr)
        );
    }
}

/// A signed-in user of one replica.
pub(super) struct Api {
    pub(super) client: reqwest::blocking::Client,
    pub(super) url: String,
    csrf: String,
}

impl Api {
    pub(super) fn sign_in(url: &str, name: &str) -> Self {
        let client = http();
        let body: Value = client
            .post(format!("{url}/api/v1/session"))
            .header("x-csrf-token", "sign-in")
            .json(&json!({ "username": name, "password": password(name) }))
            .send()
            .expect("sign in")
            .json()
            .expect("session");
        let csrf = body["csrf_token"].as_str().expect("csrf").to_owned();
        Self {
            client,
            url: url.to_owned(),
            csrf,
        }
    }

    pub(super) fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .expect("get")
            .json()
            .expect("json")
    }

    pub(super) fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .expect("send");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    pub(super) fn finish(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let op = self.get(&format!("/api/v1/operations/{id}"));
            if op["status"] != "running" {
                return op;
            }
            assert!(Instant::now() < deadline, "operation {id} did not end");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
