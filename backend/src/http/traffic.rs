//! `/api/v1/endpoints/{endpoint}/traffic`: the live and mirrored split, read with a version and
//! changed only against the version the caller saw.

use super::error::ApiError;
use super::json::AppJson;
use super::workspace_access::{accepted, api_field, path_name, rejected};
use super::AppState;
use crate::auth::{Authenticated, Operator};
use crate::operations::{launch, Job};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use shared::api::{Operation, OperationKind, TrafficChange, TrafficState};
use shared::arm::OnlineEndpoint;
use shared::{ErrorEnvelope, FieldError};

/// The split of `endpoint` and its version.
pub fn state_of(endpoint: &OnlineEndpoint) -> TrafficState {
    let (traffic, mirror_traffic) = endpoint.properties.splits();
    TrafficState {
        version: shared::traffic_version(&traffic, &mirror_traffic),
        traffic,
        mirror_traffic,
    }
}

fn etag(version: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("\"{version}\"")).ok()
}

/// The version the caller based its change on: the body's, else `If-Match`'s.
fn expected_version(change: &TrafficChange, headers: &HeaderMap) -> Option<String> {
    change.version.clone().or_else(|| {
        headers
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.trim()
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .to_owned()
            })
            .filter(|v| !v.is_empty())
    })
}

/// The endpoint's live and mirror split, with its version (also as `ETag`).
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}/traffic",
    tag = "traffic",
    params(("endpoint" = String, Path, description = "The endpoint's name")),
    responses(
        (status = 200, body = TrafficState, headers(("ETag" = String, description = "The version"))),
        (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authenticated,
    Path(endpoint): Path<String>,
) -> Result<Response, ApiError> {
    let endpoint = path_name("endpoint", &endpoint)?;
    let current = state_of(&state.workspace()?.get_endpoint(&endpoint).await?);
    let tag = etag(&current.version);
    let mut response = AppJson(current).into_response();
    if let Some(tag) = tag {
        response.headers_mut().insert(header::ETAG, tag);
    }
    Ok(response)
}

/// Changes the live and mirror split. The change names the version it was based on (body
/// `version` or `If-Match`); if the split has changed since, or another change is under way,
/// the answer is `409` with the current split. Long-running: answers `202`.
#[utoipa::path(
    put,
    path = "/api/v1/endpoints/{endpoint}/traffic",
    tag = "traffic",
    params(
        ("endpoint" = String, Path, description = "The endpoint's name"),
        ("If-Match" = Option<String>, Header, description = "The version read, if not in the body"),
    ),
    request_body = TrafficChange,
    responses(
        (status = 202, description = "Applying; follow the operation", body = Operation),
        (status = 401, body = ErrorEnvelope),
        (status = 403, description = "Needs the operator role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "Stale version or a change under way; `current` holds the split", body = ErrorEnvelope),
        (status = 422, description = "The split breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn change(
    State(state): State<AppState>,
    auth: Authenticated<Operator>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    AppJson(change): AppJson<TrafficChange>,
) -> Result<Response, ApiError> {
    let name = path_name("endpoint", &endpoint)?;
    let Some(expected) = expected_version(&change, &headers) else {
        return Err(ApiError::invalid(
            "version",
            "version is required: send the version you read, in the body or as If-Match",
        ));
    };
    let client = state.workspace()?;
    let deployments = client.list_deployments(&name).await?;
    let names: Vec<&str> = deployments
        .iter()
        .filter_map(|d| d.name.as_deref())
        .collect();
    shared::check_traffic(&change.traffic, &change.mirror_traffic, &names).map_err(|found| {
        rejected(
            found
                .into_iter()
                .map(|v| FieldError {
                    field: api_field(&v.field),
                    message: v.message,
                })
                .collect(),
        )
    })?;
    let current = state_of(&client.get_endpoint(&name).await?);
    if current.version != expected {
        return Err(ApiError::Conflict {
            message: "the traffic changed since you read it; here is the current split".into(),
            fields: Vec::new(),
            current: Some(json!(current)),
        });
    }
    let seen = current.clone();
    let launched = launch(
        &state.pool,
        Job::new(
            OperationKind::TrafficChange,
            auth.session.user.username.as_str(),
            &name,
            None,
        )
        .before(json!(current))
        .request(json!({ "traffic": change.traffic, "mirror_traffic": change.mirror_traffic })),
        move || async move {
            let updated = client
                .update_traffic(
                    &name,
                    Some((&seen.traffic, &seen.mirror_traffic)),
                    change.traffic,
                    change.mirror_traffic,
                )
                .await?;
            Ok(json!(state_of(&updated)))
        },
    )
    .await;
    match launched {
        Ok(operation) => Ok(accepted(operation)),
        // Another change to this endpoint is running: the caller sees the split it started from.
        Err(err) => Err(match ApiError::from(err) {
            ApiError::Conflict {
                message, fields, ..
            } => ApiError::Conflict {
                message,
                fields,
                current: Some(json!(current)),
            },
            other => other,
        }),
    }
}
