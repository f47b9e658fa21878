//! `ApiError`: the one error type of the HTTP layer, mapped once to the error envelope.

use crate::store::StoreError;
use crate::workspace::WorkspaceError;
use axum::extract::rejection::JsonRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::api::TrafficState;
use shared::{ErrorBody, ErrorEnvelope, FieldError, Role, RuleViolation, WorkspaceErrorDetails};
use std::time::Duration;

tokio::task_local! {
    /// The id of the request being served, set by the request-id middleware so every error
    /// body can quote it.
    pub static REQUEST_ID: String;
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("sign in first")]
    Unauthenticated,
    #[error("wrong user name or password")]
    InvalidCredentials,
    /// An `Authorization` header whose API token does not authenticate (which rule, in words).
    #[error("{0}")]
    TokenRefused(crate::auth::tokens::TokenRefused),
    /// What only a person at the console may do (their session, password, new tokens).
    #[error("an API token can't do this; sign in at the console")]
    NotWithToken,
    #[error("this needs the {0} role or higher")]
    Forbidden(Role),
    /// `--local-accounts=false`: only single sign-on lets people in.
    #[error(
        "local accounts are switched off on this server; sign in with single sign-on \
         (GET /api/v1/session/oidc/start)"
    )]
    LocalAccountsDisabled,
    /// The account signed in with a one-time password: nothing but changing it (or signing out)
    /// is allowed until its owner has.
    #[error("change your one-time password first (PUT /api/v1/session/password)")]
    PasswordChangeRequired,
    #[error("{0}")]
    CsrfFailed(&'static str),
    #[error("too many failed sign-ins; try again in {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    #[error("{message}")]
    Validation {
        message: String,
        fields: Vec<FieldError>,
    },
    /// The request clashes with the current state; `current` is that state, when the client
    /// needs it to decide again (e.g. the traffic someone else just changed).
    #[error("{message}")]
    Conflict {
        message: String,
        fields: Vec<FieldError>,
        current: Option<serde_json::Value>,
    },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the body is larger than the {limit} bytes this API accepts")]
    PayloadTooLarge { limit: usize },
    /// A decision on a change request that its rules refuse (self-approval, expired, …).
    #[error("{message}")]
    Decision {
        forbidden: bool,
        code: &'static str,
        message: String,
    },
    /// A freeze window stops the change; `notice` names it, its reason and when it ends.
    #[error("{message}")]
    Frozen {
        message: String,
        notice: shared::api::freeze::FreezeNotice,
    },
    #[error("no such resource")]
    NotFound,
    /// No API operation has this path: a client bug rather than a missing resource.
    #[error("there is no API operation at this path; /api/openapi.json lists them")]
    UnknownPath,
    /// The workspace (Azure ML or the local one) refused or failed; its own error rides along.
    #[error("the workspace refused the request: {message}")]
    Workspace {
        status: u16,
        code: String,
        message: String,
    },
    /// The workspace could not be reached, gave Greenlight no token, or answered something that
    /// is not ARM: Greenlight's own plumbing, not Azure's answer. The cause is logged with the
    /// request id; the client gets a plain message (the cause may name hosts, proxies or the
    /// credential chain's configuration).
    #[error("the workspace could not be reached; quote the request id when reporting it")]
    WorkspaceUnreachable(WorkspaceError),
    /// Without a workspace connection there is nothing to ask.
    #[error("no workspace is configured")]
    NoWorkspace,
    /// Anything unexpected. Logged with its cause; the client only learns that it happened.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A validation error about one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Validation {
            fields: vec![FieldError {
                field: field.to_owned(),
                message: message.clone(),
            }],
            message,
        }
    }

    /// Broken rules as a `422`, the first rule's message leading.
    pub fn rejected(problems: Vec<FieldError>) -> Self {
        let message = match problems.as_slice() {
            [] => "the request breaks a rule".to_owned(),
            [one] => one.message.clone(),
            [first, rest @ ..] => format!("{} (and {} more)", first.message, rest.len()),
        };
        Self::Validation {
            message,
            fields: problems,
        }
    }

    /// Broken shared rules as a `422`. The rules report ARM's field paths
    /// (`properties.traffic.blue`); the API's own fields are snake_case (`traffic.blue`).
    pub fn broken_rules(violations: impl IntoIterator<Item = RuleViolation>) -> Self {
        Self::rejected(
            violations
                .into_iter()
                .map(|v| FieldError {
                    field: api_field(&v.field),
                    message: v.message,
                })
                .collect(),
        )
    }

    /// A `409` for a name that is already in use.
    pub fn taken(field: &str, message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
            fields: vec![FieldError {
                field: field.to_owned(),
                message: format!("this {field} is taken"),
            }],
            current: None,
        }
    }

    /// A `409` for a traffic change based on a split that is no longer current; `current` is the
    /// split as it is now, so the caller can decide again.
    pub fn stale_traffic(current: &TrafficState) -> Self {
        Self::Conflict {
            message: "the traffic changed since you read it; here is the current split".into(),
            fields: Vec::new(),
            current: serde_json::to_value(current).ok(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated | Self::InvalidCredentials | Self::TokenRefused(_) => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden(_)
            | Self::CsrfFailed(_)
            | Self::PasswordChangeRequired
            | Self::NotWithToken
            | Self::LocalAccountsDisabled => StatusCode::FORBIDDEN,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Decision {
                forbidden: true, ..
            } => StatusCode::FORBIDDEN,
            Self::Decision { .. } => StatusCode::CONFLICT,
            Self::Conflict { .. } | Self::Frozen { .. } => StatusCode::CONFLICT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound | Self::UnknownPath => StatusCode::NOT_FOUND,
            // Azure's 4xx are the caller's problem and keep their status; anything else from the
            // workspace is a bad gateway.
            // ...except 401: Greenlight's own credential failed, which is not the caller's
            // sign-in (a browser would take a 401 for "signed out").
            Self::Workspace { status: 401, .. } => StatusCode::BAD_GATEWAY,
            Self::Workspace { status, .. } if (400..500).contains(status) => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            Self::Workspace { .. } | Self::WorkspaceUnreachable(_) => StatusCode::BAD_GATEWAY,
            Self::NoWorkspace => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable word clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::TokenRefused(_) => "invalid_token",
            Self::Forbidden(_) => "forbidden",
            Self::NotWithToken => "not_with_token",
            Self::PasswordChangeRequired => "password_change_required",
            Self::LocalAccountsDisabled => "local_accounts_disabled",
            Self::CsrfFailed(_) => "csrf_failed",
            Self::RateLimited(_) => "rate_limited",
            Self::Validation { .. } => "validation_failed",
            Self::Decision { code, .. } => code,
            Self::Conflict { .. } => "conflict",
            Self::Frozen { .. } => "frozen",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::NotFound | Self::UnknownPath => "not_found",
            Self::Workspace { .. } | Self::WorkspaceUnreachable(_) => "workspace_error",
            Self::NoWorkspace => "no_workspace",
            Self::Internal(_) => "internal",
        }
    }
}

