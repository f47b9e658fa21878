//! `WorkspaceError`: what can go wrong talking to a workspace, with Azure's own code and message
//! kept intact for the user.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The workspace answered with an ARM error; `code` and `message` are Azure's, unchanged.
    #[error("{message} ({code})")]
    Arm {
        status: u16,
        code: String,
        message: String,
        target: Option<String>,
    },
    /// A long-running operation ended Failed or Canceled.
    #[error("the operation failed: {message} ({code})")]
    OperationFailed { code: String, message: String },
    /// No answer, or no terminal state, within the limit.
    #[error("the workspace did not answer within {0:?}")]
    Timeout(Duration),
    /// The traffic changed since the caller read it; `current` is what it is now.
    #[error("the endpoint's traffic changed since it was read")]
    StaleTraffic {
        current: Box<shared::arm::OnlineEndpoint>,
    },
    /// The connection failed (after retries).
    #[error("cannot reach the workspace: {0}")]
    Transport(String),
    /// No token could be had for the workspace.
    #[error("cannot get a token for the workspace: {0}")]
    Credential(String),
    /// The workspace answered something that is not the expected resource.
    #[error("unexpected answer from the workspace: {0}")]
    Unexpected(String),
}
