//! Typed path parameters. A workspace object's name in the URL is checked against Azure's name
//! rule before the handler runs, so a handler only ever holds a valid [`EndpointName`] or
//! [`DeploymentName`] and nothing odd is forwarded into an ARM URL; a broken rule answers `422`
//! naming the path field, in the error envelope.

use super::error::ApiError;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::Deserialize;
use shared::{DeploymentName, EndpointName, NameError, Username};
use std::str::FromStr;
use utoipa::IntoParams;

/// `/endpoints/{endpoint}/…`
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EndpointPath {
    /// The endpoint's name.
    #[param(value_type = String)]
    pub endpoint: EndpointName,
}

/// `/endpoints/{endpoint}/deployments/{deployment}/…`
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeploymentPath {
    /// The endpoint's name.
    #[param(value_type = String)]
    pub endpoint: EndpointName,
    /// The deployment's name.
    #[param(value_type = String)]
    pub deployment: DeploymentName,
}

/// `/users/{username}/…`
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    /// The account's user name.
    #[param(value_type = String)]
    pub username: Username,
}

/// The path's segments as sent, before their rules are checked.
#[derive(Debug, Deserialize)]
struct RawSegments {
    endpoint: String,
    deployment: Option<String>,
}

/// A name taken from a request (path or body), or a `422` naming `field` and the broken rule.
pub fn checked_name<N: FromStr<Err = NameError>>(field: &str, raw: &str) -> Result<N, ApiError> {
    raw.parse()
        .map_err(|err: NameError| ApiError::invalid(field, err.to_string()))
}

async fn segments<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<RawSegments, ApiError> {
    Path::<RawSegments>::from_request_parts(parts, state)
        .await
        .map(|Path(raw)| raw)
        .map_err(unreadable)
}

/// A path parameter that is not UTF-8 once percent-decoded (`%FF`) is bad input: `422` naming
/// it. Any other rejection comes from a route registered with the wrong extractor: a bug.
fn unreadable(rejection: PathRejection) -> ApiError {
    if let PathRejection::FailedToDeserializePathParams(err) = &rejection {
        if let ErrorKind::InvalidUtf8InPathParam { key } = err.kind() {
            return ApiError::invalid(key, "must be UTF-8 text once percent-decoded");
        }
    }
    ApiError::Internal(anyhow::anyhow!("path parameters: {rejection}"))
}

impl<S: Send + Sync> FromRequestParts<S> for EndpointPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = segments(parts, state).await?;
        Ok(Self {
            endpoint: checked_name("endpoint", &raw.endpoint)?,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for DeploymentPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = segments(parts, state).await?;
        let deployment = raw.deployment.ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("a deployment route without {{deployment}}"))
        })?;
        Ok(Self {
            endpoint: checked_name("endpoint", &raw.endpoint)?,
            deployment: checked_name("deployment", &deployment)?,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for UserPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(unreadable)?;
        let username =
            Username::parse(&raw).map_err(|err| ApiError::invalid("username", err.to_string()))?;
        Ok(Self { username })
    }
}

/// `/…/{id}` of one of Greenlight's own objects (an operation, a change request, a rollout).
/// Their ids are UUIDs: any other text names nothing, so it is a `404`, not a broken rule.
#[derive(Debug, Clone, Copy)]
pub struct IdPath(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Segment(raw) = Segment::from_request_parts(parts, state).await?;
        uuid::Uuid::parse_str(&raw)
            .map(Self)
            .map_err(|_| ApiError::NotFound)
    }
}

/// The one path parameter of a route whose value is looked up, not checked against a rule
/// (an id, an asset kind): text that is not UTF-8 once percent-decoded names nothing, `404`.
#[derive(Debug, Clone)]
pub struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(raw)) => Ok(Self(raw)),
            Err(rejection) => match unreadable(rejection) {
                ApiError::Validation { .. } => Err(ApiError::NotFound),
                bug => Err(bug),
            },
        }
    }
}
