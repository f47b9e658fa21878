use crate::helpers::{spawn_app, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::Role;

async fn user_count(app: &crate::helpers::TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.db.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn roles_below_admin_may_not_list_or_create_users() {
    let app = spawn_app().await;
    for (name, role) in [
        ("vera", Role::Viewer),
        ("olga", Role::Operator),
        ("abe", Role::Approver),
    ] {
        let client = app.signed_in(name, role).await;
        let (status, body) = client.get("/api/v1/users").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}");
        assert_eq!(body["error"]["code"], "forbidden");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("admin")));
        let (status, _) = client
            .send(
                Method::POST,
                "/api/v1/users",
                Some(json!({ "username": "zed", "role": "viewer", "password": PASSWORD })),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}");
    }
    assert_eq!(user_count(&app).await, 3);
}

#[tokio::test]
async fn an_admin_creates_a_user_who_can_then_sign_in() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let (status, body) = admin
        .send(
            Method::POST,
            "/api/v1/users",
            Some(
                json!({ "username": "dave", "role": "operator", "password": "dave-password-123" }),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["username"], "dave");
    let (status, list) = admin.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["dave", "root"]);

    let (status, _) = app.client().sign_in("dave", "dave-password-123").await;
    assert_eq!(status, StatusCode::OK);
    let created = app
        .audit_actions()
        .await
        .into_iter()
        .find(|(action, target, _)| action == "user.create" && target == "dave");
    assert!(created.is_some_and(|(_, _, details)| details["role"] == "operator"));
}

#[tokio::test]
async fn bad_new_users_are_refused_naming_the_field_and_nothing_is_created() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", Role::Admin).await;
    let cases = [
        (
            json!({ "username": "Bad Name", "role": "viewer", "password": PASSWORD }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
        ),
        (
            json!({ "username": "shorty", "role": "viewer", "password": "short" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
        ),
        (
            json!({ "username": "root", "role": "viewer", "password": PASSWORD }),
            StatusCode::CONFLICT,
            "username",
        ),
    ];
    for (body, expected_status, field) in cases {
        let (status, answer) = admin
            .send(Method::POST, "/api/v1/users", Some(body.clone()))
            .await;
        assert_eq!(status, expected_status, "{body}");
        assert_eq!(answer["error"]["fields"][0]["field"], field, "{body}");
    }
    let (status, answer) = admin
        .send(
            Method::POST,
            "/api/v1/users",
            Some(json!({ "username": "zed", "role": "superuser", "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("role")));
    assert_eq!(user_count(&app).await, 1);
}
