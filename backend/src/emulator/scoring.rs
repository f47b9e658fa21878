//! The data plane: each endpoint's scoring URI. Routes by the `azureml-model-deployment`
//! header or by the traffic weights, copies the mirrored share to the mirror deployment in the
//! background, and answers with Azure's status codes.

use super::instances::{ScoreError, ScoreReply};
use super::routing::{RoutingTable, Target};
use super::serve::Handler;
use crate::secret::{constant_time_eq, Secret};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Body as HttpBody, Incoming};
use shared::api::metrics::LocalWindow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::oneshot;

/// Header that names the deployment a request is for, and the one that answered.
pub const DEPLOYMENT_HEADER: &str = "azureml-model-deployment";
/// The caller's request id, echoed as `x-request-id` when sane.
const CLIENT_REQUEST_ID: &str = "x-ms-client-request-id";
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const DEPLOYMENT: HeaderName = HeaderName::from_static(DEPLOYMENT_HEADER);
/// Header carrying the scoring script's error on a 424.
pub const MODEL_ERROR_HEADER: &str = "ms-azureml-model-error-reason";
/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What the scoring router reads: the endpoints' routing state, and the workspace's own bearer
/// token, which the all-endpoints Prometheus text asks for.
#[derive(Debug, Clone)]
struct Plane {
    routes: Arc<RoutingTable>,
    token: Secret,
}

/// The scoring plane over `routes`. Scoring URIs are `/endpoints/{endpoint}/score`; each
/// endpoint's raw traffic samples are JSON at `/endpoints/{endpoint}/samples` (for the
/// endpoint's key or token, as scoring), every endpoint's counters Prometheus text at
/// `/metrics` (for the workspace's `token`).
pub fn plane(routes: Arc<RoutingTable>, token: Secret) -> ScoringPlane {
    let plane = Plane { routes, token };
    let router = Router::new()
        .route("/endpoints/{endpoint}/score", post(score_route))
        .route("/endpoints/{endpoint}/swagger.json", get(swagger))
        .route("/endpoints/{endpoint}/samples", get(endpoint_samples))
        .route("/metrics", get(prometheus))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(plane.clone());
    ScoringPlane { plane, router }
}

/// The scoring plane as served: `POST /endpoints/{endpoint}/score` goes straight to [`score`]
/// (no routing table, extractors or boxed body: it is the hot path), everything else, and a
/// scoring URI with a percent-encoded name, through the axum router.
#[derive(Debug, Clone)]
pub struct ScoringPlane {
    plane: Plane,
    router: Router,
}

impl Handler for ScoringPlane {
    async fn handle(self, request: hyper::Request<Incoming>) -> Response {
        // (a `Uri` clone shares its bytes: the name is borrowed, not copied)
        let uri = request.uri().clone();
        let endpoint = (request.method() == Method::POST)
            .then(|| scoring_uri_endpoint(uri.path()))
            .flatten();
        match endpoint {
            Some(endpoint) => score(&self.plane, endpoint, request).await,
            None => self.router.handle(request).await,
        }
    }
}

/// The endpoint named by a scoring URI's path, when it is one and needs no decoding.
fn scoring_uri_endpoint(path: &str) -> Option<&str> {
    let name = path.strip_prefix("/endpoints/")?.strip_suffix("/score")?;
    let plain = !name.is_empty() && !name.contains(['/', '%']);
    plain.then_some(name)
}

/// The 401 of a request without the endpoint's key or token.
fn unauthorized(request_id: HeaderValue) -> Response {
    refuse(
        StatusCode::UNAUTHORIZED,
        "missing or invalid credentials: send Authorization: Bearer <key or token>",
        request_id,
    )
}

/// The endpoint's raw traffic over `[start_ms, end_ms)` (default: the last hour):
/// every answered request per deployment, live and mirrored apart, and each mirrored
/// request's two answers. Answers and request excerpts are callers' data, so only those who
/// may score the endpoint may read them. Beside the window, each deployment's ready instances
/// (`ready_instances`), which the local workspace knows and Azure does not report.
async fn endpoint_samples(
    State(plane): State<Plane>,
    Path(endpoint): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(route) = plane.routes.get(&endpoint) else {
        return refuse(StatusCode::NOT_FOUND, "endpoint not found", samples_id());
    };
    if !bearer(&headers).is_some_and(|credential| route.authorizes(credential)) {
        return unauthorized(samples_id());
    }
    let (start_ms, end_ms) = match window_of(&query) {
        Ok(window) => window,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message, samples_id()),
    };
    let mut window = route.metrics.window(start_ms, end_ms);
    let ready_instances = route.ready_counts();
    for name in ready_instances.keys() {
        window.deployments.entry(name.clone()).or_default();
    }
    axum::Json(LocalWindow {
        window,
        ready_instances,
    })
    .into_response()
}

