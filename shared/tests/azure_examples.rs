//! The ARM types against Azure's own public examples (`tests/fixtures/`, see its README).
//!
//! Every request `parameters.body` and every `responses.*.body` of every example must
//! deserialize into its typed model and serialize back to the same JSON, with no field left to
//! the `extra` catch-all (so a misspelt field name can't hide there). Every fixture file must be
//! mapped below: a new example without a mapping fails the test instead of being skipped.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use shared::arm::{
    CodeVersion, CodeVersionProperties, ContainerType, DeploymentLogs, DeploymentLogsRequest,
    EndpointAuthKeys, EndpointAuthToken, EndpointComputeType, EnvironmentVersion,
    EnvironmentVersionProperties, KeyType, ModelVersion, ModelVersionProperties, OnlineDeployment,
    OnlineDeploymentProperties, OnlineEndpoint, OnlineEndpointProperties, Page, PartialSku,
    PartialTrackedResource, ProvisioningState, RegenerateEndpointKeysRequest, SkuResource, SkuTier,
    TrackedResource,
};
use shared::limits::parse_iso8601_duration;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

type Extra = BTreeMap<String, Value>;

/// Lists, by JSON path, every field that ended up in an `extra` map instead of a typed field.
trait Modelled {
    fn unmodelled(&self, at: &str, out: &mut Vec<String>);
}

fn extra(map: &Extra, at: &str, out: &mut Vec<String>) {
    out.extend(map.keys().map(|k| format!("{at}.{k}")));
}

fn nested<T: Modelled>(value: &Option<T>, at: &str, out: &mut Vec<String>) {
    if let Some(v) = value {
        v.unmodelled(at, out);
    }
}

impl<P: Modelled> Modelled for TrackedResource<P> {
    fn unmodelled(&self, at: &str, out: &mut Vec<String>) {
        extra(&self.extra, at, out);
        if let Some(sku) = &self.sku {
            extra(&sku.extra, &format!("{at}.sku"), out);
        }
        if let Some(system_data) = &self.system_data {
            extra(&system_data.extra, &format!("{at}.systemData"), out);
        }
        self.properties.unmodelled(&format!("{at}.properties"), out);
    }
}

impl<T: Modelled> Modelled for Page<T> {
    fn unmodelled(&self, at: &str, out: &mut Vec<String>) {
        extra(&self.extra, at, out);
        for (i, item) in self.value.iter().enumerate() {
            item.unmodelled(&format!("{at}.value[{i}]"), out);
        }
    }
}

impl Modelled for OnlineEndpointProperties {
    fn unmodelled(&self, at: &str, out: &mut Vec<String>) {
        extra(&self.extra, at, out);
        nested(&self.keys, &format!("{at}.keys"), out);
    }
}

impl Modelled for OnlineDeploymentProperties {
    fn unmodelled(&self, at: &str, out: &mut Vec<String>) {
        extra(&self.extra, at, out);
        if let Some(c) = &self.code_configuration {
            extra(&c.extra, &format!("{at}.codeConfiguration"), out);
        }
        if let Some(s) = &self.scale_settings {
            extra(&s.extra, &format!("{at}.scaleSettings"), out);
        }
        if let Some(r) = &self.request_settings {
            extra(&r.extra, &format!("{at}.requestSettings"), out);
        }
        if let Some(p) = &self.liveness_probe {
            extra(&p.extra, &format!("{at}.livenessProbe"), out);
        }
        if let Some(p) = &self.readiness_probe {
            extra(&p.extra, &format!("{at}.readinessProbe"), out);
        }
        if let Some(c) = &self.container_resource_requirements {
            let at = format!("{at}.containerResourceRequirements");
            extra(&c.extra, &at, out);
            for (name, s) in [
                ("containerResourceRequests", &c.container_resource_requests),
                ("containerResourceLimits", &c.container_resource_limits),
            ] {
                if let Some(s) = s {
                    extra(&s.extra, &format!("{at}.{name}"), out);
                }
            }
        }
    }
}

impl Modelled for ModelVersionProperties {
    fn unmodelled(&self, at: &str, out: &mut Vec<String>) {
        extra(&self.extra, at, out);
        for (name, flavor) in self.flavors.iter().flatten() {
            extra(&flavor.extra, &format!("{at}.flavors.{name}"), out);
        }
    }
}

