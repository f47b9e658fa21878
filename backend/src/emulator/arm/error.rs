//! `ArmFailure`: the control plane's one error type, answered in ARM's error shape with the
//! codes Azure uses, so the ARM client has a single error path for Azure and the emulator.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::arm::{ArmError, ArmErrorResponse};
use shared::RuleViolation;

#[derive(Debug)]
pub struct ArmFailure {
    pub status: StatusCode,
    /// Boxed: errors travel through many `Result`s and should stay small.
    pub error: Box<ArmError>,
}

impl ArmFailure {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            error: Box::new(ArmError::new(code, message)),
        }
    }

    /// 400 about one field of the request body.
    pub fn bad_field(target: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: Box::new(ArmError::new("BadRequest", message).with_target(target)),
        }
    }

    /// 400 for broken traffic rules, one detail per rule; the message names them all.
    pub fn rules(violations: Vec<RuleViolation>) -> Self {
        let message = violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let target = violations.first().map(|v| v.field.clone());
        let details = violations
            .into_iter()
            .map(|v| ArmError::new("BadRequest", v.message).with_target(v.field))
            .collect();
        let mut error = ArmError::new("BadRequest", message).with_details(details);
        error.target = target;
        Self {
            status: StatusCode::BAD_REQUEST,
            error: Box::new(error),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("{what} was not found"),
        )
    }

    /// 409: another operation on the same endpoint is still running.
    pub fn busy(endpoint: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "another operation on endpoint {endpoint} is in progress; \
                 wait for it to finish and try again"
            ),
        )
    }

    pub fn internal(err: &anyhow::Error) -> Self {
        tracing::error!(error = ?err, "local workspace operation failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "the local workspace failed to process the request",
        )
    }
}

impl From<axum::extract::rejection::JsonRejection> for ArmFailure {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        // serde's text names the field, e.g. "properties.authMode: unknown variant".
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("the request body is not valid: {}", rejection.body_text()),
        )
    }
}

/// A JSON body whose rejections are answered in ARM's error shape.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ArmFailure))]
pub struct ArmJson<T>(pub T);

impl From<anyhow::Error> for ArmFailure {
    fn from(err: anyhow::Error) -> Self {
        Self::internal(&err)
    }
}

impl IntoResponse for ArmFailure {
    fn into_response(self) -> Response {
        (self.status, axum::Json(ArmErrorResponse::from(*self.error))).into_response()
    }
}
