//! Request and response bodies of the REST API under `/api/v1`.

use crate::{Role, Username};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod audit;
pub mod change_requests;
mod checks;
pub mod deployments;
pub mod metrics;
pub mod operations;
pub mod rollouts;
pub mod workspace;

pub use audit::{AuditEventView, AuditPage};
pub use deployments::*;
pub use metrics::EndpointMetricsSummary;
pub use operations::{Operation, OperationKind, OperationList, OperationStatus, ProgressEntry};
pub use workspace::*;

/// The header that carries the CSRF token on every state-changing request.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` when every check passed, else `degraded`.
    pub status: String,
    /// `ok`, or `unavailable` when the database did not answer.
    pub database: String,
    pub version: String,
}

/// `GET /api/v1/about`: what this Greenlight instance is connected to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct About {
    pub version: String,
    /// The embedded local workspace, when this instance runs one.
    pub local_workspace: Option<LocalWorkspaceInfo>,
}

/// Where the embedded local workspace (the Azure ML emulator) listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalWorkspaceInfo {
    /// Base URL of its ARM API.
    pub arm_url: String,
    /// Base URL of its scoring URIs.
    pub scoring_url: String,
}

/// `POST /api/v1/session`: sign in with a local account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub username: String,
    pub password: String,
}

/// The signed-in user, as `GET /api/v1/session` and sign-in return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub user: UserInfo,
    /// Send this back in the `x-csrf-token` header on every state-changing request.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub username: Username,
    pub role: Role,
}

/// `POST /api/v1/users`: create a local account (admins only).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    pub role: Role,
    pub password: String,
}

/// `GET /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserList {
    pub items: Vec<UserInfo>,
}

/// Shortest password Greenlight accepts for a local account.
pub const PASSWORD_MIN_LEN: usize = 12;
/// Longest password, so hashing cost stays bounded.
pub const PASSWORD_MAX_LEN: usize = 256;

/// The rule for a new local account's password; the message names the rule.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < PASSWORD_MIN_LEN {
        return Err(format!(
            "password must be at least {PASSWORD_MIN_LEN} characters long"
        ));
    }
    if len > PASSWORD_MAX_LEN {
        return Err(format!(
            "password must be at most {PASSWORD_MAX_LEN} characters long"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn new_passwords_must_be_long_enough_but_bounded() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password(&"x".repeat(PASSWORD_MIN_LEN)).is_ok());
        assert!(check_new_password(&"x".repeat(PASSWORD_MAX_LEN + 1)).is_err());
        assert!(check_new_password("eleven char").is_err_and(|m| m.contains("at least 12")));
    }

    use super::*;

    #[test]
    fn session_info_uses_snake_case_field_names() {
        let info = SessionInfo {
            user: UserInfo {
                id: Uuid::nil(),
                username: Username::parse("alice").expect("valid"),
                role: Role::Operator,
            },
            csrf_token: "t".into(),
            expires_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let json = serde_json::to_value(&info).expect("serialize");
        assert_eq!(json["user"]["role"], "operator");
        assert_eq!(json["csrf_token"], "t");
        assert_eq!(json["expires_at"], "1970-01-01T00:00:00Z");
    }
}