/// `start_ms` and `end_ms` of a samples query: milliseconds since the Unix epoch, the end
/// after the start; by default the last hour. The error names the field.
fn window_of(query: &HashMap<String, String>) -> Result<(i64, i64), String> {
    let field = |name: &str| -> Result<Option<i64>, String> {
        query
            .get(name)
            .map(|raw| {
                raw.trim().parse::<i64>().map_err(|_| {
                    format!("{name} must be milliseconds since the Unix epoch (got {raw:?})")
                })
            })
            .transpose()
    };
    let end_ms = field("end_ms")?.unwrap_or_else(super::metrics::now_ms);
    let start_ms = field("start_ms")?.unwrap_or(end_ms - super::metrics::ring::KEEP_MS);
    if start_ms > end_ms {
        return Err(format!(
            "start_ms must not be after end_ms ({start_ms} > {end_ms})"
        ));
    }
    Ok((start_ms, end_ms))
}

/// Every endpoint's metrics in Prometheus' text format, for the workspace's bearer token (a
/// scraper of every endpoint is an administrator of the workspace, not a caller of one endpoint).
async fn prometheus(State(plane): State<Plane>, headers: HeaderMap) -> Response {
    let token = plane.token.expose().as_bytes();
    let allowed = !token.is_empty()
        && bearer(&headers)
            .is_some_and(|credential| constant_time_eq(credential.as_bytes(), token));
    if !allowed {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing or invalid credentials: send Authorization: Bearer <the workspace's token>",
            HeaderValue::from_static("metrics"),
        );
    }
    let routes = plane.routes;
    let mut text = String::from(super::metrics::PROMETHEUS_HEADER);
    for route in routes.all() {
        route.metrics.write_prometheus(&route.name, &mut text);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    )
        .into_response()
}

/// A minimal OpenAPI document of the scoring route, as Azure serves at `swaggerUri`.
async fn swagger(State(plane): State<Plane>, Path(endpoint): Path<String>) -> Response {
    if plane.routes.get(&endpoint).is_none() {
        return refuse(
            StatusCode::NOT_FOUND,
            "endpoint not found",
            HeaderValue::from_static("swagger"),
        );
    }
    axum::Json(serde_json::json!({
        "openapi": "3.0.1",
        "info": { "title": format!("{endpoint} scoring"), "version": "1.0" },
        "paths": { format!("/endpoints/{endpoint}/score"): { "post": {
            "summary": "Score with the deployment chosen by traffic, or named in azureml-model-deployment",
            "security": [{ "bearer": [] }],
            "requestBody": { "content": { "application/json": {} } },
            "responses": { "200": { "description": "the model's answer" } }
        }}},
        "components": { "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } }
    }))
    .into_response()
}

/// The request id of the samples route's answers.
fn samples_id() -> HeaderValue {
    HeaderValue::from_static("samples")
}

/// An error answer in the shape Azure's scoring front end uses.
fn refuse(status: StatusCode, message: &str, request_id: HeaderValue) -> Response {
    let body = serde_json::json!({ "message": message });
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(REQUEST_ID, request_id);
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The caller's request id when it sent a sane one, else a fresh random (v4) UUID, formatted
/// on the stack.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(id) = headers
        .get(CLIENT_REQUEST_ID)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.to_str().is_ok())
    {
        return id.clone();
    }
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let text = id.hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// The scoring route as the axum router reaches it (a percent-encoded endpoint name).
async fn score_route(
    State(plane): State<Plane>,
    Path(endpoint): Path<String>,
    request: Request,
) -> Response {
    score(&plane, &endpoint, request).await
}

/// Scores a request to `endpoint`. Reads the endpoint's routing once (a snapshot), records the
/// answer in the chosen deployment's own atomic counters, and allocates only what the answer
/// needs.
async fn score<B>(plane: &Plane, endpoint: &str, request: hyper::Request<B>) -> Response
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let request_id = request_id(headers);
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
                request_id,
            )
        }
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "the request body was cut off before its end",
                request_id,
            )
        }
    };
    let Some(route) = plane.routes.get(endpoint) else {
        return refuse(StatusCode::NOT_FOUND, "endpoint not found", request_id);
    };
    let routing = route.routing();
    if !bearer(headers).is_some_and(|credential| routing.authorizes(credential)) {
        return unauthorized(request_id);
    }
    let named = headers.get(DEPLOYMENT_HEADER).and_then(|v| v.to_str().ok());
    let Some(Target {
        deployment,
        by_weight,
    }) = routing.pick(named)
    else {
        let message = match named {
            Some(name) => format!("deployment {name} not found on this endpoint"),
            None => "no deployment of this endpoint has live traffic".to_owned(),
        };
        return refuse(StatusCode::NOT_FOUND, &message, request_id);
    };
    // The mirror gets the live answer once there is one, to compare outputs.
    let mut live_answer = None;
    if by_weight {
        if let Some(mirror) = routing.draw_mirror() {
            let (tx, rx) = oneshot::channel();
            live_answer = Some(tx);
            let live = deployment.name.clone();
            tokio::spawn(mirror_request(route, mirror, live, body.clone(), rx));
        }
    }
    let started = Instant::now();
    let result = deployment.pool.score(body).await;
    if let (Some(tx), Ok(reply)) = (live_answer, &result) {
        let _ = tx.send(reply.body.clone());
    }
    let mut response = answer(result, request_id);
    deployment
        .metrics
        .record_live(response.status().as_u16(), started.elapsed());
    response
        .headers_mut()
        .insert(DEPLOYMENT, deployment.header.clone());
    response
}

