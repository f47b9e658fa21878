//! Accounts created at start-up, so a fresh install can be signed into at once.

use crate::auth::password;
use crate::secret::Secret;
use crate::store::users::{self, PasswordOrigin};
use crate::store::StoreError;
use shared::{Role, Username};
use sqlx::PgPool;

/// An account created just now, with the password to show its owner once.
#[derive(Debug)]
pub struct NewAccount {
    pub username: Username,
    pub role: Role,
    pub password: Secret,
}

/// Recorded as the actor of what Greenlight does by itself.
pub const SYSTEM_ACTOR: &str = "system";

/// With no users at all, creates `admin`. Its generated password is printed to standard
/// output, where logs keep it: it is a one-time password, changed at first sign-in.
pub async fn initial_admin(pool: &PgPool) -> anyhow::Result<Option<NewAccount>> {
    if users::count(pool).await? > 0 {
        return Ok(None);
    }
    create_if_missing(pool, "admin", Role::Admin, PasswordOrigin::OneTime).await
}

/// The demo accounts `alice` (operator) and `bob` (approver), where missing. They exist to try
/// the flow at once, so their passwords are not one-time.
pub async fn demo_accounts(pool: &PgPool) -> anyhow::Result<Vec<NewAccount>> {
    let mut created = Vec::new();
    for (name, role) in [("alice", Role::Operator), ("bob", Role::Approver)] {
        created.extend(create_if_missing(pool, name, role, PasswordOrigin::Owner).await?);
    }
    Ok(created)
}

async fn create_if_missing(
    pool: &PgPool,
    name: &str,
    role: Role,
    origin: PasswordOrigin,
) -> anyhow::Result<Option<NewAccount>> {
    let username = Username::parse(name)?;
    // Hashing is deliberately slow: skip it for accounts an earlier start already made.
    if users::find_by_username(&mut *pool.acquire().await?, &username)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let password = password::generate();
    let hash = password::hash_blocking(password.clone()).await?;
    match users::create(pool, SYSTEM_ACTOR, &username, role, &hash, origin).await {
        Ok(_) => Ok(Some(NewAccount {
            username,
            role,
            password,
        })),
        // Created by someone else meanwhile (or on an earlier run): nothing to show.
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// The one-time banner for new accounts, for standard output.
pub fn banner(accounts: &[NewAccount]) -> String {
    let mut text = String::from("New accounts (passwords are shown only this once):\n");
    for account in accounts {
        text.push_str(&format!(
            "  user {:<8} role {:<9} password {}\n",
            account.username,
            account.role,
            account.password.expose()
        ));
    }
    text
}
