//! The control plane: Azure Resource Manager routes for online endpoints, deployments, assets
//! and operation status, with ARM's `api-version` and bearer-token rules.

mod assets;
mod deployments;
mod endpoints;
pub mod error;
mod journal;
mod monitor;
mod operations;
mod storage;

use super::faults::{self, FaultSwitch, FAULTS_PATH};
use super::workspace::{Accepted, LocalWorkspace, LOCATION};
use crate::secret::{constant_time_eq, Secret};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use error::ArmFailure;
use serde::Deserialize;
use shared::arm::ApiVersion;
use std::sync::Arc;

/// The workspace part every resource path starts with.
pub const WORKSPACE: &str = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.MachineLearningServices/workspaces/{workspace}";

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ControlState {
    pub workspace: Arc<LocalWorkspace>,
    /// Where accepted writes are recorded (`writes.jsonl` in the state folder).
    pub journal_dir: std::path::PathBuf,
    pub token: Secret,
    /// `http://127.0.0.1:<port>` of this control plane, for operation URLs.
    pub base_url: String,
    /// Faults to inject into ARM calls (`PUT /faults`).
    pub faults: Arc<FaultSwitch>,
}

/// The path parameters that name a workspace.
#[derive(Debug, Deserialize)]
pub struct WorkspacePath {
    pub subscription: String,
    pub group: String,
    pub workspace: String,
}

impl WorkspacePath {
    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}",
            self.subscription, self.group, self.workspace
        )
    }
}

pub fn router(state: ControlState) -> Router {
    let endpoint = format!("{WORKSPACE}/onlineEndpoints/{{endpoint}}");
    let deployment = format!("{endpoint}/deployments/{{deployment}}");
    let operations = "/subscriptions/{subscription}/providers/Microsoft.MachineLearningServices/locations/{location}";
    Router::new()
        .route(WORKSPACE, get(get_workspace))
        .route(
            &format!("{WORKSPACE}/onlineEndpoints"),
            get(endpoints::list),
        )
        .route(
            &endpoint,
            get(endpoints::get)
                .put(endpoints::put)
                .patch(endpoints::patch)
                .delete(endpoints::delete),
        )
        .route(&format!("{endpoint}/listKeys"), post(endpoints::list_keys))
        .route(
            &format!("{endpoint}/regenerateKeys"),
            post(endpoints::regenerate_keys),
        )
        .route(&format!("{endpoint}/token"), post(endpoints::token))
        .route(
            &format!("{endpoint}/providers/Microsoft.Insights/metrics"),
            get(monitor::metrics),
        )
        .route(&format!("{endpoint}/deployments"), get(deployments::list))
        .route(
            &deployment,
            get(deployments::get)
                .put(deployments::put)
                .patch(deployments::patch)
                .delete(deployments::delete),
        )
        .route(&format!("{deployment}/getLogs"), post(deployments::logs))
        .route(&format!("{deployment}/skus"), get(deployments::skus))
        .route(&format!("{WORKSPACE}/datastores"), get(storage::list))
        .route(
            &format!("{WORKSPACE}/datastores/{{name}}"),
            get(storage::get),
        )
        .route(
            &format!("{WORKSPACE}/datastores/{{name}}/listSecrets"),
            post(storage::list_secrets),
        )
        .route(
            &format!("{WORKSPACE}/codes/{{name}}/versions/{{version}}/startPendingUpload"),
            post(storage::start_pending_upload),
        )
        .route(
            &format!("{WORKSPACE}/{{kind}}"),
            get(assets::list_containers),
        )
        .route(
            &format!("{WORKSPACE}/{{kind}}/{{name}}/versions"),
            get(assets::list_versions),
        )
        .route(
            &format!("{WORKSPACE}/{{kind}}/{{name}}/versions/{{version}}"),
            get(assets::get).put(assets::put),
        )
        .route(
            &format!("{operations}/mfeOperationsStatus/{{id}}"),
            get(operations::status),
        )
        .route(
            &format!("{operations}/mfeOperationResults/{{id}}"),
            get(operations::result),
        )
        .fallback(|| async { ArmFailure::no_such_path() })
        .layer(axum::middleware::from_fn_with_state(
            journal::Journal::in_dir(&state.journal_dir),
            journal::record_writes,
        ))
        // Outside the journal: a call the switch refuses was never accepted.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ))
        .layer(axum::middleware::from_fn(require_api_version))
        // The switch is the emulator's own, not an ARM resource: no api-version, no faults.
        .route(FAULTS_PATH, get(faults::show).put(faults::set))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .layer(axum::middleware::from_fn(stamp_request_id))
        .with_state(state)
}

/// ARM stamps every answer, refusals included, with `x-ms-request-id`: the id a client quotes to
/// support, and the one Greenlight records for a change that finished without an async operation.
async fn stamp_request_id(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-ms-request-id", id);
    }
    response
}

/// ARM requires `api-version`; any well-formed date version is served (clients pin old ones).
async fn require_api_version(request: Request, next: Next) -> Response {
    let version = request.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "api-version")
            .map(|(_, v)| v.to_owned())
    });
    match version {
        None => ArmFailure::missing_api_version().into_response(),
        Some(v) => match ApiVersion::parse(&v) {
            Ok(_) => next.run(request).await,
            Err(err) => ArmFailure::invalid_api_version(&v, &err).into_response(),
        },
    }
}

/// Every request carries `Authorization: Bearer <the emulator's token>`.
async fn require_token(
    State(state): State<ControlState>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        None => ArmFailure::missing_token().into_response(),
        Some(token)
            if constant_time_eq(token.trim().as_bytes(), state.token.expose().as_bytes()) =>
        {
            next.run(request).await
        }
        Some(_) => ArmFailure::invalid_token().into_response(),
    }
}

/// A workspace comes into being on first use; this answers like Azure's workspace GET.
async fn get_workspace(Path(path): Path<WorkspacePath>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "id": path.id(),
        "name": path.workspace,
        "type": "Microsoft.MachineLearningServices/workspaces",
        "location": LOCATION,
        "kind": "Default",
        "properties": {
            "friendlyName": path.workspace,
            "provisioningState": "Succeeded",
            "description": "Greenlight's local workspace",
        },
    }))
}

/// Azure's answer to a write: the status, the resource (if any), and the operation headers.
pub fn accepted<T: serde::Serialize>(
    state: &ControlState,
    subscription: &str,
    accepted: Accepted<T>,
) -> Response {
    let mut response = match accepted.resource {
        Some(resource) => (accepted.status, Json(resource)).into_response(),
        None => accepted.status.into_response(),
    };
    if let Some(id) = accepted.operation {
        let base = format!(
            "{}/subscriptions/{subscription}/providers/Microsoft.MachineLearningServices/locations/{LOCATION}",
            state.base_url
        );
        let version = "api-version=2024-04-01";
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        };
        // Locally an operation takes seconds: ask clients to poll every second, not every 30.
        set("retry-after", "1".into());
        if accepted.status == StatusCode::ACCEPTED {
            set(
                "location",
                format!("{base}/mfeOperationResults/{id}?{version}"),
            );
        } else {
            set(
                "azure-asyncoperation",
                format!("{base}/mfeOperationsStatus/{id}?{version}"),
            );
            set("x-ms-async-operation-timeout", "PT1H".into());
        }
    }
    response
}
