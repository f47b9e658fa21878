//! Signing in with a local account, rate limited per account and per client address.
//!
//! Failures are counted from the audit log itself, so the limit holds across restarts and
//! across several backend replicas sharing one database.

use super::password;
use super::session::{self, CurrentSession, SessionSettings};
use super::turns::Turns;
use crate::audit::{self, AuditEvent};
use crate::secret::Secret;
use crate::store::users;
use chrono::Utc;
use shared::audit::AuditAction;
use shared::Username;
use sqlx::{PgConnection, PgPool};
use std::net::IpAddr;
use std::time::Duration;

/// How many failed sign-ins are allowed within `window` before further attempts get 429.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub window: Duration,
    pub per_account: i64,
    pub per_address: i64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            per_account: 5,
            per_address: 50,
        }
    }
}

/// How a sign-in attempt ended.
#[derive(Debug)]
pub enum SignInOutcome {
    SignedIn {
        cookie: Secret,
        session: CurrentSession,
    },
    /// Wrong user name or password (deliberately not told apart).
    Refused,
    /// Too many recent failures; try again after this long.
    RateLimited { retry_after: Duration },
}

/// Recorded as the target when the typed name is not a valid user name, so a password typed
/// into the wrong field never lands in the audit log.
const INVALID_NAME_TARGET: &str = "-";

/// At most this many password checks run at once in this process; the rest wait their turn.
/// Argon2 is made to be expensive: a flood of sign-ins must not take every core and all memory.
pub static VERIFYING: Turns = Turns::new(MAX_VERIFYING);
/// See [`VERIFYING`].
pub const MAX_VERIFYING: usize = 4;

