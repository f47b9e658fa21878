//! API tokens: how a script acts as a service account. A token is created by a signed-in user
//! (or `greenlight token create`) with a role no higher than its creator's and an expiry; its
//! secret is shown once and sent as `Authorization: Bearer <secret>`.

use super::checks::{done, field};
use crate::error::FieldError;
use crate::{Role, Username};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Every secret starts with this, so a leaked token is easy to spot (and to scan for).
pub const TOKEN_PREFIX: &str = "glt_";

/// The longest a token may live.
pub const MAX_TOKEN_DAYS: u32 = 365;

/// The longest token name.
pub const MAX_TOKEN_NAME: usize = 64;

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// 1–64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit; unique
    /// among the creator's unrevoked tokens.
    pub name: String,
    /// At most the creator's own role.
    pub role: Role,
    /// Days until the token stops working: 1–365.
    pub expires_in_days: u32,
}

impl CreateTokenRequest {
    /// The request's rules, for a creator holding `creator_role`.
    pub fn check(&self, creator_role: Role) -> Result<(), Vec<FieldError>> {
        let mut problems = Vec::new();
        if let Err(message) = check_token_name(&self.name) {
            problems.push(field("name", message));
        }
        if let Err(message) = check_token_role(self.role, creator_role) {
            problems.push(field("role", message));
        }
        if let Err(message) = check_token_days(self.expires_in_days) {
            problems.push(field("expires_in_days", message));
        }
        done(problems)
    }
}

/// A token's name: 1–64 lowercase letters, digits, '.', '_' or '-', starting with a letter or
/// digit (it appears in audit actors as `alice/token:<name>`, so no '/', ':' or spaces).
pub fn check_token_name(name: &str) -> Result<(), String> {
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if name.is_empty() || name.len() > MAX_TOKEN_NAME || !first_ok || !rest_ok {
        return Err(format!(
            "name must be 1–{MAX_TOKEN_NAME} lowercase letters, digits, '.', '_' or '-', \
             starting with a letter or digit"
        ));
    }
    Ok(())
}

/// A token never holds more than its creator.
pub fn check_token_role(role: Role, creator_role: Role) -> Result<(), String> {
    if creator_role.allows(role) {
        Ok(())
    } else {
        Err(format!(
            "role {role} is above your own role ({creator_role}); a token's role can be at most \
             its creator's"
        ))
    }
}

/// Every token expires, within a year.
pub fn check_token_days(days: u32) -> Result<(), String> {
    if (1..=MAX_TOKEN_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(format!(
            "expires_in_days must be 1–{MAX_TOKEN_DAYS} (got {days}): every token expires within a year"
        ))
    }
}

/// A lifetime as the command line takes it: `30d` (days), `4w` (weeks) or `1y` (365 days),
/// within [`MAX_TOKEN_DAYS`]; returns the days.
pub fn parse_token_lifetime(raw: &str) -> Result<u32, String> {
    let raw = raw.trim();
    let unit_days = match raw.chars().last() {
        Some('d') => 1,
        Some('w') => 7,
        Some('y') => 365,
        _ => {
            return Err(format!(
                "{raw:?} is not a lifetime: write it as 30d, 4w or 1y"
            ))
        }
    };
    let count: u32 = raw[..raw.len() - 1]
        .parse()
        .map_err(|_| format!("{raw:?} is not a lifetime: write it as 30d, 4w or 1y"))?;
    let days = count.saturating_mul(unit_days);
    check_token_days(days)
        .map(|()| days)
        .map_err(|_| format!("{raw} is not between 1 day and {MAX_TOKEN_DAYS} days"))
}

/// A token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    /// The role it was created with; requests get the lower of this and its creator's role.
    pub role: Role,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_by: Username,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it was last used, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

/// `201` of `POST /api/v1/tokens`: the token and its secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub token: TokenInfo,
    /// Send as `Authorization: Bearer <secret>`. Shown only now; Greenlight keeps its hash.
    pub secret: String,
}

/// `GET /api/v1/tokens`: the caller's tokens (an admin's: everyone's), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenList {
    pub items: Vec<TokenInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, role: Role, days: u32) -> CreateTokenRequest {
        CreateTokenRequest {
            name: name.into(),
            role,
            expires_in_days: days,
        }
    }

    #[test]
    fn a_role_above_the_creators_is_refused_naming_the_field() {
        let problems = request("ci", Role::Admin, 30)
            .check(Role::Operator)
            .expect_err("above the creator");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "role");
        assert!(problems[0].message.contains("at most its creator's"));
        assert!(request("ci", Role::Operator, 30)
            .check(Role::Operator)
            .is_ok());
        assert!(request("ci", Role::Viewer, 30)
            .check(Role::Operator)
            .is_ok());
    }

    #[test]
    fn names_and_lifetimes_follow_their_rules() {
        for bad in [
            "",
            "CI",
            "-ci",
            "ci/deployer",
            "a:b",
            "with space",
            &"x".repeat(65),
        ] {
            assert!(check_token_name(bad).is_err(), "{bad:?}");
        }
        for good in ["ci", "ci-deployer", "prom.scraper_1", "9lives"] {
            assert!(check_token_name(good).is_ok(), "{good:?}");
        }
        let problems = request("ci", Role::Viewer, 0)
            .check(Role::Viewer)
            .expect_err("no expiry");
        assert_eq!(problems[0].field, "expires_in_days");
        assert!(check_token_days(366).is_err());
        assert_eq!(parse_token_lifetime("30d"), Ok(30));
        assert_eq!(parse_token_lifetime("4w"), Ok(28));
        assert_eq!(parse_token_lifetime("1y"), Ok(365));
        assert!(parse_token_lifetime("2y").is_err());
        assert!(parse_token_lifetime("0d").is_err());
        assert!(parse_token_lifetime("30").is_err());
        assert!(parse_token_lifetime("d").is_err());
    }
}