/// The API's name for a field the shared rules name by its ARM path.
fn api_field(arm_field: &str) -> String {
    arm_field
        .replacen("properties.mirrorTraffic", "mirror_traffic", 1)
        .replacen("properties.traffic", "traffic", 1)
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { field, message } => Self::Conflict {
                fields: vec![FieldError {
                    field: field.to_owned(),
                    message: message.clone(),
                }],
                message,
                current: None,
            },
            StoreError::NotFound => Self::NotFound,
            StoreError::Database(err) => err.into(),
        }
    }
}

impl From<crate::change_requests::ChangeError> for ApiError {
    fn from(err: crate::change_requests::ChangeError) -> Self {
        use crate::change_requests::ChangeError;
        use shared::rollout::BreakGlassRefused;
        match err {
            ChangeError::Refused(refused) => Self::Decision {
                forbidden: refused.is_forbidden(),
                code: refused.code(),
                message: refused.to_string(),
            },
            ChangeError::BreakGlass(BreakGlassRefused::NotAdmin) => Self::Forbidden(Role::Admin),
            ChangeError::BreakGlass(BreakGlassRefused::Reason(field)) => {
                Self::rejected(vec![field])
            }
            ChangeError::BreakGlass(refused) => Self::invalid("reason", refused.to_string()),
            ChangeError::NotFound => Self::NotFound,
            ChangeError::Frozen(notice) => Self::Frozen {
                message: ChangeError::Frozen(notice.clone()).to_string(),
                notice,
            },
            ChangeError::Store(err) => err.into(),
            ChangeError::Workspace(err) => err.into(),
        }
    }
}

impl From<WorkspaceError> for ApiError {
    fn from(err: WorkspaceError) -> Self {
        match err {
            WorkspaceError::Arm { status: 404, .. } => Self::NotFound,
            WorkspaceError::Arm {
                status,
                code,
                message,
                ..
            } => Self::Workspace {
                status,
                code,
                message,
            },
            WorkspaceError::StaleTraffic { current } => {
                Self::stale_traffic(&TrafficState::of(&current))
            }
            WorkspaceError::OperationFailed { code, message } => Self::Workspace {
                status: 502,
                code,
                message,
            },
            WorkspaceError::Timeout(_) => Self::Workspace {
                status: 502,
                code: "WorkspaceUnavailable".into(),
                message: err.to_string(),
            },
            WorkspaceError::Transport(_)
            | WorkspaceError::Credential(_)
            | WorkspaceError::Unexpected(_) => Self::WorkspaceUnreachable(err),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            };
        }
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType(
                "send the body as JSON with Content-Type: application/json".into(),
            ),
            JsonRejection::JsonDataError(err) => {
                // serde's message names the field: "unknown field `mirrorTraffic`, expected
                // one of …", "missing field `password`", with the path to it in front.
                let text = err.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                    .unwrap_or(&text)
                    .to_owned();
                Self::Validation {
                    fields: shape_error_field(&detail)
                        .map(|field| {
                            vec![FieldError {
                                field,
                                message: detail.clone(),
                            }]
                        })
                        .unwrap_or_default(),
                    message: format!("the JSON body does not match the expected shape: {detail}"),
                }
            }
            other => Self::Validation {
                message: format!("the body is not valid JSON: {}", other.body_text()),
                fields: Vec::new(),
            },
        }
    }
}

