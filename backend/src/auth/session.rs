//! Server-side sessions in Postgres.
//!
//! The browser holds a random 256-bit id in an HttpOnly cookie; the table holds only its SHA-256,
//! so reading the table does not let anyone sign in. A session ends at its absolute expiry or
//! after `idle` without requests, whichever comes first.

use crate::audit::attribution::TokenActor;
use crate::audit::{self, AuditEvent};
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shared::api::{SessionInfo, UserInfo};
use shared::audit::AuditAction;
use shared::{Role, Username};
use sqlx::postgres::types::PgInterval;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "greenlight_session";

#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, however busy.
    pub absolute: Duration,
    /// Mark the cookie `Secure` (the console is served over https).
    pub secure_cookie: bool,
}

/// The session a request arrived with, loaded by the session middleware.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub id_hash: Vec<u8>,
    pub user: UserInfo,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    /// The API token the request authenticated with, instead of a session cookie: the request
    /// acts as its creator (`user`, with the token's role) and has no session row or CSRF token.
    pub token: Option<TokenActor>,
}

impl CurrentSession {
    pub fn info(&self) -> SessionInfo {
        SessionInfo {
            user: self.user.clone(),
            csrf_token: self.csrf_token.clone(),
            expires_at: self.expires_at,
        }
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn hash_id(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// `duration` as a Postgres `interval`, converted exactly as sqlx encodes a `chrono::Duration`
/// (the query macros want the `interval` type itself).
fn interval(duration: chrono::Duration) -> sqlx::Result<PgInterval> {
    PgInterval::try_from(duration).map_err(sqlx::Error::Encode)
}

/// Opens a session for `user` inside the caller's transaction (which also records the
/// sign-in). Returns the cookie value, shown to nobody but the browser.
pub async fn create(
    tx: &mut PgConnection,
    user: &UserInfo,
    settings: &SessionSettings,
) -> sqlx::Result<(Secret, CurrentSession)> {
    let id = random_token();
    let id_hash = hash_id(&id);
    let csrf_token = random_token();
    let absolute = super::as_span(settings.absolute);
    let expires_at = sqlx::query_scalar!(
        "insert into sessions (id_hash, user_id, csrf_token, expires_at)
         values ($1, $2, $3, now() + $4)
         returning expires_at",
        id_hash,
        user.id,
        csrf_token,
        interval(absolute)?,
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok((
        Secret::new(id),
        CurrentSession {
            id_hash,
            user: user.clone(),
            csrf_token,
            expires_at,
            token: None,
        },
    ))
}

struct SessionRow {
    user_id: Uuid,
    username: String,
    role: String,
    must_change_password: bool,
    csrf_token: String,
    expires_at: DateTime<Utc>,
}

/// The live session with this cookie value, refreshing its idle timer; `None` when there is
/// none, it has expired, or its account is disabled (disabling deletes the sessions too; the
/// check here holds even for a session a concurrent sign-in created meanwhile).
pub async fn load(
    pool: &PgPool,
    cookie_value: &Secret,
    settings: &SessionSettings,
) -> sqlx::Result<Option<CurrentSession>> {
    let id_hash = hash_id(cookie_value.expose());
    let idle = super::as_span(settings.idle);
    // Every API request passes here; writing `last_seen_at` each time would turn every read
    // into a write. It is touched only once it is a tenth of the idle limit old (at most a
    // minute), which moves the idle expiry by no more than that.
    let touch_after = (idle / 10).min(chrono::Duration::seconds(60));
    let row = sqlx::query_as!(
        SessionRow,
        r#"with found as (
             select u.id as user_id, u.username, u.role, u.must_change_password,
                    s.csrf_token, s.expires_at
               from sessions s join users u on u.id = s.user_id
              where s.id_hash = $1 and s.expires_at > now() and u.disabled_at is null
                and s.last_seen_at > now() - $2::interval
         ), touched as (
             update sessions set last_seen_at = now()
              where id_hash = $1 and last_seen_at < now() - $3::interval
                and exists (select 1 from found)
         )
         select user_id as "user_id!", username as "username!", role as "role!",
                must_change_password as "must_change_password!",
                csrf_token as "csrf_token!", expires_at as "expires_at!"
           from found"#,
        id_hash,
        interval(idle)?,
        interval(touch_after)?,
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    // A row that no longer parses (a role renamed by hand) is treated as signed out.
    let (Ok(username), Ok(role)) = (Username::parse(&row.username), row.role.parse::<Role>())
    else {
        return Ok(None);
    };
    Ok(Some(CurrentSession {
        id_hash,
        user: UserInfo {
            id: row.user_id,
            username,
            role,
            disabled: false,
            must_change_password: row.must_change_password,
        },
        csrf_token: row.csrf_token,
        expires_at: row.expires_at,
        token: None,
    }))
}

/// Whether the session with this id is still live (not signed out, not expired), without
/// touching it: for long-lived requests such as event streams, which must end with their session.
pub async fn is_live(
    pool: &PgPool,
    id_hash: &[u8],
    settings: &SessionSettings,
) -> sqlx::Result<bool> {
    Ok(!live_among(pool, &[id_hash.to_vec()], settings)
        .await?
        .is_empty())
}

/// Which of these sessions (by the hash of their id) are still live: [`is_live`] for many at
/// once, so that one query answers for every open event stream of a process.
pub async fn live_among(
    pool: &PgPool,
    id_hashes: &[Vec<u8>],
    settings: &SessionSettings,
) -> sqlx::Result<Vec<Vec<u8>>> {
    let idle = super::as_span(settings.idle);
    sqlx::query_scalar!(
        "select id_hash from sessions
          where id_hash = any($1) and expires_at > now() and last_seen_at > now() - $2::interval",
        id_hashes,
        interval(idle)?,
    )
    .fetch_all(pool)
    .await
}

/// Ends `session` and records the sign-out.
pub async fn end(pool: &PgPool, session: &CurrentSession) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query!("delete from sessions where id_hash = $1", session.id_hash)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        &AuditEvent {
            actor: session.user.username.to_string(),
            action: AuditAction::SignOut,
            target: session.user.username.to_string(),
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await
}

/// Removes sessions past either expiry, so the table does not grow without bound.
pub async fn purge_expired(
    conn: &mut PgConnection,
    settings: &SessionSettings,
) -> sqlx::Result<u64> {
    let idle = super::as_span(settings.idle);
    let done = sqlx::query!(
        "delete from sessions where expires_at <= now() or last_seen_at <= now() - $1::interval",
        interval(idle)?,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
