//! `WorkspaceError`: what can go wrong talking to a workspace, with Azure's own code and message
//! kept intact for the user — and how an error answer becomes one, for the client and the
//! long-running-operation poller alike.

use shared::arm::ArmErrorResponse;
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

impl WorkspaceError {
    /// True when the workspace says there is no such resource.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Arm { status: 404, .. })
    }
}

impl WorkspaceError {
    /// Turns an error answer into an `Arm` error carrying Azure's code, message and target
    /// unchanged; a body that is not ARM's error shape gets a code made from the status.
    pub(super) async fn from_response(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<ArmErrorResponse>(&text) {
            Ok(body) => Self::Arm {
                status,
                code: body.error.code,
                message: body.error.message,
                target: body.error.target,
            },
            Err(_) => Self::Arm {
                status,
                code: format!("Http{status}"),
                message: format!("the workspace answered {status}"),
                target: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> reqwest::Response {
        let response = axum::http::Response::builder()
            .status(status)
            .body(body.to_owned())
            .expect("response");
        reqwest::Response::from(response)
    }

    #[tokio::test]
    async fn an_arm_error_answer_keeps_azures_code_message_and_target() {
        let body = r#"{"error": {"code": "BadRequest", "message": "traffic must add up to 100",
                       "target": "properties.traffic"}}"#;
        match WorkspaceError::from_response(answer(400, body)).await {
            WorkspaceError::Arm {
                status,
                code,
                message,
                target,
            } => {
                assert_eq!(status, 400);
                assert_eq!(code, "BadRequest");
                assert_eq!(message, "traffic must add up to 100");
                assert_eq!(target.as_deref(), Some("properties.traffic"));
            }
            other => panic!("expected an ARM error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_answer_that_is_not_an_arm_error_is_named_by_its_status() {
        match WorkspaceError::from_response(answer(502, "<html>bad gateway</html>")).await {
            WorkspaceError::Arm {
                status: 502,
                code,
                message,
                target: None,
            } => {
                assert_eq!(code, "Http502");
                assert_eq!(message, "the workspace answered 502");
            }
            other => panic!("expected an ARM error named by its status, got {other:?}"),
        }
    }
}