impl Modelled for EnvironmentVersionProperties {
    fn unmodelled(&self, at: &str, out: &mut Vec<String>) {
        extra(&self.extra, at, out);
        if let Some(b) = &self.build {
            extra(&b.extra, &format!("{at}.build"), out);
        }
        if let Some(c) = &self.inference_config {
            let at = format!("{at}.inferenceConfig");
            extra(&c.extra, &at, out);
            for (name, route) in [
                ("livenessRoute", &c.liveness_route),
                ("readinessRoute", &c.readiness_route),
                ("scoringRoute", &c.scoring_route),
            ] {
                if let Some(r) = route {
                    extra(&r.extra, &format!("{at}.{name}"), out);
                }
            }
        }
    }
}

impl Modelled for CodeVersionProperties {
    fn unmodelled(&self, at: &str, out: &mut Vec<String>) {
        extra(&self.extra, at, out);
    }
}

impl Modelled for PartialTrackedResource {
    fn unmodelled(&self, at: &str, out: &mut Vec<String>) {
        extra(&self.extra, at, out);
        if let Some(sku) = &self.sku {
            extra(&sku.extra, &format!("{at}.sku"), out);
        }
    }
}

impl Modelled for SkuResource {
    fn unmodelled(&self, at: &str, out: &mut Vec<String>) {
        extra(&self.extra, at, out);
        if let Some(s) = &self.sku {
            extra(&s.extra, &format!("{at}.sku"), out);
        }
        if let Some(c) = &self.capacity {
            extra(&c.extra, &format!("{at}.capacity"), out);
        }
    }
}

macro_rules! flat_modelled {
    ($($t:ty),+) => {$(
        impl Modelled for $t {
            fn unmodelled(&self, at: &str, out: &mut Vec<String>) {
                extra(&self.extra, at, out);
            }
        }
    )+};
}

flat_modelled!(
    EndpointAuthKeys,
    EndpointAuthToken,
    RegenerateEndpointKeysRequest,
    DeploymentLogsRequest,
    DeploymentLogs
);

/// A free-form body (the data-plane scoring request) has no model to miss fields.
impl Modelled for Value {
    fn unmodelled(&self, _at: &str, _out: &mut Vec<String>) {}
}

/// Deserializes `body` as `T`, checks that nothing fell into `extra`, and that serializing gives
/// back the same JSON value.
fn round_trip<T>(body: &Value) -> Result<(), String>
where
    T: DeserializeOwned + Serialize + Modelled,
{
    let typed: T = serde_json::from_value(body.clone()).map_err(|e| {
        format!(
            "does not deserialize as {}: {e}",
            std::any::type_name::<T>()
        )
    })?;
    let mut unmodelled = Vec::new();
    typed.unmodelled("body", &mut unmodelled);
    if !unmodelled.is_empty() {
        return Err(format!("fields left to `extra`: {unmodelled:?}"));
    }
    let back = serde_json::to_value(&typed).map_err(|e| format!("does not serialize: {e}"))?;
    if &back != body {
        return Err(format!(
            "serializes to a different value:\n  sent: {body}\n  back: {back}"
        ));
    }
    Ok(())
}

type Check = fn(&Value) -> Result<(), String>;

/// What a fixture holds.
enum Fixture {
    /// An ARM example: `parameters.body` (if any) is a `request`, every `responses.*.body` is a
    /// `response`. `None` means the example has no such body.
    Arm {
        request: Option<Check>,
        response: Option<Check>,
    },
    /// The whole file is one body.
    Body(Check),
}

use Fixture::{Arm, Body};

