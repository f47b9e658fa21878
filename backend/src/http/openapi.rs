//! The OpenAPI document, generated from the handlers' annotations, plus the error statuses
//! the shared machinery answers for every operation of a kind (see [`document_shared_errors`]).

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Greenlight",
        description = "Safe rollouts of ML online endpoints. Every state-changing request needs \
                       the session cookie and the `x-csrf-token` header (see docs/API.md)."
    ),
    modifiers(&SessionCookie),
    tags(
        (name = "health", description = "Liveness of this instance"),
        (name = "session", description = "Signing in and out"),
        (name = "users", description = "Local accounts"),
        (name = "endpoints", description = "Online endpoints of the workspace"),
        (name = "deployments", description = "The model versions behind an endpoint"),
        (name = "traffic", description = "Live and mirrored split, changed against a version"),
        (name = "keys", description = "Endpoint keys: masked, revealed, regenerated"),
        (name = "assets", description = "Registered models, environments and code"),
        (name = "operations", description = "Long-running work that answered 202"),
        (name = "events", description = "The live feed (Server-Sent Events)"),
        (name = "audit", description = "The tamper-evident audit log"),
        (name = "tokens", description = "API tokens for scripts: `Authorization: Bearer glt_…`"),
        (name = "webhooks", description = "Outgoing webhooks and their delivery log"),
    )
)]
pub struct ApiDoc;

struct SessionCookie;

impl Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::session::COOKIE_NAME,
            ))),
        );
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(utoipa::openapi::security::Http::new(
                utoipa::openapi::security::HttpAuthScheme::Bearer,
            )),
        );
    }
}

/// The operations anyone may call without signing in (the rest take `Authenticated<R>`).
/// `tests/api/authorization.rs` holds the document to the authorization matrix.
pub const PUBLIC_OPERATIONS: [&str; 5] = [
    "get_health",
    "sign_in",
    "get_sign_in_methods",
    "start_sso",
    "finish_sso",
];

/// Operations that call the workspace (Azure ML or the local one): `503 no_workspace` on an
/// instance without one, `502` when it fails or cannot be reached. (Azure's own 4xx keep their
/// status; which ones Azure sends is its business, so they are described in docs/API.md.)
const WORKSPACE_CALLS: [&str; 21] = [
    "list_assets",
    "list_endpoints",
    "get_endpoint",
    "create_endpoint",
    "delete_endpoint",
    "list_deployments",
    "get_deployment",
    "create_deployment",
    "scale_deployment",
    "delete_deployment",
    "get_sample_request",
    "get_deployment_logs",
    "get_endpoint_metrics",
    "get_traffic",
    "change_traffic",
    "invoke_endpoint",
    "get_keys",
    "reveal_keys",
    "regenerate_key",
    "approve_change_request",
    "start_rollout",
];

/// Operations that only name the workspace (its id scopes what they read or record): `503`
/// without one, and no call that could fail.
const WORKSPACE_NAMED: [&str; 9] = [
    "get_policy",
    "set_policy",
    "get_endpoint_freeze",
    "list_rollouts",
    "reject_change_request",
    "pause_rollout",
    "resume_rollout",
    "abort_rollout",
    "rollback_rollout",
];

/// Operations that read their query string leniently instead of through `AppQuery`: the
/// single sign-on callback answers every refusal with a redirect to the sign-in page.
const LENIENT_QUERY: [&str; 1] = ["finish_sso"];

/// Path parameters that hold a workspace name or a user name: a broken name rule is a `422`
/// naming the parameter (`http::paths`). Greenlight's own ids (`{id}`, UUIDs) and the asset
/// `{kind}` name nothing when malformed: `404`.
const NAMED_PATH_PARAMETERS: [&str; 3] = ["endpoint", "deployment", "username"];

