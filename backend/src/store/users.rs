//! Local accounts: created, re-roled, disabled and given new passwords, each change with its
//! audit event in the same transaction. Disabling an account or setting its password ends its
//! sessions in that transaction too, so no request is served on the old terms afterwards.

use super::{ResultExt, StoreError};
use crate::audit::{self, AuditEvent};
use shared::api::{UpdateUserRequest, UserInfo};
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
    disabled: bool,
    must_change_password: bool,
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
                disabled: row.disabled,
                must_change_password: row.must_change_password,
            },
            password_hash: row.password_hash,
        })
    }
}

/// Whether a new password was chosen by the account's owner or handed to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordOrigin {
    /// Typed by the owner (their own change, or the CLI run by them).
    Owner,
    /// Set by someone else: a one-time password the owner must change at first sign-in.
    OneTime,
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
        r#"select id, username, role, password_hash, disabled_at is not null as "disabled!",
                  must_change_password
             from users where username = $1"#,
        username.as_str(),
    )
    .fetch_optional(conn)
    .await?
    .map(UserRecord::try_from)
    .transpose()
}

/// The account, locked until the end of the caller's transaction, so concurrent changes to
/// one account queue instead of deciding on the same old row.
async fn lock_by_username(
    tx: &mut PgConnection,
    username: &Username,
) -> Result<UserRecord, StoreError> {
    sqlx::query_as!(
        UserRow,
        r#"select id, username, role, password_hash, disabled_at is not null as "disabled!",
                  must_change_password
             from users where username = $1 for update"#,
        username.as_str(),
    )
    .fetch_optional(tx)
    .await?
    .map(UserRecord::try_from)
    .transpose()?
    .ok_or(StoreError::NotFound)
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<UserInfo>> {
    sqlx::query_as!(
        UserRow,
        r#"select id, username, role, password_hash, disabled_at is not null as "disabled!",
                  must_change_password
             from users order by username"#,
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
    origin: PasswordOrigin,
) -> Result<UserInfo, StoreError> {
    let mut tx = pool.begin().await?;
    let id = Uuid::new_v4();
    let one_time = origin == PasswordOrigin::OneTime;
    sqlx::query!(
        "insert into users (id, username, role, password_hash, must_change_password)
         values ($1, $2, $3, $4, $5)",
        id,
        username.as_str(),
        role.as_str(),
        password_hash,
        one_time,
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
            details: serde_json::json!({ "user_id": id, "role": role, "one_time_password": one_time }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(UserInfo {
        id,
        username: username.clone(),
        role,
        disabled: false,
        must_change_password: one_time,
    })
}

/// Applies an admin's change of role and / or enabled state, recording one audit event per
/// change that took effect (none when the account already was as asked). Disabling deletes the
/// account's sessions in the same transaction: its open consoles and event streams end at once.
pub async fn update(
    pool: &PgPool,
    actor: &str,
    username: &Username,
    update: &UpdateUserRequest,
) -> Result<UserInfo, StoreError> {
    let mut tx = pool.begin().await?;
    let mut user = lock_by_username(&mut tx, username).await?.info;
    if let Some(role) = update.role.filter(|role| *role != user.role) {
        sqlx::query!(
            "update users set role = $2, updated_at = now() where id = $1",
            user.id,
            role.as_str(),
        )
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            actor,
            AuditAction::UserRoleChange,
            username,
            serde_json::json!({ "before": { "role": user.role }, "after": { "role": role } }),
        )
        .await?;
        user.role = role;
    }
    if let Some(disabled) = update.disabled.filter(|d| *d != user.disabled) {
        sqlx::query!(
            "update users set disabled_at = case when $2 then now() end, updated_at = now()
              where id = $1",
            user.id,
            disabled,
        )
        .execute(&mut *tx)
        .await?;
        let (action, details) = if disabled {
            let ended = end_sessions(&mut tx, user.id, None).await?;
            (
                AuditAction::UserDisable,
                serde_json::json!({ "sessions_ended": ended }),
            )
        } else {
            (AuditAction::UserEnable, serde_json::json!({}))
        };
        record(&mut tx, actor, action, username, details).await?;
        user.disabled = disabled;
    }
    tx.commit().await?;
    Ok(user)
}

/// An admin sets a one-time password: the account's sessions end and its owner must choose a
/// new password at the next sign-in.
pub async fn reset_password(
    pool: &PgPool,
    actor: &str,
    username: &Username,
    password_hash: &str,
) -> Result<UserInfo, StoreError> {
    let mut tx = pool.begin().await?;
    let mut user = lock_by_username(&mut tx, username).await?.info;
    set_password(&mut tx, user.id, password_hash, PasswordOrigin::OneTime).await?;
    let ended = end_sessions(&mut tx, user.id, None).await?;
    record(
        &mut tx,
        actor,
        AuditAction::UserPasswordReset,
        username,
        serde_json::json!({ "sessions_ended": ended }),
    )
    .await?;
    tx.commit().await?;
    user.must_change_password = true;
    Ok(user)
}

/// The owner changed their own password: their other sessions end (a session opened with the
/// old password, perhaps by someone who learnt it, must not outlive it); `keep` goes on.
pub async fn change_own_password(
    pool: &PgPool,
    user: &UserInfo,
    keep: &[u8],
    password_hash: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    set_password(&mut tx, user.id, password_hash, PasswordOrigin::Owner).await?;
    let ended = end_sessions(&mut tx, user.id, Some(keep)).await?;
    record(
        &mut tx,
        user.username.as_str(),
        AuditAction::UserPasswordChange,
        &user.username,
        serde_json::json!({
            "was_one_time": user.must_change_password,
            "other_sessions_ended": ended,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn set_password(
    tx: &mut PgConnection,
    user_id: Uuid,
    password_hash: &str,
    origin: PasswordOrigin,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update users set password_hash = $2, must_change_password = $3, updated_at = now()
          where id = $1",
        user_id,
        password_hash,
        origin == PasswordOrigin::OneTime,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Deletes the user's sessions, except `keep`; returns how many ended.
async fn end_sessions(
    tx: &mut PgConnection,
    user_id: Uuid,
    keep: Option<&[u8]>,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "delete from sessions where user_id = $1 and id_hash is distinct from $2",
        user_id,
        keep,
    )
    .execute(tx)
    .await?;
    Ok(done.rows_affected())
}

async fn record(
    tx: &mut PgConnection,
    actor: &str,
    action: AuditAction,
    target: &Username,
    details: serde_json::Value,
) -> sqlx::Result<()> {
    audit::record(
        tx,
        &AuditEvent {
            actor: actor.to_owned(),
            action,
            target: target.to_string(),
            details,
        },
    )
    .await?;
    Ok(())
}
