//! `/api/v1/endpoints/{endpoint}/traffic`: the live and mirrored split, read with a version and
//! changed only against the version the caller saw.

use super::error::ApiError;
use super::json::AppJson;
use super::paths::EndpointPath;
use super::workspace_access::accepted;
use super::AppState;
use crate::auth::{Authenticated, Operator};
use crate::operations::Job;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use shared::api::{Operation, OperationKind, TrafficChange, TrafficState};
use shared::ErrorEnvelope;

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
    operation_id = "get_traffic",
    tag = "traffic",
    params(EndpointPath),
    responses(
        (status = 200, body = TrafficState, headers(("ETag" = String, description = "The version"))),
        (status = 401, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authenticated,
    EndpointPath { endpoint }: EndpointPath,
) -> Result<Response, ApiError> {
    let current = TrafficState::of(&state.workspace()?.get_endpoint(&endpoint).await?);
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
    operation_id = "change_traffic",
    tag = "traffic",
    params(
        EndpointPath,
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
    EndpointPath { endpoint: name }: EndpointPath,
    headers: HeaderMap,
    AppJson(change): AppJson<TrafficChange>,
) -> Result<Response, ApiError> {
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
    shared::check_traffic(&change.traffic, &change.mirror_traffic, &names)
        .map_err(ApiError::broken_rules)?;
    let current = TrafficState::of(&client.get_endpoint(&name).await?);
    if current.version != expected {
        return Err(ApiError::stale_traffic(&current));
    }
    let seen = current.clone();
    let launched = state
        .operations
        .launch(
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
                Ok(json!(TrafficState::of(&updated)))
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
