//! Local accounts.

use super::{ResultExt, StoreError};
use crate::audit::{self, AuditEvent};
use shared::api::UserInfo;
use shared::audit::AuditAction;
use shared::{Role, Username};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A user as stored, with the password hash that never leaves the server.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub info: UserInfo,
    pub password_hash: String,
}

struct UserRow {
    id: Uuid,
    username: String,
    role: String,
    password_hash: String,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = sqlx::Error;

    fn try_from(row: UserRow) -> Result<Self, Self::Error> {
        let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
        Ok(UserRecord {
            info: UserInfo {
                id: row.id,
                username: Username::parse(&row.username).map_err(|e| decode(e.into()))?,
                role: row.role.parse::<Role>().map_err(|e| decode(e.into()))?,
            },
            password_hash: row.password_hash,
        })
    }
}

pub async fn count(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select count(*) as "count!" from users"#)
        .fetch_one(pool)
        .await
}

pub async fn find_by_username(
    conn: &mut PgConnection,
    username: &Username,
) -> sqlx::Result<Option<UserRecord>> {
    sqlx::query_as!(
        UserRow,
        "select id, username, role, password_hash from users where username = $1",
        username.as_str(),
    )
    .fetch_optional(conn)
    .await?
    .map(UserRecord::try_from)
    .transpose()
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<UserInfo>> {
    sqlx::query_as!(
        UserRow,
        "select id, username, role, password_hash from users order by username",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| UserRecord::try_from(row).map(|r| r.info))
    .collect()
}

/// Creates a user and records `user.create` by `actor` in one transaction.
pub async fn create(
    pool: &PgPool,
    actor: &str,
    username: &Username,
    role: Role,
    password_hash: &str,
) -> Result<UserInfo, StoreError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::new_v4();
    sqlx::query!(
        "insert into users (id, username, role, password_hash) values ($1, $2, $3, $4)",
        id,
        username.as_str(),
        role.as_str(),
        password_hash,
    )
    .execute(&mut *tx)
    .await
    .on_constraint("users_username_key", |_| {
        StoreError::conflict(
            "username",
            format!("a user named {username} already exists"),
        )
    })?;
    audit::record(
        &mut tx,
        &AuditEvent {
            actor: actor.to_owned(),
            action: AuditAction::UserCreate,
            target: username.to_string(),
            details: serde_json::json!({ "user_id": id, "role": role }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(UserInfo {
        id,
        username: username.clone(),
        role,
    })
}
