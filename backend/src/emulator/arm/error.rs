//! `ArmFailure`: the control plane's one error type, answered in ARM's error shape with the
//! codes Azure uses, so the ARM client has a single error path for Azure and the emulator.
//!
//! Every error the local workspace answers has one named constructor here, with its status, code
//! and wording fixed in one place (as Azurite keeps Azure Storage's errors in one factory): the
//! handlers say *which* error, never how it is spelt.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::arm::{ArmError, ArmErrorResponse};
use shared::limits::MAX_DEPLOYMENTS_PER_ENDPOINT;
use shared::RuleViolation;
use std::fmt;

const BAD_REQUEST: &str = "BadRequest";

#[derive(Debug)]
pub struct ArmFailure {
    status: StatusCode,
    /// Boxed: errors travel through many `Result`s and should stay small.
    error: Box<ArmError>,
}

impl ArmFailure {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self::from_error(status, ArmError::new(code, message))
    }

    fn from_error(status: StatusCode, error: ArmError) -> Self {
        Self {
            status,
            error: Box::new(error),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The ARM error as the body carries it.
    pub fn error(&self) -> &ArmError {
        &self.error
    }

    /// The ARM error, e.g. to record in a failed operation's status.
    pub fn into_error(self) -> ArmError {
        *self.error
    }

    // ------------------------------------------------------------------------ 400 BadRequest

    /// 400 about one field of the request body, named by its ARM JSON path.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::from_error(
            StatusCode::BAD_REQUEST,
            ArmError::new(BAD_REQUEST, message).with_target(field),
        )
    }

    /// 400 for a body that is not JSON of the resource's shape; `detail` is serde's text,
    /// which names the field (e.g. "properties.authMode: unknown variant").
    pub fn invalid_body(detail: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            BAD_REQUEST,
            format!("the request body is not valid: {detail}"),
        )
    }

    /// 400 for broken rules, one detail per rule; the message names them all and the target
    /// is the first one's field.
    pub fn rules_broken(violations: Vec<RuleViolation>) -> Self {
        let message = violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let target = violations.first().map(|v| v.field.clone());
        let details = violations
            .into_iter()
            .map(|v| ArmError::new(BAD_REQUEST, v.message).with_target(v.field))
            .collect();
        let mut error = ArmError::new(BAD_REQUEST, message).with_details(details);
        error.target = target;
        Self::from_error(StatusCode::BAD_REQUEST, error)
    }

    /// 400 naming only the first broken rule's field, as a deployment's settings are answered.
    pub fn first_rule_broken(violations: Vec<RuleViolation>) -> Self {
        match violations.into_iter().next() {
            Some(first) => Self::invalid_field(&first.field, first.message),
            None => Self::rules_broken(Vec::new()),
        }
    }

    /// 400: the endpoint already has as many deployments as Azure allows.
    pub fn too_many_deployments() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            BAD_REQUEST,
            format!("an endpoint may have at most {MAX_DEPLOYMENTS_PER_ENDPOINT} deployments"),
        )
    }

    /// 400: `listKeys` on an endpoint whose clients use tokens.
    pub fn keys_need_key_auth() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            BAD_REQUEST,
            "keys exist only for endpoints with authMode Key",
        )
    }

    /// 400: `token` on an endpoint whose clients use keys.
    pub fn tokens_need_aml_token_auth() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            BAD_REQUEST,
            "tokens are issued only for endpoints with authMode AMLToken",
        )
    }

    /// 400: Azure Monitor has no metric of this name for online endpoints; worded as Monitor
    /// words it, with the valid names, and aimed at `metricnames`.
    pub fn unknown_metric(name: &str, valid: &[&str]) -> Self {
        Self::from_error(
            StatusCode::BAD_REQUEST,
            ArmError::new(
                BAD_REQUEST,
                format!(
                    "Failed to find metric configuration for provider: \
                     Microsoft.MachineLearningServices, resource Type: workspaces/onlineEndpoints, \
                     metric: {name}, Valid metrics: {}",
                    valid.join(",")
                ),
            )
            .with_target("metricnames"),
        )
    }

    // ------------------------------------------------------------------ 400, other codes

    /// A deployment whose instances did not come up, as Azure reports it in the operation.
    pub fn deployment_failed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "DeploymentFailed", message)
    }

    /// A deployment whose environment could not be built; the target is the field that chose it.
    pub fn environment_failed(message: impl Into<String>) -> Self {
        Self::from_error(
            StatusCode::BAD_REQUEST,
            ArmError::new("DeploymentFailed", message).with_target("properties.environmentId"),
        )
    }

    /// The result of a failed or canceled operation: its recorded error, or a generic one.
    pub fn operation_failed(recorded: Option<ArmError>) -> Self {
        let error =
            recorded.unwrap_or_else(|| ArmError::new("OperationFailed", "the operation failed"));
        Self::from_error(StatusCode::BAD_REQUEST, error)
    }

    pub fn missing_api_version() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "the api-version query parameter (?api-version=) is required for all requests",
        )
    }

    pub fn invalid_api_version(version: &str, reason: &dyn fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            format!("the api-version {version:?} is invalid: {reason}"),
        )
    }

    // ---------------------------------------------------------------------------------- 401

    /// 401: no `Authorization: Bearer …` header.
    pub fn missing_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailed",
            "authentication failed: the Authorization header is missing or not a Bearer token",
        )
    }

    /// 401: a bearer token that is not the workspace's.
    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "the access token is invalid",
        )
    }

    // ---------------------------------------------------------------------------------- 404

    /// 404 for a resource that does not exist, e.g. `("deployment", "blue")`.
    pub fn resource_not_found(kind: &str, name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("{kind} {name} was not found"),
        )
    }

    /// 404 for a path that names no resource type the local workspace serves.
    pub fn no_such_path() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "no such resource type or path in the local workspace",
        )
    }

    // ---------------------------------------------------------------------------------- 409

    /// 409: another operation on the same endpoint is still running.
    pub fn conflict_busy(endpoint: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "another operation on endpoint {endpoint} is in progress; \
                 wait for it to finish and try again"
            ),
        )
    }

    /// 409: endpoint names are unique across the workspaces of a region.
    pub fn endpoint_name_taken(name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!("endpoint name {name} is already used in this region by another workspace"),
        )
    }

    // ---------------------------------------------------------------------- 429, 500, 503 injected

    /// 429 from the fault switch; the caller adds `Retry-After`.
    pub fn throttled() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "the request was throttled; retry after the time in the Retry-After header",
        )
    }

    /// 500 from the fault switch.
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "an internal error occurred in the workspace (injected by the fault switch)",
        )
    }

    /// 503 from the fault switch.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the service is temporarily unavailable (injected by the fault switch)",
        )
    }

    // ---------------------------------------------------------------------------------- 500

    /// 500 whose body says nothing of the cause; the cause is logged.
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
        Self::invalid_body(&rejection.body_text())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(field: &str, message: &str) -> RuleViolation {
        serde_json::from_value(serde_json::json!({ "field": field, "message": message }))
            .expect("a violation")
    }

    #[test]
    fn each_error_keeps_azures_status_and_code() {
        let cases = [
            (ArmFailure::invalid_field("f", "m"), 400, "BadRequest"),
            (ArmFailure::invalid_body("x"), 400, "BadRequest"),
            (ArmFailure::too_many_deployments(), 400, "BadRequest"),
            (ArmFailure::keys_need_key_auth(), 400, "BadRequest"),
            (ArmFailure::tokens_need_aml_token_auth(), 400, "BadRequest"),
            (ArmFailure::deployment_failed("m"), 400, "DeploymentFailed"),
            (ArmFailure::environment_failed("m"), 400, "DeploymentFailed"),
            (ArmFailure::operation_failed(None), 400, "OperationFailed"),
            (
                ArmFailure::missing_api_version(),
                400,
                "MissingApiVersionParameter",
            ),
            (
                ArmFailure::invalid_api_version("x", &"bad"),
                400,
                "InvalidApiVersionParameter",
            ),
            (ArmFailure::missing_token(), 401, "AuthenticationFailed"),
            (
                ArmFailure::invalid_token(),
                401,
                "InvalidAuthenticationToken",
            ),
            (
                ArmFailure::resource_not_found("endpoint", "e"),
                404,
                "ResourceNotFound",
            ),
            (ArmFailure::no_such_path(), 404, "NotFound"),
            (ArmFailure::conflict_busy("e"), 409, "Conflict"),
            (ArmFailure::endpoint_name_taken("e"), 409, "Conflict"),
            (ArmFailure::throttled(), 429, "TooManyRequests"),
            (ArmFailure::server_error(), 500, "InternalServerError"),
            (ArmFailure::unavailable(), 503, "ServiceUnavailable"),
        ];
        for (failure, status, code) in cases {
            assert_eq!(failure.status().as_u16(), status, "{code}");
            assert_eq!(failure.error().code, code);
        }
    }

    #[test]
    fn messages_name_what_went_wrong() {
        assert_eq!(
            ArmFailure::resource_not_found("deployment", "blue")
                .error()
                .message,
            "deployment blue was not found"
        );
        assert_eq!(
            ArmFailure::too_many_deployments().error().message,
            "an endpoint may have at most 20 deployments"
        );
        let field = ArmFailure::invalid_field("sku.capacity", "too many");
        assert_eq!(field.error().target.as_deref(), Some("sku.capacity"));
        assert_eq!(
            ArmFailure::invalid_api_version("2024-13-01", &"no such month")
                .error()
                .message,
            "the api-version \"2024-13-01\" is invalid: no such month"
        );
    }

    #[test]
    fn broken_rules_are_all_named_or_only_the_first() {
        let broken = || {
            vec![
                violation("properties.traffic", "must add up"),
                violation("properties.mirrorTraffic.green", "at most 50"),
            ]
        };
        let all = ArmFailure::rules_broken(broken()).into_error();
        assert_eq!(
            all.message,
            "properties.traffic: must add up; properties.mirrorTraffic.green: at most 50"
        );
        assert_eq!(all.target.as_deref(), Some("properties.traffic"));
        assert_eq!(all.details.map(|d| d.len()), Some(2));
        let first = ArmFailure::first_rule_broken(broken()).into_error();
        assert_eq!(first.message, "must add up");
        assert_eq!(first.target.as_deref(), Some("properties.traffic"));
        assert!(first.details.is_none());
    }

    #[test]
    fn a_failed_operation_answers_with_its_recorded_error() {
        let recorded = ArmError::new("DeploymentFailed", "init() raised");
        let failure = ArmFailure::operation_failed(Some(recorded.clone()));
        assert_eq!(failure.status(), StatusCode::BAD_REQUEST);
        assert_eq!(failure.into_error(), recorded);
    }
}
