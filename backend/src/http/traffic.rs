//! `/api/v1/endpoints/{endpoint}/traffic`: the live and mirrored split, read with a version; a
//! change is asked for against the version the caller saw and waits for approval.

use super::change_requests::actor;
use super::error::ApiError;
use super::json::AppJson;
use super::paths::EndpointPath;
use super::workspace_access::requested;
use super::AppState;
use crate::auth::{Authenticated, Operator};
use crate::change_requests::request;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use shared::api::change_requests::{ChangeRequestDetail, TrafficChangeRequest};
use shared::api::TrafficState;
use shared::rollout::{Change, TrafficSplit};
use shared::ErrorEnvelope;

fn etag(version: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("\"{version}\"")).ok()
}

/// The version the caller based its change on: the body's, else `If-Match`'s.
fn expected_version(body: Option<&str>, headers: &HeaderMap) -> Option<String> {
    body.map(str::to_owned).or_else(|| {
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

/// Asks to change the live and mirror split: answers `202` with the change request, which is
/// applied once the endpoint's required approvers (not the requester) approved it. The change
/// names the version it was based on (body `version` or `If-Match`); if the split has changed
/// since, the answer is `409` with the current split. With `break_glass` an admin applies it at
/// once, with the reason audited as such.
#[utoipa::path(
    put,
    path = "/api/v1/endpoints/{endpoint}/traffic",
    operation_id = "change_traffic",
    tag = "traffic",
    params(
        EndpointPath,
        ("If-Match" = Option<String>, Header, description = "The version read, if not in the body"),
    ),
    request_body = TrafficChangeRequest,
    responses(
        (status = 202, description = "Requested; the change request waits for approval", body = ChangeRequestDetail),
        (status = 403, description = "Needs the operator role (break-glass: admin)", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "Stale version; `current` holds the split", body = ErrorEnvelope),
        (status = 422, description = "The split or the reason breaks a rule", body = ErrorEnvelope),
    )
)]
pub async fn change(
    State(state): State<AppState>,
    auth: Authenticated<Operator>,
    EndpointPath { endpoint: name }: EndpointPath,
    headers: HeaderMap,
    AppJson(change): AppJson<TrafficChangeRequest>,
) -> Result<Response, ApiError> {
    let Some(expected) = expected_version(change.version.as_deref(), &headers) else {
        return Err(ApiError::invalid(
            "version",
            "version is required: send the version you read, in the body or as If-Match",
        ));
    };
    change.check().map_err(ApiError::rejected)?;
    let ctx = state.change_context()?;
    let deployments = ctx.workspace.list_deployments(&name).await?;
    let names: Vec<&str> = deployments
        .iter()
        .filter_map(|d| d.name.as_deref())
        .collect();
    shared::check_traffic(&change.traffic, &change.mirror_traffic, &names)
        .map_err(ApiError::broken_rules)?;
    let current = TrafficState::of(&ctx.workspace.get_endpoint(&name).await?);
    if current.version != expected {
        return Err(ApiError::stale_traffic(&current));
    }
    let after = TrafficSplit {
        traffic: change.traffic,
        mirror_traffic: change.mirror_traffic,
    };
    let detail = request(
        &ctx,
        &actor(&auth.session),
        &name,
        Change::Traffic { after },
        current.into(),
        &change.reason,
        change.break_glass,
    )
    .await?;
    Ok(requested(detail))
}