/// Adds, to every operation, the error statuses that the machinery in front of its handler
/// answers, in the error envelope, so the document lists every status the API really returns
/// without each handler repeating them. A status the handler documents keeps its description
/// (an empty one is filled in).
///
/// - `401`: every request passes `middleware::load_session`, which refuses an `Authorization`
///   header that is not a valid API token; an operation that is not public also refuses a
///   caller who is not signed in (`Authenticated<R>`, or the CSRF guard for writes).
/// - `403`: `Authenticated<R>` refuses a role below `R`, a session that must still change its
///   one-time password, and an API token on a session's own operations; the CSRF guard refuses
///   any write (sign-in too) without a matching `x-csrf-token` header or from another origin.
/// - `413`, `415`, `422`: `AppJson` refuses a body over the limit, without
///   `Content-Type: application/json`, or that is not JSON of the operation's shape.
/// - `422`: `AppQuery` refuses a query string of the wrong shape, and the typed path
///   parameters a name that breaks its rule; `404` for an `{id}` that is no UUID.
/// - `503` / `502`: `AppState::workspace` without a workspace, and its failures (see
///   [`WORKSPACE_CALLS`]).
pub fn document_shared_errors(openapi: &mut utoipa::openapi::OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            (&mut item.get, false),
            (&mut item.post, true),
            (&mut item.put, true),
            (&mut item.patch, true),
            (&mut item.delete, true),
        ];
        for (operation, write) in operations {
            if let Some(operation) = operation {
                for (status, description) in shared_errors(operation, write) {
                    let responses = &mut operation.responses.responses;
                    match responses.get_mut(status) {
                        Some(RefOr::T(existing)) if existing.description.is_empty() => {
                            existing.description = description;
                        }
                        Some(_) => {}
                        None => {
                            let response = RefOr::T(error_response(description));
                            responses.insert(status.to_owned(), response);
                        }
                    }
                }
                describe_undescribed(&mut operation.responses.responses);
            }
        }
    }
}

/// Gives a response its status's reason phrase ("Not Found") where the handler documented the
/// status without a description: OpenAPI requires one, and an empty one tells a reader nothing.
fn describe_undescribed(responses: &mut std::collections::BTreeMap<String, RefOr<Response>>) {
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(response) = response {
            if response.description.is_empty() {
                let reason = status
                    .parse::<u16>()
                    .ok()
                    .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
                    .and_then(|code| code.canonical_reason());
                response.description = reason.unwrap_or("See the error envelope").to_owned();
            }
        }
    }
}

/// The statuses, with their descriptions, that the shared machinery can answer for `operation`
/// (`write`: not a GET).
fn shared_errors(operation: &Operation, write: bool) -> Vec<(&'static str, String)> {
    let id = operation.operation_id.as_deref().unwrap_or_default();
    let public = PUBLIC_OPERATIONS.contains(&id);
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let in_path = |names: &[&str]| {
        parameters
            .iter()
            .any(|p| p.parameter_in == ParameterIn::Path && names.contains(&p.name.as_str()))
    };
    let named_path = in_path(&NAMED_PATH_PARAMETERS);
    let id_path = in_path(&["id", "kind"]);
    let query = !LENIENT_QUERY.contains(&id)
        && parameters
            .iter()
            .any(|p| p.parameter_in == ParameterIn::Query);
    let json_body = operation
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.contains_key("application/json"));

    let mut shared: Vec<(&'static str, String)> = Vec::new();
    shared.push((
        "401",
        if public {
            "The `Authorization` header carries no valid API token".into()
        } else {
            "Not signed in, or the API token is refused".into()
        },
    ));
    let mut refusals = Vec::new();
    if !public {
        refusals.push(
            "the role is too low, the one-time password must be changed first, or an API \
             token may not do this",
        );
    }
    if write {
        refusals.push("the `x-csrf-token` header is missing or wrong, or the origin is foreign");
    }
    if !refusals.is_empty() {
        shared.push(("403", capitalized(&refusals.join("; or "))));
    }
    if id_path {
        shared.push(("404", "No such resource".into()));
    }
    if json_body {
        shared.push(("413", "The body is larger than the API accepts".into()));
        shared.push((
            "415",
            "The body is not sent as `Content-Type: application/json`".into(),
        ));
    }
    if WORKSPACE_CALLS.contains(&id) {
        shared.push(("502", "The workspace failed or could not be reached".into()));
    }
    if WORKSPACE_CALLS.contains(&id) || WORKSPACE_NAMED.contains(&id) {
        shared.push(("503", "No workspace is configured".into()));
    }
    let mut invalid = Vec::new();
    if json_body {
        invalid.push("the body is not JSON of the expected shape");
    }
    if query {
        invalid.push("the query string is not of the expected shape");
    }
    if named_path {
        invalid.push("a name in the path breaks its rule");
    }
    if !invalid.is_empty() {
        shared.push(("422", capitalized(&invalid.join("; or "))));
    }
    shared
}

/// A response in the error envelope.
fn error_response(description: String) -> Response {
    let mut response = Response::new(description);
    response.content.insert(
        "application/json".into(),
        Content::new(Some(Ref::from_schema_name("ErrorEnvelope"))),
    );
    response
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
