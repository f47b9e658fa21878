//! The account behind a verified identity: found by issuer and `sub`, created at first sign-in,
//! given the role its groups map to, and signed in — each change audited in the sign-in's
//! transaction.

use super::{refuse, Refusal};
use crate::audit::{self, AuditEvent};
use crate::auth::session::{self, CurrentSession, SessionSettings};
use crate::secret::Secret;
use shared::api::{SsoError, UserInfo};
use shared::audit::AuditAction;
use shared::username::USERNAME_MAX_LEN;
use shared::{Role, Username};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The actor of the changes single sign-on makes (account creation, role changes).
pub const ACTOR: &str = "oidc";

/// Stored as the password hash of accounts that sign in only through the provider: not a PHC
/// string, so no password ever matches it.
const NO_PASSWORD: &str = "!oidc";

/// Who the provider says signed in.
#[derive(Debug)]
pub struct Identity<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    /// Name candidates in order of preference (preferred_username, email, …).
    pub names: Vec<&'a str>,
    pub role: Role,
}

struct Linked {
    id: Uuid,
    username: String,
    role: String,
    disabled: bool,
}

/// Signs `identity` in, creating or updating its account; the session cookie and session.
pub async fn sign_in(
    pool: &PgPool,
    identity: &Identity<'_>,
    settings: &SessionSettings,
    client_addr: &str,
) -> Result<(Secret, CurrentSession), Refusal> {
    let mut tx = pool.begin().await?;
    // Two first sign-ins of one person at once must not make two accounts.
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended($1, 0))",
        format!("oidc {} {}", identity.issuer, identity.subject),
    )
    .execute(&mut *tx)
    .await?;
    let linked = sqlx::query_as!(
        Linked,
        r#"select u.id, u.username, u.role, u.disabled_at is not null as "disabled!"
             from oidc_identities i join users u on u.id = i.user_id
            where i.issuer = $1 and i.subject = $2
              for update of u"#,
        identity.issuer,
        identity.subject,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let user = match linked {
        Some(linked) if linked.disabled => {
            return Err(Refusal {
                username: Some(linked.username),
                ..refuse(SsoError::AccountDisabled, "the account is disabled")
            });
        }
        Some(linked) => update_role(&mut tx, linked, identity).await?,
        None => create(&mut tx, identity).await?,
    };
    session::purge_expired(&mut tx, settings).await?;
    let (cookie, current) = session::create(&mut tx, &user, settings).await?;
    audit::record(
        &mut tx,
        &AuditEvent {
            actor: user.username.to_string(),
            action: AuditAction::SignIn,
            target: user.username.to_string(),
            details: serde_json::json!({
                "client_addr": client_addr,
                "method": "oidc",
                "issuer": identity.issuer,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((cookie, current))
}

fn info(id: Uuid, username: Username, role: Role) -> UserInfo {
    UserInfo {
        id,
        username,
        role,
        disabled: false,
        must_change_password: false,
    }
}

/// The linked account, with the role the provider's groups give it now.
async fn update_role(
    tx: &mut PgConnection,
    linked: Linked,
    identity: &Identity<'_>,
) -> Result<UserInfo, Refusal> {
    let corrupt = |what: &str| refuse(SsoError::Internal, format!("stored {what} does not parse"));
    let username = Username::parse(&linked.username).map_err(|_| corrupt("user name"))?;
    let before: Role = linked.role.parse().map_err(|_| corrupt("role"))?;
    if before != identity.role {
        sqlx::query!(
            "update users set role = $2, updated_at = now() where id = $1",
            linked.id,
            identity.role.as_str(),
        )
        .execute(&mut *tx)
        .await?;
        let details = serde_json::json!({
            "before": { "role": before },
            "after": { "role": identity.role },
            "issuer": identity.issuer,
        });
        record(tx, AuditAction::UserRoleChange, &username, details).await?;
    }
    Ok(info(linked.id, username, identity.role))
}

/// A new account for a first sign-in, linked to the identity.
async fn create(tx: &mut PgConnection, identity: &Identity<'_>) -> Result<UserInfo, Refusal> {
    let username = free_username(tx, &base_username(&identity.names)).await?;
    let id = Uuid::new_v4();
    sqlx::query!(
        "insert into users (id, username, role, password_hash) values ($1, $2, $3, $4)",
        id,
        username.as_str(),
        identity.role.as_str(),
        NO_PASSWORD,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into oidc_identities (issuer, subject, user_id) values ($1, $2, $3)",
        identity.issuer,
        identity.subject,
        id,
    )
    .execute(&mut *tx)
    .await?;
    let details = serde_json::json!({
        "user_id": id,
        "role": identity.role,
        "method": "oidc",
        "issuer": identity.issuer,
        "subject": identity.subject,
    });
    record(tx, AuditAction::UserCreate, &username, details).await?;
    Ok(info(id, username, identity.role))
}

/// Records a change single sign-on made to `target`'s account.
async fn record(
    tx: &mut PgConnection,
    action: AuditAction,
    target: &Username,
    details: serde_json::Value,
) -> sqlx::Result<i64> {
    audit::record(
        tx,
        &AuditEvent {
            actor: ACTOR.to_owned(),
            action,
            target: target.to_string(),
            details,
        },
    )
    .await
}

/// A valid user name made of the first usable candidate: lowercased, the part before an `@`,
/// other characters replaced by `-`, starting with a letter; `user` when nothing is left.
pub fn base_username(candidates: &[&str]) -> String {
    let limit = USERNAME_MAX_LEN - 4; // room for a "-NNN" suffix
    candidates
        .iter()
        .map(|raw| {
            let local = raw.split('@').next().unwrap_or_default().to_lowercase();
            let cleaned: String = local
                .chars()
                .map(|c| {
                    if c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .skip_while(|c| !c.is_ascii_lowercase())
                .take(limit)
                .collect();
            cleaned.trim_end_matches(['-', '.', '_']).to_owned()
        })
        .find(|name| Username::parse(name).is_ok())
        .unwrap_or_else(|| "user".to_owned())
}

/// `base`, or `base-2`, `base-3`, … : the first name no account has. A local account of the
/// same name is never taken over.
async fn free_username(tx: &mut PgConnection, base: &str) -> Result<Username, Refusal> {
    for n in 1..1000 {
        let candidate = if n == 1 {
            base.to_owned()
        } else {
            format!("{base}-{n}")
        };
        let Ok(name) = Username::parse(&candidate) else {
            continue;
        };
        let taken = sqlx::query_scalar!(
            r#"select exists(select 1 from users where username = $1) as "taken!""#,
            name.as_str(),
        )
        .fetch_one(&mut *tx)
        .await?;
        if !taken {
            return Ok(name);
        }
    }
    Err(refuse(SsoError::Internal, "no free user name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_made_valid_from_what_the_provider_says() {
        assert_eq!(base_username(&["Alice.Smith@contoso.com"]), "alice.smith");
        assert_eq!(base_username(&["", "bob@example.com"]), "bob");
        assert_eq!(base_username(&["Zoë Ünal"]), "zo---nal");
        assert_eq!(base_username(&["42-ops"]), "ops");
        assert_eq!(base_username(&["@@", "!"]), "user");
        assert_eq!(base_username(&[]), "user");
        let long = "a".repeat(200);
        assert_eq!(base_username(&[long.as_str()]).len(), USERNAME_MAX_LEN - 4);
        for name in ["alice.smith", "zo---nal", "ops", "user"] {
            assert!(Username::parse(name).is_ok(), "{name}");
        }
    }
}
