//! Password hashing (argon2id) and generation.

use crate::secret::Secret;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use std::sync::LazyLock;

/// Length of generated passwords: 24 alphanumerics ≈ 142 bits.
const GENERATED_LEN: usize = 24;

/// Hashes `password` with argon2id and a fresh salt, in PHC string form. CPU-heavy: call it
/// through [`hash_blocking`] from async code.
pub fn hash(password: &Secret) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// True when `password` matches the stored PHC `hash`. With `None` it still spends the time of
/// a real check, so a wrong user name cannot be told from a wrong password by timing.
pub fn verify(password: &Secret, stored_hash: Option<&str>) -> bool {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| hash(&Secret::new("timing-equaliser")).unwrap_or_default());
    let stored = stored_hash.unwrap_or(DUMMY.as_str());
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok();
    matches && stored_hash.is_some()
}

/// [`hash`] on the blocking pool, so request threads keep serving.
pub async fn hash_blocking(password: Secret) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&password)).await?
}

/// [`verify`] on the blocking pool.
pub async fn verify_blocking(password: Secret, hash: Option<String>) -> anyhow::Result<bool> {
    Ok(tokio::task::spawn_blocking(move || verify(&password, hash.as_deref())).await?)
}

/// A random password for a new account, shown once to whoever creates it.
pub fn generate() -> Secret {
    Secret::new(Alphanumeric.sample_string(&mut OsRng, GENERATED_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let password = Secret::new("correct horse");
        let stored = hash(&password).expect("hash");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify(&password, Some(&stored)));
        assert!(!verify(&Secret::new("wrong horse"), Some(&stored)));
    }

    #[test]
    fn an_unknown_user_never_verifies() {
        assert!(!verify(&Secret::new("timing-equaliser"), None));
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate();
        let b = generate();
        assert_eq!(a.expose().len(), GENERATED_LEN);
        assert_ne!(a.expose(), b.expose());
    }
}
