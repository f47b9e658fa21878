//! `onlineEndpoints`: list, get, put, patch, delete, listKeys, regenerateKeys, token.

use super::error::{ArmFailure, ArmJson};
use super::{accepted, ControlState, WorkspacePath};
use crate::emulator::workspace::Accepted;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use shared::arm::{
    EndpointAuthKeys, EndpointAuthToken, KeyType, OnlineEndpoint, Page,
    RegenerateEndpointKeysRequest,
};

#[derive(Debug, Deserialize)]
pub struct EndpointPath {
    #[serde(flatten)]
    pub(super) workspace: WorkspacePath,
    pub(super) endpoint: String,
}

pub async fn list(
    State(state): State<ControlState>,
    Path(path): Path<WorkspacePath>,
) -> Json<Page<OnlineEndpoint>> {
    Json(Page {
        value: state.workspace.list_endpoints(&path.id()).await,
        next_link: None,
        extra: Default::default(),
    })
}

pub async fn get(
    State(state): State<ControlState>,
    Path(path): Path<EndpointPath>,
) -> Result<Json<OnlineEndpoint>, ArmFailure> {
    Ok(Json(
        state
            .workspace
            .get_endpoint(&path.workspace.id(), &path.endpoint)
            .await?,
    ))
}

pub async fn put(
    State(state): State<ControlState>,
    Path(path): Path<EndpointPath>,
    ArmJson(body): ArmJson<OnlineEndpoint>,
) -> Result<Response, ArmFailure> {
    let done = state
        .workspace
        .put_endpoint(&path.workspace.id(), &path.endpoint, body)
        .await?;
    Ok(accepted(&state, &path.workspace.subscription, done))
}

pub async fn patch(
    State(state): State<ControlState>,
    Path(path): Path<EndpointPath>,
    ArmJson(body): ArmJson<serde_json::Value>,
) -> Result<Response, ArmFailure> {
    let done = state
        .workspace
        .patch_endpoint(&path.workspace.id(), &path.endpoint, body)
        .await?;
    Ok(accepted(&state, &path.workspace.subscription, done))
}

pub async fn delete(
    State(state): State<ControlState>,
    Path(path): Path<EndpointPath>,
) -> Result<Response, ArmFailure> {
    let done = state
        .workspace
        .delete_endpoint(&path.workspace.id(), &path.endpoint)
        .await?;
    Ok(accepted(&state, &path.workspace.subscription, done))
}

pub async fn list_keys(
    State(state): State<ControlState>,
    Path(path): Path<EndpointPath>,
) -> Result<Json<EndpointAuthKeys>, ArmFailure> {
    let [primary, secondary] = state
        .workspace
        .keys(&path.workspace.id(), &path.endpoint)
        .await?;
    Ok(Json(EndpointAuthKeys {
        primary_key: Some(primary),
        secondary_key: Some(secondary),
        extra: Default::default(),
    }))
}

pub async fn regenerate_keys(
    State(state): State<ControlState>,
    Path(path): Path<EndpointPath>,
    ArmJson(body): ArmJson<RegenerateEndpointKeysRequest>,
) -> Result<Response, ArmFailure> {
    let secondary = match body.key_type {
        KeyType::Primary => false,
        KeyType::Secondary => true,
        other => {
            return Err(ArmFailure::invalid_field(
                "keyType",
                format!("keyType must be Primary or Secondary (got {other:?})"),
            ))
        }
    };
    let operation = state
        .workspace
        .regenerate_key(
            &path.workspace.id(),
            &path.endpoint,
            secondary,
            body.key_value,
        )
        .await?;
    Ok(accepted::<()>(
        &state,
        &path.workspace.subscription,
        Accepted::running(operation),
    ))
}

pub async fn token(
    State(state): State<ControlState>,
    Path(path): Path<EndpointPath>,
) -> Result<Json<EndpointAuthToken>, ArmFailure> {
    let (token, expiry, refresh_after) = state
        .workspace
        .token(&path.workspace.id(), &path.endpoint)
        .await?;
    Ok(Json(EndpointAuthToken {
        access_token: Some(token),
        expiry_time_utc: Some(expiry),
        refresh_after_time_utc: Some(refresh_after),
        token_type: Some("Bearer".into()),
        extra: Default::default(),
    }))
}
