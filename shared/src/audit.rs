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
    #[serde(rename = "user.role_change")]
    UserRoleChange,
    /// An admin disabled an account; its sessions ended in the same transaction.
    #[serde(rename = "user.disable")]
    UserDisable,
    #[serde(rename = "user.enable")]
    UserEnable,
    /// An admin set a one-time password for an account.
    #[serde(rename = "user.password_reset")]
    UserPasswordReset,
    /// A user changed their own password.
    #[serde(rename = "user.password_change")]
    UserPasswordChange,
    #[serde(rename = "endpoint.create")]
    EndpointCreate,
    #[serde(rename = "endpoint.delete")]
    EndpointDelete,
    #[serde(rename = "deployment.create")]
    DeploymentCreate,
    #[serde(rename = "deployment.scale")]
    DeploymentScale,
    #[serde(rename = "deployment.delete")]
    DeploymentDelete,
    #[serde(rename = "traffic.change")]
    TrafficChange,
    /// Someone saw an endpoint's keys in clear.
    #[serde(rename = "keys.reveal")]
    KeysReveal,
    #[serde(rename = "keys.regenerate")]
    KeysRegenerate,
    /// A change of traffic or a deletion was asked for; it waits for approvals.
    #[serde(rename = "change_request.create")]
    ChangeRequestCreate,
    #[serde(rename = "change_request.approve")]
    ChangeRequestApprove,
    #[serde(rename = "change_request.reject")]
    ChangeRequestReject,
    #[serde(rename = "change_request.expire")]
    ChangeRequestExpire,
    /// The live split was no longer the request's `before`: not applied.
    #[serde(rename = "change_request.stale")]
    ChangeRequestStale,
    /// An admin applied a change without approvals, with a reason.
    #[serde(rename = "change_request.break_glass")]
    ChangeRequestBreakGlass,
    #[serde(rename = "change_request.applied")]
    ChangeRequestApplied,
    #[serde(rename = "change_request.failed")]
    ChangeRequestFailed,
    /// An admin changed how many approvals an endpoint's changes need.
    #[serde(rename = "endpoint.policy_change")]
    PolicyChange,
    /// A pause or an abort withdrew a rollout's open request.
    #[serde(rename = "change_request.cancel")]
    ChangeRequestCancel,
    #[serde(rename = "rollout.start")]
    RolloutStart,
    #[serde(rename = "rollout.pause")]
    RolloutPause,
    #[serde(rename = "rollout.resume")]
    RolloutResume,
    #[serde(rename = "rollout.abort")]
    RolloutAbort,
    #[serde(rename = "rollout.rollback")]
    RolloutRollback,
    /// A rollout reached its end: succeeded, failed, aborted or rolled back.
    #[serde(rename = "rollout.end")]
    RolloutEnd,
    #[serde(rename = "rollout.step_start")]
    RolloutStepStart,
    #[serde(rename = "rollout.step_end")]
    RolloutStepEnd,
    /// A gate decided: passed, failed (the rollout rolls back), or asked an approver.
    #[serde(rename = "rollout.gate")]
    RolloutGate,
    /// Someone created an API token (never its secret).
    #[serde(rename = "token.create")]
    TokenCreate,
    #[serde(rename = "token.revoke")]
    TokenRevoke,
    /// An admin set a freeze window.
    #[serde(rename = "freeze_window.create")]
    FreezeWindowCreate,
    /// An admin removed a freeze window.
    #[serde(rename = "freeze_window.delete")]
    FreezeWindowDelete,
    /// An admin set up an outgoing webhook (its secret is never recorded).
    #[serde(rename = "webhook.create")]
    WebhookCreate,
    #[serde(rename = "webhook.update")]
    WebhookUpdate,
    #[serde(rename = "webhook.delete")]
    WebhookDelete,
}