/// Every fixture file, relative to `tests/fixtures/`, and the types its bodies must parse as.
fn fixtures() -> Vec<(&'static str, Fixture)> {
    let endpoint: Check = round_trip::<OnlineEndpoint>;
    let deployment: Check = round_trip::<OnlineDeployment>;
    let patch: Check = round_trip::<PartialTrackedResource>;
    vec![
        // Online endpoints.
        (
            "azure-rest-examples/Workspace/OnlineEndpoint/createOrUpdate.json",
            Arm {
                request: Some(endpoint),
                response: Some(endpoint),
            },
        ),
        (
            "azure-rest-examples/Workspace/OnlineEndpoint/get.json",
            Arm {
                request: None,
                response: Some(endpoint),
            },
        ),
        (
            "azure-rest-examples/2024-10-01/Workspace/OnlineEndpoint/update.json",
            Arm {
                request: Some(patch),
                response: Some(endpoint),
            },
        ),
        (
            "azure-rest-examples/Workspace/OnlineEndpoint/delete.json",
            Arm {
                request: None,
                response: None,
            },
        ),
        (
            "azure-rest-examples/Workspace/OnlineEndpoint/list.json",
            Arm {
                request: None,
                response: Some(round_trip::<Page<OnlineEndpoint>>),
            },
        ),
        (
            "azure-rest-examples/2025-04-01/Workspace/OnlineEndpoint/listKeys.json",
            Arm {
                request: None,
                response: Some(round_trip::<EndpointAuthKeys>),
            },
        ),
        (
            "azure-rest-examples/Workspace/OnlineEndpoint/regenerateKeys.json",
            Arm {
                request: Some(round_trip::<RegenerateEndpointKeysRequest>),
                response: None,
            },
        ),
        (
            "azure-rest-examples/Workspace/OnlineEndpoint/getToken.json",
            Arm {
                request: None,
                response: Some(round_trip::<EndpointAuthToken>),
            },
        ),
        // Online deployments.
        (
            "azure-rest-examples/OnlineDeployment/ManagedOnlineDeployment/createOrUpdate.json",
            Arm {
                request: Some(deployment),
                response: Some(deployment),
            },
        ),
        (
            "azure-rest-examples/OnlineDeployment/ManagedOnlineDeployment/update.json",
            Arm {
                request: Some(patch),
                response: Some(deployment),
            },
        ),
        (
            "azure-rest-examples/2024-10-01/OnlineDeployment/ManagedOnlineDeployment/get.json",
            Arm {
                request: None,
                response: Some(deployment),
            },
        ),
        (
            "azure-rest-examples/OnlineDeployment/KubernetesOnlineDeployment/createOrUpdate.json",
            Arm {
                request: Some(deployment),
                response: Some(deployment),
            },
        ),
        (
            "azure-rest-examples/OnlineDeployment/KubernetesOnlineDeployment/update.json",
            Arm {
                request: Some(patch),
                response: Some(deployment),
            },
        ),
        (
            "azure-rest-examples/2024-10-01/OnlineDeployment/KubernetesOnlineDeployment/get.json",
            Arm {
                request: None,
                response: Some(deployment),
            },
        ),
        (
            "azure-rest-examples/OnlineDeployment/list.json",
            Arm {
                request: None,
                response: Some(round_trip::<Page<OnlineDeployment>>),
            },
        ),
        (
            "azure-rest-examples/OnlineDeployment/ManagedOnlineDeployment/listSkus.json",
            Arm {
                request: None,
                response: Some(round_trip::<Page<SkuResource>>),
            },
        ),
        (
            "azure-rest-examples/2024-10-01/OnlineDeployment/getLogs.json",
            Arm {
                request: Some(round_trip::<DeploymentLogsRequest>),
                response: Some(round_trip::<DeploymentLogs>),
            },
        ),
        // Assets.
        (
            "azure-rest-examples/Workspace/ModelVersion/createOrUpdate.json",
            Arm {
                request: Some(round_trip::<ModelVersion>),
                response: Some(round_trip::<ModelVersion>),
            },
        ),
        (
            "azure-rest-examples/Workspace/ModelVersion/get.json",
            Arm {
                request: None,
                response: Some(round_trip::<ModelVersion>),
            },
        ),
        (
            "azure-rest-examples/Workspace/EnvironmentVersion/get.json",
            Arm {
                request: None,
                response: Some(round_trip::<EnvironmentVersion>),
            },
        ),
        (
            "azure-rest-examples/Workspace/CodeVersion/get.json",
            Arm {
                request: None,
                response: Some(round_trip::<CodeVersion>),
            },
        ),
        // The data plane: a scoring request body, free-form JSON.
        (
            "azureml-examples/model-2/sample-request.json",
            Body(round_trip::<Value>),
        ),
    ]
}

/// Files in `tests/fixtures/` that are not examples.
const NOT_FIXTURES: &[&str] = &["README.md", ".gitattributes"];

