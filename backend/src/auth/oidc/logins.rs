//! Sign-ins under way at the provider: saved when the browser is sent there, taken (once) when
//! it comes back. Only hashes of the `state` and of the browser's binding cookie are stored.

use sha2::{Digest, Sha256};
use sqlx::postgres::types::PgInterval;
use sqlx::PgPool;

/// What the callback needs of the sign-in it finishes.
#[derive(Debug)]
pub struct PendingLogin {
    pub binding_hash: Vec<u8>,
    pub nonce: String,
    pub pkce_verifier: String,
}

pub fn hash(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// Saves a sign-in sent to the provider (and drops those that expired unused).
pub async fn save(
    pool: &PgPool,
    state: &str,
    binding: &str,
    nonce: &str,
    pkce_verifier: &str,
) -> sqlx::Result<()> {
    let ttl = PgInterval::try_from(
        chrono::Duration::from_std(super::LOGIN_TTL).unwrap_or(chrono::Duration::minutes(10)),
    )
    .map_err(sqlx::Error::Encode)?;
    let mut tx = pool.begin().await?;
    sqlx::query!("delete from oidc_logins where expires_at <= now()")
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "insert into oidc_logins (state_hash, binding_hash, nonce, pkce_verifier, expires_at)
         values ($1, $2, $3, $4, now() + $5)",
        hash(state),
        hash(binding),
        nonce,
        pkce_verifier,
        ttl,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Takes the live sign-in with this `state`: at most once, whoever asks (an expired one is
/// taken too, and refused).
pub async fn take(pool: &PgPool, state: &str) -> sqlx::Result<Option<PendingLogin>> {
    let row = sqlx::query!(
        r#"delete from oidc_logins where state_hash = $1
           returning binding_hash, nonce, pkce_verifier, expires_at > now() as "live!""#,
        hash(state),
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.filter(|row| row.live).map(|row| PendingLogin {
        binding_hash: row.binding_hash,
        nonce: row.nonce,
        pkce_verifier: row.pkce_verifier,
    }))
}