impl AuditAction {
    pub const ALL: [AuditAction; 44] = [
        AuditAction::SignIn,
        AuditAction::SignInFailed,
        AuditAction::SignInRateLimited,
        AuditAction::SignOut,
        AuditAction::UserCreate,
        AuditAction::UserRoleChange,
        AuditAction::UserDisable,
        AuditAction::UserEnable,
        AuditAction::UserPasswordReset,
        AuditAction::UserPasswordChange,
        AuditAction::EndpointCreate,
        AuditAction::EndpointDelete,
        AuditAction::DeploymentCreate,
        AuditAction::DeploymentScale,
        AuditAction::DeploymentDelete,
        AuditAction::TrafficChange,
        AuditAction::KeysReveal,
        AuditAction::KeysRegenerate,
        AuditAction::ChangeRequestCreate,
        AuditAction::ChangeRequestApprove,
        AuditAction::ChangeRequestReject,
        AuditAction::ChangeRequestExpire,
        AuditAction::ChangeRequestStale,
        AuditAction::ChangeRequestBreakGlass,
        AuditAction::ChangeRequestApplied,
        AuditAction::ChangeRequestFailed,
        AuditAction::PolicyChange,
        AuditAction::ChangeRequestCancel,
        AuditAction::RolloutStart,
        AuditAction::RolloutPause,
        AuditAction::RolloutResume,
        AuditAction::RolloutAbort,
        AuditAction::RolloutRollback,
        AuditAction::RolloutEnd,
        AuditAction::RolloutStepStart,
        AuditAction::RolloutStepEnd,
        AuditAction::RolloutGate,
        AuditAction::TokenCreate,
        AuditAction::TokenRevoke,
        AuditAction::FreezeWindowCreate,
        AuditAction::FreezeWindowDelete,
        AuditAction::WebhookCreate,
        AuditAction::WebhookUpdate,
        AuditAction::WebhookDelete,
    ];

    /// The audited action an operation of `kind` records when it ends.
    pub fn of_operation(kind: crate::api::OperationKind) -> Self {
        use crate::api::OperationKind as K;
        match kind {
            K::EndpointCreate => Self::EndpointCreate,
            K::EndpointDelete => Self::EndpointDelete,
            K::DeploymentCreate => Self::DeploymentCreate,
            K::DeploymentScale => Self::DeploymentScale,
            K::DeploymentDelete => Self::DeploymentDelete,
            K::TrafficChange => Self::TrafficChange,
            K::KeysRegenerate => Self::KeysRegenerate,
        }
    }

    /// The action stored as `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignIn => "session.sign_in",
            AuditAction::SignInFailed => "session.sign_in_failed",
            AuditAction::SignInRateLimited => "session.sign_in_rate_limited",
            AuditAction::SignOut => "session.sign_out",
            AuditAction::UserCreate => "user.create",
            AuditAction::UserRoleChange => "user.role_change",
            AuditAction::UserDisable => "user.disable",
            AuditAction::UserEnable => "user.enable",
            AuditAction::UserPasswordReset => "user.password_reset",
            AuditAction::UserPasswordChange => "user.password_change",
            AuditAction::EndpointCreate => "endpoint.create",
            AuditAction::EndpointDelete => "endpoint.delete",
            AuditAction::DeploymentCreate => "deployment.create",
            AuditAction::DeploymentScale => "deployment.scale",
            AuditAction::DeploymentDelete => "deployment.delete",
            AuditAction::TrafficChange => "traffic.change",
            AuditAction::KeysReveal => "keys.reveal",
            AuditAction::KeysRegenerate => "keys.regenerate",
            AuditAction::ChangeRequestCreate => "change_request.create",
            AuditAction::ChangeRequestApprove => "change_request.approve",
            AuditAction::ChangeRequestReject => "change_request.reject",
            AuditAction::ChangeRequestExpire => "change_request.expire",
            AuditAction::ChangeRequestStale => "change_request.stale",
            AuditAction::ChangeRequestBreakGlass => "change_request.break_glass",
            AuditAction::ChangeRequestApplied => "change_request.applied",
            AuditAction::ChangeRequestFailed => "change_request.failed",
            AuditAction::PolicyChange => "endpoint.policy_change",
            AuditAction::ChangeRequestCancel => "change_request.cancel",
            AuditAction::RolloutStart => "rollout.start",
            AuditAction::RolloutPause => "rollout.pause",
            AuditAction::RolloutResume => "rollout.resume",
            AuditAction::RolloutAbort => "rollout.abort",
            AuditAction::RolloutRollback => "rollout.rollback",
            AuditAction::RolloutEnd => "rollout.end",
            AuditAction::RolloutStepStart => "rollout.step_start",
            AuditAction::RolloutStepEnd => "rollout.step_end",
            AuditAction::RolloutGate => "rollout.gate",
            AuditAction::TokenCreate => "token.create",
            AuditAction::TokenRevoke => "token.revoke",
            AuditAction::FreezeWindowCreate => "freeze_window.create",
            AuditAction::FreezeWindowDelete => "freeze_window.delete",
            AuditAction::WebhookCreate => "webhook.create",
            AuditAction::WebhookUpdate => "webhook.update",
            AuditAction::WebhookDelete => "webhook.delete",
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
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("traffic.teleport"), None);
    }
}