/// The largest request body the API reads (axum's default limit, stated once).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The field a body-shape error is about, as a dotted path: `traffic.blue`, `mirrorTraffic`.
/// serde names it as `` unknown field `x` `` or `` missing field `x` `` after the path of the
/// object that holds it (`request_settings: unknown field …`).
fn shape_error_field(detail: &str) -> Option<String> {
    let (path, rest) = match detail.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => (Some(path), rest),
        _ => (None, detail),
    };
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| rest.strip_prefix(prefix))
        .and_then(|tail| tail.split('`').next());
    match (path.filter(|p| *p != "."), named) {
        // serde_path_to_error puts an unknown field itself at the end of the path.
        (Some(path), Some(name)) if path.rsplit('.').next() == Some(name) => Some(path.to_owned()),
        (Some(path), Some(name)) => Some(format!("{path}.{name}")),
        (None, Some(name)) => Some(name.to_owned()),
        (Some(path), None) => Some(path.to_owned()),
        (None, None) => None,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Internal(err) => {
                tracing::error!(error = ?err, "request failed");
                "something went wrong on our side; quote the request id when reporting it"
                    .to_owned()
            }
            Self::WorkspaceUnreachable(err) => {
                let request_id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
                tracing::error!(%request_id, error = %err, "the workspace could not be reached");
                self.to_string()
            }
            other => other.to_string(),
        };
        let current = match &self {
            Self::Conflict { current, .. } => current.clone(),
            Self::Frozen { notice, .. } => serde_json::to_value(notice).ok(),
            _ => None,
        };
        let fields = match &self {
            Self::Validation { fields, .. } | Self::Conflict { fields, .. } => fields.clone(),
            _ => Vec::new(),
        };
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code().to_owned(),
                message,
                fields,
                request_id: REQUEST_ID.try_with(Clone::clone).ok(),
                details: match &self {
                    Self::Workspace { code, message, .. } => Some(WorkspaceErrorDetails {
                        code: code.clone(),
                        message: message.clone(),
                    }),
                    _ => None,
                },
                current,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Self::TokenRefused(_) = &self {
            // RFC 6750: a refused bearer token says so, for clients that look.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
        }
        if let Self::RateLimited(wait) = &self {
            if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::error_details;

    #[test]
    fn plumbing_failures_answer_plainly_and_azures_answers_verbatim() {
        let internal = "tcp connect error: Connection refused (os error 111) to 10.0.0.7:8443";
        for err in [
            WorkspaceError::Transport(internal.into()),
            WorkspaceError::Credential(internal.into()),
            WorkspaceError::Unexpected(internal.into()),
        ] {
            let details = error_details(&err);
            assert!(!details.message.contains("10.0.0.7"), "{details:?}");
            let api = ApiError::from(err);
            assert_eq!(api.status(), StatusCode::BAD_GATEWAY);
            assert_eq!(api.code(), "workspace_error");
            assert!(!api.to_string().contains("10.0.0.7"), "{api}");
        }
        let azure = WorkspaceError::Arm {
            status: 400,
            code: "BadRequest".into(),
            message: "traffic must add up to 100".into(),
            target: None,
        };
        assert_eq!(error_details(&azure).message, "traffic must add up to 100");
        match ApiError::from(azure) {
            ApiError::Workspace { code, message, .. } => {
                assert_eq!(
                    (code.as_str(), message.as_str()),
                    ("BadRequest", "traffic must add up to 100")
                );
            }
            other => panic!("expected Azure's answer kept, got {other:?}"),
        }
    }

    #[test]
    fn a_body_shape_error_names_its_field_with_the_path_to_it() {
        assert_eq!(
            shape_error_field("unknown field `mirrorTraffic`, expected one of `traffic`, `mirror_traffic`, `version` at line 1 column 30").as_deref(),
            Some("mirrorTraffic")
        );
        assert_eq!(
            shape_error_field("request_settings: unknown field `timeout`, expected `request_timeout_ms` at line 1 column 9").as_deref(),
            Some("request_settings.timeout")
        );
        assert_eq!(
            shape_error_field(
                "request_settings.timeout: unknown field `timeout`, expected `request_timeout_ms`"
            )
            .as_deref(),
            Some("request_settings.timeout")
        );
        assert_eq!(
            shape_error_field("missing field `password` at line 1 column 20").as_deref(),
            Some("password")
        );
        assert_eq!(
            shape_error_field(
                "traffic.blue: invalid type: string \"x\", expected i64 at line 1 column 22"
            )
            .as_deref(),
            Some("traffic.blue")
        );
        assert_eq!(
            shape_error_field("invalid type: integer `1`, expected a map"),
            None
        );
    }
}
