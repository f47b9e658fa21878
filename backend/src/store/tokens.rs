//! API tokens: created and revoked with their audit events in the same transaction, listed
//! without their secrets, and looked up by the hash of a presented secret.

use super::{ResultExt, StoreError};
use crate::audit::attribution::{self, token_actor};
use crate::audit::{self, AuditEvent};
use chrono::{DateTime, Utc};
use serde_json::json;
use shared::api::tokens::TokenInfo;
use shared::audit::AuditAction;
use shared::{Role, Username};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A token about to be stored: its name, role, lifetime and the hash of its secret.
#[derive(Debug)]
pub struct NewToken<'a> {
    pub name: &'a str,
    pub role: Role,
    pub days: u32,
    pub secret_hash: &'a [u8],
}

struct TokenRow {
    id: Uuid,
    name: String,
    role: String,
    created_by: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    revoked_by: Option<String>,
}

fn decode(err: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(err))
}

impl TryFrom<TokenRow> for TokenInfo {
    type Error = sqlx::Error;

    fn try_from(row: TokenRow) -> Result<Self, Self::Error> {
        Ok(TokenInfo {
            id: row.id,
            name: row.name,
            role: row.role.parse::<Role>().map_err(decode)?,
            created_by: Username::parse(&row.created_by).map_err(decode)?,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
            revoked_by: row.revoked_by,
        })
    }
}

/// Stores `token` for `creator` and records `token.create` by `actor` (never the secret).
pub async fn create(
    pool: &PgPool,
    actor: &str,
    creator: (Uuid, &Username),
    token: &NewToken<'_>,
) -> Result<TokenInfo, StoreError> {
    let (creator_id, creator_name) = creator;
    let mut tx = pool.begin().await?;
    let row = sqlx::query_as!(
        TokenRow,
        r#"insert into api_tokens (id, name, role, created_by, expires_at, secret_hash)
           values ($1, $2, $3, $4, now() + make_interval(days => $5), $6)
           returning id, name, role, $7::text as "created_by!", created_at, expires_at,
                     last_used_at, revoked_at, revoked_by"#,
        Uuid::new_v4(),
        token.name,
        token.role.as_str(),
        creator_id,
        i32::try_from(token.days).unwrap_or(i32::MAX),
        token.secret_hash,
        creator_name.as_str(),
    )
    .fetch_one(&mut *tx)
    .await
    .on_constraint("api_tokens_live_name", |_| {
        StoreError::conflict(
            "name",
            format!("{creator_name} already has a token named {}", token.name),
        )
    })?;
    let info = TokenInfo::try_from(row)?;
    audit::record(
        &mut tx,
        &AuditEvent {
            actor: actor.to_owned(),
            action: AuditAction::TokenCreate,
            target: token_actor(creator_name.as_str(), &info.name),
            details: json!({
                "token_id": info.id,
                "role": info.role,
                "expires_at": info.expires_at,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(info)
}

/// Tokens newest first: `creator`'s, or everyone's.
pub async fn list(pool: &PgPool, creator: Option<Uuid>) -> sqlx::Result<Vec<TokenInfo>> {
    sqlx::query_as!(
        TokenRow,
        r#"select t.id, t.name, t.role, u.username as created_by, t.created_at, t.expires_at,
                  t.last_used_at, t.revoked_at, t.revoked_by
             from api_tokens t join users u on u.id = t.created_by
            where $1::uuid is null or t.created_by = $1
            order by t.created_at desc, t.id"#,
        creator,
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(TokenInfo::try_from)
    .collect()
}

/// Revokes token `id` (only `owner`'s, when given) and records `token.revoke` by `actor`.
/// Revoking a revoked token changes nothing and records nothing.
pub async fn revoke(
    pool: &PgPool,
    actor: &str,
    id: Uuid,
    owner: Option<Uuid>,
) -> Result<TokenInfo, StoreError> {
    let mut tx = pool.begin().await?;
    let revoked = sqlx::query_scalar!(
        r#"select revoked_at is not null as "revoked!" from api_tokens
            where id = $1 and ($2::uuid is null or created_by = $2)
            for update"#,
        id,
        owner,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    if !revoked {
        sqlx::query!(
            "update api_tokens set revoked_at = now(), revoked_by = $2 where id = $1",
            id,
            attribution::actor(actor),
        )
        .execute(&mut *tx)
        .await?;
    }
    let info = TokenInfo::try_from(
        sqlx::query_as!(
            TokenRow,
            r#"select t.id, t.name, t.role, u.username as created_by, t.created_at,
                      t.expires_at, t.last_used_at, t.revoked_at, t.revoked_by
                 from api_tokens t join users u on u.id = t.created_by
                where t.id = $1"#,
            id,
        )
        .fetch_one(&mut *tx)
        .await?,
    )?;
    if !revoked {
        audit::record(
            &mut tx,
            &AuditEvent {
                actor: actor.to_owned(),
                action: AuditAction::TokenRevoke,
                target: token_actor(info.created_by.as_str(), &info.name),
                details: json!({ "token_id": info.id }),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(info)
}

/// A presented token as found by the hash of its secret, with its creator as they are now.
#[derive(Debug)]
pub struct FoundToken {
    pub id: Uuid,
    pub name: String,
    pub role: String,
    pub expires_at: DateTime<Utc>,
    pub expired: bool,
    pub revoked: bool,
    pub creator_id: Uuid,
    pub creator: String,
    pub creator_role: String,
    pub creator_disabled: bool,
}

/// The token whose secret hashes to `secret_hash`, if any. A usable token's `last_used_at` is
/// brought up to date when it is more than a minute old: at most one write a minute per token.
pub async fn find_for_use(
    conn: &mut PgConnection,
    secret_hash: &[u8],
) -> sqlx::Result<Option<FoundToken>> {
    sqlx::query_as!(
        FoundToken,
        r#"with found as (
             select t.id, t.name, t.role, t.expires_at, t.expires_at <= now() as expired,
                    t.revoked_at is not null as revoked, u.id as creator_id,
                    u.username as creator, u.role as creator_role,
                    u.disabled_at is not null as creator_disabled
               from api_tokens t join users u on u.id = t.created_by
              where t.secret_hash = $1
         ), touched as (
             update api_tokens set last_used_at = now()
              where secret_hash = $1
                and (last_used_at is null or last_used_at < now() - interval '1 minute')
                and exists (select 1 from found
                             where not expired and not revoked and not creator_disabled)
         )
         select id as "id!", name as "name!", role as "role!", expires_at as "expires_at!",
                expired as "expired!", revoked as "revoked!", creator_id as "creator_id!",
                creator as "creator!", creator_role as "creator_role!",
                creator_disabled as "creator_disabled!"
           from found"#,
        secret_hash,
    )
    .fetch_optional(conn)
    .await
}

/// Whether token `id` still authenticates (not expired or revoked, its creator not disabled):
/// for long-lived requests such as event streams, which must end with their token.
pub async fn is_usable(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    Ok(!usable_among(pool, &[id]).await?.is_empty())
}

/// Which of these tokens still authenticate: [`is_usable`] for many at once, so that one query
/// answers for every open event stream of a process.
pub async fn usable_among(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "select t.id from api_tokens t join users u on u.id = t.created_by
          where t.id = any($1) and t.revoked_at is null and t.expires_at > now()
            and u.disabled_at is null",
        ids,
    )
    .fetch_all(pool)
    .await
}