/// Turns an instance's answer into the client's response.
fn answer(result: Result<ScoreReply, ScoreError>, request_id: HeaderValue) -> Response {
    match result {
        Ok(reply) => {
            let mut response = Response::new(Body::from(reply.body));
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert(REQUEST_ID, request_id);
            response
        }
        Err(error) => failure(&error, request_id),
    }
}

/// The client's response to a request the model did not answer.
fn failure(error: &ScoreError, request_id: HeaderValue) -> Response {
    match error {
        ScoreError::Timeout => refuse(
            StatusCode::REQUEST_TIMEOUT,
            "the request exceeded the deployment's request timeout",
            request_id,
        ),
        ScoreError::ModelError(reason) => {
            let mut response = refuse(
                StatusCode::FAILED_DEPENDENCY,
                &format!("the model raised an error: {reason}"),
                request_id,
            );
            if let Ok(value) = HeaderValue::from_str(reason) {
                response.headers_mut().insert(MODEL_ERROR_HEADER, value);
            }
            response
        }
        ScoreError::Overloaded => refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests are pending for this deployment; retry later or add instances",
            request_id,
        ),
        ScoreError::NoInstance => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "no instance of the deployment is ready",
            request_id,
        ),
        ScoreError::Unavailable(_) => refuse(
            StatusCode::BAD_GATEWAY,
            "the deployment's instance did not answer",
            request_id,
        ),
    }
}

/// Sends a copy of a live request to the mirror deployment, discards its answer and records
/// its status and latency, and both answers (the live one from `live_deployment`) to compare.
async fn mirror_request(
    route: Arc<super::routing::EndpointRoute>,
    mirror: Target,
    live_deployment: String,
    body: Bytes,
    live_answer: oneshot::Receiver<Bytes>,
) {
    let mirror = mirror.deployment;
    let started = Instant::now();
    let mirrored = mirror.pool.score(body.clone()).await;
    let status = match &mirrored {
        Ok(_) => StatusCode::OK,
        Err(error) => failure(error, HeaderValue::from_static("mirror")).status(),
    };
    mirror
        .metrics
        .record_mirrored(status.as_u16(), started.elapsed());
    if let (Ok(mirror_reply), Ok(live)) = (mirrored, live_answer.await) {
        route.metrics.record_pair(
            &live_deployment,
            &mirror.name,
            &body,
            &live,
            &mirror_reply.body,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::scoring_uri_endpoint;

    #[test]
    fn only_plain_scoring_uris_take_the_hot_path() {
        assert_eq!(
            scoring_uri_endpoint("/endpoints/my-ep/score"),
            Some("my-ep")
        );
        for other in [
            "/endpoints//score",
            "/endpoints/my%2Dep/score",
            "/endpoints/a/b/score",
            "/endpoints/my-ep/samples",
            "/endpoints/my-ep/score/",
            "/metrics",
        ] {
            assert_eq!(scoring_uri_endpoint(other), None, "{other}");
        }
    }
}
