//! Local accounts and sessions: sign-in, the users an admin manages, and password changes.

use crate::{Role, Username};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    /// A disabled account cannot sign in and has no sessions.
    #[serde(default)]
    pub disabled: bool,
    /// The password was set by someone else (a one-time password): until its owner changes it,
    /// the session may only change it (`PUT /api/v1/session/password`) or sign out.
    #[serde(default)]
    pub must_change_password: bool,
}

/// `POST /api/v1/users`: create a local account (admins only). The password is a one-time
/// password: its owner must change it at first sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    pub role: Role,
    pub password: String,
}

/// `PATCH /api/v1/users/{username}`: change an account's role or disable / re-enable it (admins
/// only). Fields left out stay as they are; at least one must be given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// `true` disables the account and ends its sessions at once; `false` enables it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// `PUT /api/v1/users/{username}/password`: an admin sets a one-time password (for a forgotten
/// password); the account's sessions end and its owner must change it at next sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    pub password: String,
}

/// `PUT /api/v1/session/password`: the signed-in user changes their own password.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
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

/// The rule for a password change by its owner: the new password follows
/// [`check_new_password`] and differs from the current one (a one-time password typed again
/// is not a change).
pub fn check_password_change(request: &ChangePasswordRequest) -> Result<(), String> {
    check_new_password(&request.new_password)?;
    if request.new_password == request.current_password {
        return Err("new password must differ from the current password".into());
    }
    Ok(())
}

/// Why an admin may not make a change to an account: an admin who could demote or disable
/// themselves could leave a team without any admin. Another admin can do it.
pub fn check_user_update(
    actor: &Username,
    target: &Username,
    update: &UpdateUserRequest,
) -> Result<(), (&'static str, String)> {
    if update.role.is_none() && update.disabled.is_none() {
        return Err((
            "role",
            "give role or disabled (or both): nothing to change".into(),
        ));
    }
    if actor == target {
        if update.role.is_some_and(|role| role != Role::Admin) {
            return Err((
                "role",
                "you cannot change your own role; ask another admin".into(),
            ));
        }
        if update.disabled == Some(true) {
            return Err((
                "disabled",
                "you cannot disable your own account; ask another admin".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Username {
        Username::parse(text).expect("valid")
    }

    #[test]
    fn new_passwords_must_be_long_enough_but_bounded() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password(&"x".repeat(PASSWORD_MIN_LEN)).is_ok());
        assert!(check_new_password(&"x".repeat(PASSWORD_MAX_LEN + 1)).is_err());
        assert!(check_new_password("eleven char").is_err_and(|m| m.contains("at least 12")));
    }

    #[test]
    fn a_password_change_must_pick_a_new_password() {
        let change = |current: &str, new: &str| ChangePasswordRequest {
            current_password: current.into(),
            new_password: new.into(),
        };
        assert!(check_password_change(&change("one-time-pass-1", "my-own-password")).is_ok());
        assert!(
            check_password_change(&change("one-time-pass-1", "one-time-pass-1"))
                .is_err_and(|m| m.contains("differ"))
        );
        assert!(check_password_change(&change("one-time-pass-1", "short"))
            .is_err_and(|m| m.contains("at least")));
    }

    #[test]
    fn an_admin_cannot_demote_or_disable_themselves() {
        let root = name("root");
        let demote = UpdateUserRequest {
            role: Some(Role::Viewer),
            disabled: None,
        };
        let disable = UpdateUserRequest {
            role: None,
            disabled: Some(true),
        };
        assert_eq!(
            check_user_update(&root, &root, &demote).map_err(|e| e.0),
            Err("role")
        );
        assert_eq!(
            check_user_update(&root, &root, &disable).map_err(|e| e.0),
            Err("disabled")
        );
        assert!(check_user_update(&name("other"), &root, &demote).is_ok());
        assert!(check_user_update(&name("other"), &root, &disable).is_ok());
        let stay_admin = UpdateUserRequest {
            role: Some(Role::Admin),
            disabled: Some(false),
        };
        assert!(check_user_update(&root, &root, &stay_admin).is_ok());
    }

    #[test]
    fn an_update_must_change_something() {
        let err = check_user_update(&name("ann"), &name("bob"), &UpdateUserRequest::default());
        assert!(err.is_err_and(|(field, message)| field == "role" && message.contains("nothing")));
    }

    #[test]
    fn session_info_uses_snake_case_field_names() {
        let info = SessionInfo {
            user: UserInfo {
                id: Uuid::nil(),
                username: name("alice"),
                role: Role::Operator,
                disabled: false,
                must_change_password: true,
            },
            csrf_token: "t".into(),
            expires_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let json = serde_json::to_value(&info).expect("serialize");
        assert_eq!(json["user"]["role"], "operator");
        assert_eq!(json["user"]["must_change_password"], true);
        assert_eq!(json["csrf_token"], "t");
        assert_eq!(json["expires_at"], "1970-01-01T00:00:00Z");
    }
}
