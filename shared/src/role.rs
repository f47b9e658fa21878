//! Roles and their order: each role can do everything the roles below it can.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a user may do. Ordered: `Viewer < Operator < Approver < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees endpoints, rollouts and the audit log.
    Viewer,
    /// Also starts rollouts and requests traffic changes.
    Operator,
    /// Also approves other people's change requests.
    Approver,
    /// Also manages users.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// True when a user holding `self` may do what needs `required`.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the role names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRole(pub String);

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "role must be one of viewer, operator, approver, admin (got {:?})",
            self.0
        )
    }
}

impl std::error::Error for UnknownRole {}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_from_viewer_to_admin() {
        assert!(Role::Viewer < Role::Operator);
        assert!(Role::Operator < Role::Approver);
        assert!(Role::Approver < Role::Admin);
    }

    #[test]
    fn a_role_allows_itself_and_lower_roles_only() {
        assert!(Role::Approver.allows(Role::Operator));
        assert!(Role::Approver.allows(Role::Approver));
        assert!(!Role::Approver.allows(Role::Admin));
        assert!(!Role::Viewer.allows(Role::Operator));
    }

    #[test]
    fn role_names_round_trip_through_text_and_json() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            let json = serde_json::to_string(&role).expect("serialize role");
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
    }

    #[test]
    fn an_unknown_role_is_refused_with_the_allowed_names() {
        let err = "root".parse::<Role>().expect_err("root is not a role");
        assert!(err
            .to_string()
            .contains("viewer, operator, approver, admin"));
        assert!(err.to_string().contains("root"));
    }
}
