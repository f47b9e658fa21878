//! The names of audited actions, shared so the console can label and filter them.

use serde::{Deserialize, Serialize};

/// Every kind of event the audit log records. The string form is what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AuditAction {
    #[serde(rename = "session.sign_in")]
    SignIn,
    #[serde(rename = "session.sign_in_failed")]
    SignInFailed,
    #[serde(rename = "session.sign_in_rate_limited")]
    SignInRateLimited,
    #[serde(rename = "session.sign_out")]
    SignOut,
    #[serde(rename = "user.create")]
    UserCreate,
}

impl AuditAction {
    pub const ALL: [AuditAction; 5] = [
        AuditAction::SignIn,
        AuditAction::SignInFailed,
        AuditAction::SignInRateLimited,
        AuditAction::SignOut,
        AuditAction::UserCreate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignIn => "session.sign_in",
            AuditAction::SignInFailed => "session.sign_in_failed",
            AuditAction::SignInRateLimited => "session.sign_in_rate_limited",
            AuditAction::SignOut => "session.sign_out",
            AuditAction::UserCreate => "user.create",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_match_the_serialized_names() {
        for action in AuditAction::ALL {
            let json = serde_json::to_string(&action).expect("serialize");
            assert_eq!(json, format!("\"{}\"", action.as_str()));
        }
    }
}
