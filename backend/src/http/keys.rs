//! `/api/v1/endpoints/{endpoint}/keys`: masked for everyone; in clear, or regenerated, only for
//! operators, and every such act is audited.

use super::error::ApiError;
use super::json::AppJson;
use super::paths::EndpointPath;
use super::workspace_access::start;
use super::AppState;
use crate::audit::{self, AuditEvent};
use crate::auth::{Authenticated, Operator};
use crate::operations::Job;
use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};
use shared::api::{
    mask_key, EndpointKeys, KeyName, Operation, OperationKind, RegenerateKeyRequest,
};
use shared::arm::{EndpointAuthKeys, KeyType};
use shared::audit::AuditAction;
use shared::ErrorEnvelope;

fn keys_of(keys: EndpointAuthKeys, masked: bool) -> EndpointKeys {
    let show = |key: Option<String>| {
        let key = key.unwrap_or_default();
        if masked {
            mask_key(&key)
        } else {
            key
        }
    };
    EndpointKeys {
        primary_key: show(keys.primary_key),
        secondary_key: show(keys.secondary_key),
        masked,
    }
}

/// The endpoint's keys, masked to their last four characters.
#[utoipa::path(
    get,
    path = "/api/v1/endpoints/{endpoint}/keys",
    operation_id = "get_keys",
    tag = "keys",
    params(EndpointPath),
    responses(
        (status = 200, body = EndpointKeys),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn masked(
    State(state): State<AppState>,
    _auth: Authenticated,
    EndpointPath { endpoint }: EndpointPath,
) -> Result<AppJson<EndpointKeys>, ApiError> {
    let keys = state.workspace()?.list_keys(&endpoint).await?;
    Ok(AppJson(keys_of(keys, true)))
}

/// The endpoint's keys in clear. The audit log records who saw them (never the keys).
#[utoipa::path(
    post,
    path = "/api/v1/endpoints/{endpoint}/keys/reveal",
    operation_id = "reveal_keys",
    tag = "keys",
    params(EndpointPath),
    responses(
        (status = 200, body = EndpointKeys),
        (status = 403, description = "Needs the operator role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn reveal(
    State(state): State<AppState>,
    auth: Authenticated<Operator>,
    EndpointPath { endpoint }: EndpointPath,
) -> Result<AppJson<EndpointKeys>, ApiError> {
    let keys = state.workspace()?.list_keys(&endpoint).await?;
    // Recorded before the keys leave: no audit row, no keys.
    let mut tx = state.pool.begin().await?;
    audit::record(
        &mut tx,
        &AuditEvent {
            actor: auth.session.user.username.to_string(),
            action: AuditAction::KeysReveal,
            target: endpoint.to_string(),
            details: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(AppJson(keys_of(keys, false)))
}

/// Replaces one of the endpoint's keys; clients using it stop working. Long-running: `202`.
#[utoipa::path(
    post,
    path = "/api/v1/endpoints/{endpoint}/keys/regenerate",
    operation_id = "regenerate_key",
    tag = "keys",
    params(EndpointPath),
    request_body = RegenerateKeyRequest,
    responses(
        (status = 202, description = "Regenerating; follow the operation", body = Operation),
        (status = 403, description = "Needs the operator role", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    )
)]
pub async fn regenerate(
    State(state): State<AppState>,
    auth: Authenticated<Operator>,
    EndpointPath { endpoint: name }: EndpointPath,
    AppJson(request): AppJson<RegenerateKeyRequest>,
) -> Result<Response, ApiError> {
    let client = state.workspace()?;
    // Refuse at once what the workspace would refuse later (no such endpoint).
    client.get_endpoint(&name).await?;
    let key = match request.key {
        KeyName::Primary => KeyType::Primary,
        KeyName::Secondary => KeyType::Secondary,
    };
    start(
        &state,
        Job::new(
            OperationKind::KeysRegenerate,
            auth.session.user.username.as_str(),
            &name,
            None,
        )
        .request(json!(request)),
        move || async move {
            client.regenerate_key(&name, key).await?;
            Ok(Value::Null)
        },
    )
    .await
}