pub async fn sign_in(
    pool: &PgPool,
    raw_username: &str,
    password: Secret,
    client: IpAddr,
    settings: &SessionSettings,
    limits: &RateLimits,
) -> anyhow::Result<SignInOutcome> {
    let username = Username::parse(raw_username).ok();
    let target = username
        .as_ref()
        .map_or(INVALID_NAME_TARGET.to_owned(), Username::to_string);
    let client_addr = client.to_string();

    let _turn = VERIFYING.take().await?;
    // The attempt is decided, checked and recorded under locks on its account and its address
    // (held to the end of the transaction, across replicas): concurrent attempts queue, and each
    // one sees the failures recorded before it. Checking the limit first and recording later
    // let 20 parallel wrong passwords through a limit of 5.
    let mut tx = pool.begin().await?;
    if let Some(name) = &username {
        lock_attempts(&mut tx, &format!("sign-in account {name}")).await?;
    }
    lock_attempts(&mut tx, &format!("sign-in address {client_addr}")).await?;

    if let Some(retry_after) =
        rate_limited(&mut tx, username.as_ref(), &client_addr, limits).await?
    {
        // One row per account, address and window, however many attempts the flood makes.
        if !rate_limit_recorded(&mut tx, &target, &client_addr, limits).await? {
            record(
                &mut tx,
                AuditAction::SignInRateLimited,
                &target,
                &client_addr,
                Some("further attempts in this window are refused without a row each"),
            )
            .await?;
        }
        tx.commit().await?;
        return Ok(SignInOutcome::RateLimited { retry_after });
    }

    let record_found = match &username {
        Some(name) => users::find_by_username(&mut tx, name).await?,
        None => None,
    };
    let matches = password::verify_blocking(
        password,
        record_found.as_ref().map(|r| r.password_hash.clone()),
    )
    .await?;

    // A disabled account is refused like a wrong password (the answer does not tell an
    // outsider the password was right); the audit log says why.
    let Some(user) = record_found
        .as_ref()
        .filter(|r| matches && !r.info.disabled)
        .cloned()
    else {
        let reason = match (&username, matches, &record_found) {
            (None, _, _) => "invalid_username",
            (_, true, Some(_)) => "account_disabled",
            _ => "wrong_credentials",
        };
        record(
            &mut tx,
            AuditAction::SignInFailed,
            &target,
            &client_addr,
            Some(reason),
        )
        .await?;
        tx.commit().await?;
        return Ok(SignInOutcome::Refused);
    };

    session::purge_expired(&mut tx, settings).await?;
    let (cookie, session) = session::create(&mut tx, &user.info, settings).await?;
    audit::record(
        &mut tx,
        &AuditEvent {
            actor: target.clone(),
            action: AuditAction::SignIn,
            target,
            details: serde_json::json!({ "client_addr": client_addr }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(SignInOutcome::SignedIn { cookie, session })
}

/// How typing the current password again (to change it) ended.
#[derive(Debug)]
pub enum Reentry {
    Matches,
    Wrong,
    RateLimited { retry_after: Duration },
}

/// Checks the signed-in `username`'s current password under the same locks and limits as a
/// sign-in: a wrong one counts as a failed sign-in of that account, so a left-open console
/// cannot be used to guess the password faster than the sign-in page allows.
pub async fn reenter_password(
    pool: &PgPool,
    username: &Username,
    password: Secret,
    client: IpAddr,
    limits: &RateLimits,
) -> anyhow::Result<Reentry> {
    let client_addr = client.to_string();
    let _turn = VERIFYING.take().await?;
    let mut tx = pool.begin().await?;
    lock_attempts(&mut tx, &format!("sign-in account {username}")).await?;
    lock_attempts(&mut tx, &format!("sign-in address {client_addr}")).await?;
    if let Some(retry_after) = rate_limited(&mut tx, Some(username), &client_addr, limits).await? {
        tx.commit().await?;
        return Ok(Reentry::RateLimited { retry_after });
    }
    let hash = users::find_by_username(&mut tx, username)
        .await?
        .map(|record| record.password_hash);
    if password::verify_blocking(password, hash).await? {
        return Ok(Reentry::Matches);
    }
    record(
        &mut tx,
        AuditAction::SignInFailed,
        username.as_str(),
        &client_addr,
        Some("wrong_current_password"),
    )
    .await?;
    tx.commit().await?;
    Ok(Reentry::Wrong)
}

/// Takes a transaction-long lock on `key` (an account or an address).
async fn lock_attempts(tx: &mut PgConnection, key: &str) -> sqlx::Result<()> {
    sqlx::query!("select pg_advisory_xact_lock(hashtextextended($1, 0))", key)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Records an attempt that changed nothing else.
async fn record(
    tx: &mut PgConnection,
    action: AuditAction,
    target: &str,
    client_addr: &str,
    reason: Option<&str>,
) -> sqlx::Result<()> {
    let mut details = serde_json::json!({ "client_addr": client_addr });
    if let Some(reason) = reason {
        details["reason"] = reason.into();
    }
    audit::record(
        tx,
        &AuditEvent {
            actor: target.to_owned(),
            action,
            target: target.to_owned(),
            details,
        },
    )
    .await?;
    Ok(())
}

/// Whether this account and address already have their rate-limit row in the current window.
async fn rate_limit_recorded(
    tx: &mut PgConnection,
    target: &str,
    client_addr: &str,
    limits: &RateLimits,
) -> sqlx::Result<bool> {
    let window = super::as_span(limits.window);
    sqlx::query_scalar!(
        r#"select exists(
             select 1 from audit_events
              where action = $1 and target = $2 and details ->> 'client_addr' = $3 and at > $4
         ) as "found!""#,
        AuditAction::SignInRateLimited.as_str(),
        target,
        client_addr,
        Utc::now() - window,
    )
    .fetch_one(&mut *tx)
    .await
}

/// `Some(wait)` when the account or the address used up its failures in the window.
async fn rate_limited(
    tx: &mut PgConnection,
    username: Option<&Username>,
    client_addr: &str,
    limits: &RateLimits,
) -> sqlx::Result<Option<Duration>> {
    let window = super::as_span(limits.window);
    let since = Utc::now() - window;
    let failures = AuditAction::SignInFailed.as_str();
    let mut waits = Vec::new();
    if let Some(name) = username {
        let recent = sqlx::query!(
            r#"select count(*) as "count!", min(at) as oldest from audit_events
                where action = $1 and target = $2 and at > $3"#,
            failures,
            name.as_str(),
            since,
        )
        .fetch_one(&mut *tx)
        .await?;
        if recent.count >= limits.per_account {
            waits.push(recent.oldest);
        }
    }
    let recent = sqlx::query!(
        r#"select count(*) as "count!", min(at) as oldest from audit_events
            where action = $1 and details ->> 'client_addr' = $2 and at > $3"#,
        failures,
        client_addr,
        since,
    )
    .fetch_one(&mut *tx)
    .await?;
    if recent.count >= limits.per_address {
        waits.push(recent.oldest);
    }
    Ok(waits.into_iter().flatten().min().map(|oldest| {
        let until = oldest + window;
        (until - Utc::now())
            .to_std()
            .unwrap_or(Duration::from_secs(1))
    }))
}
