//! API tokens as credentials: making a secret, and turning an `Authorization: Bearer` header
//! into the principal a request acts as.
//!
//! A secret is `glt_` and 32 random bytes in base64url. Only its SHA-256 is stored: the secret
//! is random enough that a fast hash is safe (unlike a password), and a lookup costs one index
//! probe. A token acts as its creator, with the lower of its own role and the creator's role
//! *now*; it stops working when it expires, is revoked, or its creator is disabled.

use super::session::CurrentSession;
use crate::audit::attribution::TokenActor;
use crate::secret::Secret;
use crate::store::tokens::{self as store, FoundToken};
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shared::api::tokens::TOKEN_PREFIX;
use shared::api::UserInfo;
use shared::{Role, Username};
use sqlx::PgPool;

/// Why a presented token does not authenticate. The message is the client's: it says which
/// rule, never anything about the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefused {
    #[error("this needs an API token: send `Authorization: Bearer glt_…`")]
    Missing,
    #[error("the Authorization header must be `Bearer glt_…` with an API token")]
    Malformed,
    #[error("this API token is not known")]
    Unknown,
    #[error("this API token has expired")]
    Expired,
    #[error("this API token has been revoked")]
    Revoked,
    #[error("the account that created this API token is disabled")]
    CreatorDisabled,
}

/// A new secret and the hash that is stored of it.
pub fn new_secret() -> (Secret, Vec<u8>) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let secret = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash(&secret);
    (Secret::new(secret), hash)
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The token in an `Authorization` header value: `Bearer glt_…` (the scheme in any case).
pub fn bearer(value: &str) -> Result<Secret, TokenRefused> {
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(TokenRefused::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || !token.starts_with(TOKEN_PREFIX) {
        return Err(TokenRefused::Malformed);
    }
    Ok(Secret::new(token))
}

/// The principal `secret` authenticates: its creator, with the token's effective role, and
/// the token itself for the audit log.
pub async fn authenticate(
    pool: &PgPool,
    secret: &Secret,
) -> Result<Result<(CurrentSession, TokenActor), TokenRefused>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let found = store::find_for_use(&mut conn, &hash(secret.expose())).await?;
    Ok(found.ok_or(TokenRefused::Unknown).and_then(principal))
}

fn principal(found: FoundToken) -> Result<(CurrentSession, TokenActor), TokenRefused> {
    if found.revoked {
        return Err(TokenRefused::Revoked);
    }
    if found.expired {
        return Err(TokenRefused::Expired);
    }
    if found.creator_disabled {
        return Err(TokenRefused::CreatorDisabled);
    }
    // A row that no longer parses (a role renamed by hand) authenticates nobody.
    let (Ok(username), Ok(role), Ok(creator_role)) = (
        Username::parse(&found.creator),
        found.role.parse::<Role>(),
        found.creator_role.parse::<Role>(),
    ) else {
        return Err(TokenRefused::Unknown);
    };
    let actor = TokenActor {
        id: found.id,
        name: found.name,
        creator: username.to_string(),
    };
    let session = CurrentSession {
        id_hash: Vec::new(),
        user: UserInfo {
            id: found.creator_id,
            username,
            role: role.min(creator_role),
            disabled: false,
            must_change_password: false,
        },
        csrf_token: String::new(),
        expires_at: found.expires_at,
        token: Some(actor.clone()),
    };
    Ok((session, actor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_stored_only_as_their_hash() {
        let (a, hash_a) = new_secret();
        let (b, _) = new_secret();
        assert!(a.expose().starts_with("glt_"));
        assert_eq!(a.expose().len(), 4 + 43);
        assert_ne!(a, b);
        assert_eq!(hash_a, hash(a.expose()));
        assert_eq!(hash_a.len(), 32);
    }

    #[test]
    fn only_a_bearer_glt_token_is_taken() {
        assert_eq!(
            bearer("Bearer glt_abc").map(|s| s.expose().to_owned()),
            Ok("glt_abc".into())
        );
        assert!(bearer("bearer glt_abc").is_ok());
        for bad in ["Bearer", "Basic glt_abc", "Bearer abc", "glt_abc", ""] {
            assert_eq!(bearer(bad), Err(TokenRefused::Malformed), "{bad:?}");
        }
    }
}
