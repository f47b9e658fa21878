//! `greenlight token create`: the secret alone on standard output, usable at once against a
//! running server, stored only as its hash, and audited as done by `cli`.

use super::{common, http, serve, state_dir, user_add, BIN};
use std::process::Command;

/// `greenlight token create` of token `ci` for olga with `role`, for 30 days.
fn token_create(url: &str, role: &str) -> std::process::Output {
    Command::new(BIN)
        .args([
            "token", "create", "--user", "olga", "--name", "ci", "--role", role,
        ])
        .args(["--expires-in", "30d"])
        .env("DATABASE_URL", url)
        .output()
        .expect("token create")
}

#[tokio::test]
async fn token_create_prints_a_secret_once_that_a_running_server_accepts() {
    let db = common::fresh_database().await;
    let url = db.url();
    let env = [("DATABASE_URL", url.as_str())];
    let added = user_add(
        &["olga", "--role", "operator"],
        &env,
        "a-long-enough-password",
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );

    let refused = token_create(&url, "admin");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("role admin is above your own role (operator)"),
        "{stderr}"
    );
    assert!(refused.stdout.is_empty());

    let created = token_create(&url, "operator");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let stdout = String::from_utf8_lossy(&created.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the secret alone: {stdout:?}");
    let secret = lines[0].to_owned();
    assert!(secret.starts_with("glt_"), "{secret}");
    assert!(String::from_utf8_lossy(&created.stderr).contains("created token ci of olga"));

    let (actor, target): (String, String) =
        sqlx::query_as("select actor, target from audit_events where action = 'token.create'")
            .fetch_one(&db.pool)
            .await
            .expect("token.create");
    assert_eq!((actor.as_str(), target.as_str()), ("cli", "olga/token:ci"));
    let details: String =
        sqlx::query_scalar("select string_agg(details::text, ' ') from audit_events")
            .fetch_one(&db.pool)
            .await
            .expect("details");
    assert!(!details.contains(&secret));

    let state = state_dir();
    let state_path = state.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let server = serve(&state_path, &[("DATABASE_URL", url.as_str())], &[]);
        let client = http();
        let answer = client
            .get(format!("{}/api/v1/tokens", server.url))
            .bearer_auth(&secret)
            .send()
            .expect("list tokens");
        assert_eq!(answer.status().as_u16(), 200);
        let list: serde_json::Value = answer.json().expect("json");
        assert_eq!(list["items"][0]["name"], "ci");
        assert_eq!(list["items"][0]["created_by"], "olga");
        assert!(!list.to_string().contains(&secret));
        assert!(
            !server.logs().contains(&secret),
            "the secret reached the log"
        );
    })
    .await
    .expect("server thread");
}
