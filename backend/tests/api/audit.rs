use crate::helpers::{spawn_app, PASSWORD};
use backend::audit::{self, AuditEvent, Verdict};
use shared::audit::AuditAction;
use shared::Role;

#[tokio::test]
async fn every_sign_in_attempt_is_recorded_with_the_client_address() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Operator).await;
    let mut client = app.client();
    client.sign_in("alice", "wrong-password!").await;
    client.sign_in("Not A Name", PASSWORD).await;
    client.sign_in("alice", PASSWORD).await;
    client
        .send(reqwest::Method::DELETE, "/api/v1/session", None)
        .await;

    let events = app.audit_actions().await;
    let summary: Vec<(&str, &str)> = events
        .iter()
        .map(|(action, target, _)| (action.as_str(), target.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("user.create", "alice"),
            ("session.sign_in_failed", "alice"),
            // A name that breaks the rules may be a mistyped password: it is not recorded.
            ("session.sign_in_failed", "-"),
            ("session.sign_in", "alice"),
            ("session.sign_out", "alice"),
        ]
    );
    for (action, _, details) in &events[1..4] {
        assert_eq!(details["client_addr"], "127.0.0.1", "{action}");
    }
    assert_eq!(events[1].2["reason"], "wrong_credentials");
    assert_eq!(events[2].2["reason"], "invalid_username");
}

#[tokio::test]
async fn rate_limited_attempts_are_recorded_too() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Operator).await;
    for _ in 0..6 {
        app.client().sign_in("alice", "wrong-password!").await;
    }
    let limited = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "session.sign_in_rate_limited")
        .count();
    assert_eq!(limited, 1);
}

#[tokio::test]
async fn the_audit_table_refuses_update_delete_and_truncate() {
    let app = spawn_app().await;
    app.add_user("alice", Role::Operator).await;
    for statement in [
        "update audit_events set actor = 'mallory'",
        "delete from audit_events",
        "truncate audit_events",
    ] {
        let err = sqlx::query(statement)
            .execute(&app.db.pool)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    assert_eq!(app.audit_actions().await.len(), 1);
}

#[tokio::test]
async fn verify_accepts_an_untouched_chain_and_names_the_first_tampered_row() {
    let app = spawn_app().await;
    for name in ["alice", "bob", "carol"] {
        app.add_user(name, Role::Viewer).await;
    }
    assert_eq!(
        audit::verify(&app.db.pool).await.expect("verify"),
        Verdict::Intact { rows: 3 }
    );
    let second: i64 =
        sqlx::query_scalar("select id from audit_events order by id offset 1 limit 1")
            .fetch_one(&app.db.pool)
            .await
            .expect("second id");
    let mut tx = app.db.pool.begin().await.expect("begin");
    sqlx::query("alter table audit_events disable trigger audit_events_no_update_or_delete")
        .execute(&mut *tx)
        .await
        .expect("disable trigger (superuser)");
    sqlx::query("update audit_events set details = '{\"role\":\"admin\"}' where id = $1")
        .bind(second)
        .execute(&mut *tx)
        .await
        .expect("tamper");
    sqlx::query("alter table audit_events enable trigger audit_events_no_update_or_delete")
        .execute(&mut *tx)
        .await
        .expect("enable trigger");
    tx.commit().await.expect("commit");

    match audit::verify(&app.db.pool).await.expect("verify") {
        Verdict::Broken { id, .. } => assert_eq!(id, second),
        intact => panic!("tampering went unnoticed: {intact:?}"),
    }
}

#[tokio::test]
async fn concurrent_writers_keep_the_chain_linear() {
    let app = spawn_app().await;
    let writers = (0..16).map(|i| {
        let pool = app.db.pool.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.expect("begin");
            audit::record(
                &mut tx,
                &AuditEvent {
                    actor: format!("writer-{i}"),
                    action: AuditAction::SignOut,
                    target: "x".into(),
                    details: serde_json::json!({ "n": i }),
                },
            )
            .await
            .expect("record");
            tx.commit().await.expect("commit");
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.expect("writer");
    }
    assert_eq!(
        audit::verify(&app.db.pool).await.expect("verify"),
        Verdict::Intact { rows: 16 }
    );
}

#[tokio::test]
async fn an_event_rolled_back_with_its_change_leaves_no_trace() {
    let app = spawn_app().await;
    let mut tx = app.db.pool.begin().await.expect("begin");
    audit::record(
        &mut tx,
        &AuditEvent {
            actor: "alice".into(),
            action: AuditAction::UserCreate,
            target: "ghost".into(),
            details: serde_json::json!({}),
        },
    )
    .await
    .expect("record");
    tx.rollback().await.expect("rollback");
    app.add_user("bob", Role::Viewer).await;
    assert_eq!(app.audit_actions().await.len(), 1);
    assert_eq!(
        audit::verify(&app.db.pool).await.expect("verify"),
        Verdict::Intact { rows: 1 }
    );
}