/// Asked of the running `cargo test` rather than baked in at build time: a shared target dir may
/// hold a test binary built from another clone of the repository.
fn fixtures_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("tests/fixtures")
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("read a fixture folder");
    for entry in entries {
        let path = entry.expect("read a fixture folder entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every file under `tests/fixtures/` (except its README), as `/`-separated relative paths.
fn fixture_files() -> Vec<String> {
    let root = fixtures_dir();
    let mut files = Vec::new();
    files_under(&root, &mut files);
    let mut relative: Vec<String> = files
        .iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .expect("a path under the fixture folder");
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
        .filter(|rel| !NOT_FIXTURES.contains(&rel.as_str()))
        .collect();
    relative.sort();
    relative
}

fn read_json(relative: &str) -> Value {
    let text = std::fs::read_to_string(fixtures_dir().join(relative)).expect("read a fixture");
    serde_json::from_str(&text).expect("a fixture is JSON")
}

/// Runs the checks for one fixture; returns one line per problem.
fn check_fixture(relative: &str, fixture: &Fixture) -> Vec<String> {
    let json = read_json(relative);
    let mut problems = Vec::new();
    let run = |what: &str, check: Check, body: &Value| {
        check(body).err().map(|e| format!("{relative} {what}: {e}"))
    };
    match fixture {
        Body(check) => problems.extend(run("body", *check, &json)),
        Arm { request, response } => {
            match (request, json.pointer("/parameters/body")) {
                (Some(check), Some(body)) => problems.extend(run("request body", *check, body)),
                (None, None) => {}
                (None, Some(_)) => problems.push(format!("{relative}: request body not mapped")),
                (Some(_), None) => {
                    problems.push(format!("{relative}: mapped request body is missing"))
                }
            }
            let responses = json
                .get("responses")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let mut response_bodies = 0;
            for (status, answer) in &responses {
                let Some(body) = answer.get("body") else {
                    continue;
                };
                response_bodies += 1;
                match response {
                    Some(check) => {
                        problems.extend(run(&format!("response {status} body"), *check, body))
                    }
                    None => problems.push(format!("{relative}: response {status} body not mapped")),
                }
            }
            if response.is_some() && response_bodies == 0 {
                problems.push(format!("{relative}: mapped response body is missing"));
            }
        }
    }
    problems
}

#[test]
fn every_fixture_file_is_mapped_to_a_type() {
    let mapped: Vec<&str> = fixtures().iter().map(|(path, _)| *path).collect();
    let files = fixture_files();
    let unmapped: Vec<&String> = files
        .iter()
        .filter(|f| !mapped.contains(&f.as_str()))
        .collect();
    let missing: Vec<&&str> = mapped
        .iter()
        .filter(|m| !files.iter().any(|f| f == **m))
        .collect();
    assert!(
        unmapped.is_empty(),
        "fixture files without a mapping: {unmapped:?}"
    );
    assert!(
        missing.is_empty(),
        "mapped fixtures that do not exist: {missing:?}"
    );
    assert_eq!(
        files.len(),
        22,
        "the number of fixture files changed: {files:?}"
    );
}

#[test]
fn every_example_body_round_trips_through_its_type() {
    let problems: Vec<String> = fixtures()
        .iter()
        .flat_map(|(path, fixture)| check_fixture(path, fixture))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_round_trip_check_catches_a_misspelt_field() {
    let body = serde_json::json!({"properties": {"authMode": "Key", "trafic": {"blue": 100}}});
    let err = round_trip::<OnlineEndpoint>(&body).expect_err("the typo should be caught");
    assert!(err.contains("body.properties.trafic"), "{err}");
}

fn response_body<T: DeserializeOwned>(relative: &str, status: &str) -> T {
    let json = read_json(relative);
    let body = json
        .pointer(&format!("/responses/{status}/body"))
        .expect("the example has this response body");
    serde_json::from_value(body.clone()).expect("the body parses")
}

#[test]
fn kubernetes_deployments_parse_with_their_compute_type_and_resources() {
    let d: OnlineDeployment = response_body(
        "azure-rest-examples/OnlineDeployment/KubernetesOnlineDeployment/createOrUpdate.json",
        "201",
    );
    assert_eq!(
        d.properties.endpoint_compute_type,
        Some(EndpointComputeType::Kubernetes)
    );
    let requests = d
        .properties
        .container_resource_requirements
        .and_then(|c| c.container_resource_requests)
        .expect("resource requests");
    assert_eq!(requests.memory.as_deref(), Some("\"2Gi\""));
}

#[test]
fn managed_deployment_durations_are_azure_iso_8601_durations() {
    let d: OnlineDeployment = response_body(
        "azure-rest-examples/2024-10-01/OnlineDeployment/ManagedOnlineDeployment/get.json",
        "200",
    );
    let p = d.properties;
    assert_eq!(p.endpoint_compute_type, Some(EndpointComputeType::Managed));
    assert_eq!(p.provisioning_state, Some(ProvisioningState::Creating));
    let readiness = p.readiness_probe.expect("readiness probe");
    let parse = |text: Option<String>| {
        parse_iso8601_duration(&text.expect("a duration")).expect("a valid duration")
    };
    assert_eq!(parse(readiness.timeout), Duration::from_secs(2));
    assert_eq!(parse(readiness.period), Duration::from_secs(10));
    let request = p.request_settings.expect("request settings");
    assert_eq!(parse(request.request_timeout), Duration::from_secs(300));
}

#[test]
fn endpoint_examples_carry_traffic_as_integer_shares() {
    let e: OnlineEndpoint = response_body(
        "azure-rest-examples/Workspace/OnlineEndpoint/get.json",
        "200",
    );
    let traffic = e.properties.traffic.expect("traffic");
    assert_eq!(traffic.get("string"), Some(&1));
    assert_eq!(e.properties.mirror_traffic, None);
    assert_eq!(e.sku.and_then(|s| s.capacity), Some(1));
}

#[test]
fn the_scoring_sample_request_is_kept_byte_for_byte() {
    let bytes = std::fs::read(fixtures_dir().join("azureml-examples/model-2/sample-request.json"))
        .expect("read the sample request");
    assert_eq!(
        bytes.len(),
        72,
        "the upstream file is 72 bytes with CRLF line ends"
    );
    let json: Value = serde_json::from_slice(&bytes).expect("JSON");
    let rows = json["data"].as_array().expect("a data array");
    assert_eq!(rows.len(), 2);
}

fn request_body(relative: &str) -> Value {
    read_json(relative)
        .pointer("/parameters/body")
        .cloned()
        .expect("the example has a request body")
}

fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("serialize")
}

/// The ARM client builds its request bodies as struct literals of these types, never with
/// `json!`; built that way from an example's values, each must be Azure's example body exactly.
#[test]
fn request_bodies_built_from_their_types_are_azures_example_bodies() {
    let logs = DeploymentLogsRequest {
        container_type: Some(ContainerType::StorageInitializer),
        tail: Some(0),
        ..Default::default()
    };
    assert_eq!(
        to_json(&logs),
        request_body("azure-rest-examples/2024-10-01/OnlineDeployment/getLogs.json")
    );

    let regenerate = RegenerateEndpointKeysRequest {
        key_type: KeyType::Primary,
        key_value: None,
        extra: Extra::new(),
    };
    assert_eq!(
        to_json(&regenerate),
        request_body("azure-rest-examples/Workspace/OnlineEndpoint/regenerateKeys.json")
    );

    let update = PartialTrackedResource {
        tags: Some(BTreeMap::new()),
        sku: Some(PartialSku {
            name: Some("string".into()),
            tier: Some(SkuTier::Free),
            size: Some("string".into()),
            family: Some("string".into()),
            capacity: Some(1),
            ..Default::default()
        }),
        ..Default::default()
    };
    for example in [
        "azure-rest-examples/OnlineDeployment/ManagedOnlineDeployment/update.json",
        "azure-rest-examples/OnlineDeployment/KubernetesOnlineDeployment/update.json",
    ] {
        assert_eq!(to_json(&update), request_body(example), "{example}");
    }
}

#[test]
fn a_scale_patch_sends_the_capacity_and_nothing_else() {
    let scale = PartialTrackedResource {
        sku: Some(PartialSku {
            capacity: Some(3),
            ..Default::default()
        }),
        ..Default::default()
    };
    let body = to_json(&scale);
    assert_eq!(body, serde_json::json!({ "sku": { "capacity": 3 } }));
    round_trip::<PartialTrackedResource>(&body).expect("a scale patch round-trips");
}
