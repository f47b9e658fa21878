//! What an ARM deployment means for the processes that serve it: the model and code folders its
//! asset references resolve to, its environment variables, probes, request timeout, concurrency
//! and instance count, with Azure's defaults where the body says nothing.

use super::assets::{asset_path, environment_conda};
use super::LocalWorkspace;
use crate::emulator::arm::error::ArmFailure;
use crate::emulator::environments::{parse_conda, Requirements};
use crate::emulator::instances::{InstanceSpec, Probe};
use crate::emulator::state::Snapshot;
use shared::arm::{OnlineDeployment, ProbeSettings};
use shared::limits::parse_iso8601_duration;
use shared::AssetKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Azure's default for a deployment's `requestTimeout`.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

impl LocalWorkspace {
    /// Where an instance of `deployment` finds its model and scoring code, and how it is run.
    pub(super) fn instance_spec(
        &self,
        state: &Snapshot,
        deployment: &OnlineDeployment,
    ) -> Result<InstanceSpec, ArmFailure> {
        let properties = &deployment.properties;
        let model = properties.model.as_deref().ok_or_else(|| {
            ArmFailure::invalid_field("properties.model", "properties.model is required")
        })?;
        let model_dir = asset_path(
            state,
            &self.runtime.blobs,
            AssetKind::Models,
            model,
            "modelUri",
            "properties.model",
        )?;
        let code = properties.code_configuration.as_ref().ok_or_else(|| {
            ArmFailure::invalid_field(
                "properties.codeConfiguration",
                "properties.codeConfiguration (codeId and scoringScript) is required",
            )
        })?;
        let code_id = code.code_id.as_deref().ok_or_else(|| {
            ArmFailure::invalid_field(
                "properties.codeConfiguration.codeId",
                "properties.codeConfiguration.codeId is required",
            )
        })?;
        let code_dir = asset_path(
            state,
            &self.runtime.blobs,
            AssetKind::Codes,
            code_id,
            "codeUri",
            "properties.codeConfiguration.codeId",
        )?;
        let scoring_script = code.scoring_script.clone().ok_or_else(|| {
            ArmFailure::invalid_field(
                "properties.codeConfiguration.scoringScript",
                "properties.codeConfiguration.scoringScript is required",
            )
        })?;
        check_script_inside(&code_dir, &scoring_script)?;
        self.outside_state_dir(&code_dir, "properties.codeConfiguration.codeId")?;
        self.outside_state_dir(&model_dir, "properties.model")?;
        let python = match self.requirements_of(state, deployment)? {
            Some(requirements) => self.runtime.environments.python_for(&requirements),
            None => self.runtime.python.clone(),
        };
        Ok(InstanceSpec {
            python,
            harness: self.runtime.harness.clone(),
            code_dir,
            scoring_script,
            model_dir,
            environment: properties.environment_variables.clone().unwrap_or_default(),
            readiness: readiness_of(deployment),
            liveness: probe_of(
                properties.liveness_probe.as_ref(),
                Probe::default_liveness(),
            ),
            request_timeout: request_timeout_of(deployment),
            max_concurrent_per_instance: properties
                .request_settings
                .as_ref()
                .and_then(|r| r.max_concurrent_requests_per_instance)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(1),
            sandbox: self.runtime.sandbox.clone(),
        })
    }

    /// The Python packages the deployment's environment names, when it names any: its
    /// instances run in a virtual environment with them (`emulator::environments`).
    pub(super) fn requirements_of(
        &self,
        state: &Snapshot,
        deployment: &OnlineDeployment,
    ) -> Result<Option<Requirements>, ArmFailure> {
        let Some(reference) = deployment.properties.environment_id.as_deref() else {
            return Ok(None);
        };
        let Some(conda) = environment_conda(state, reference) else {
            return Ok(None);
        };
        let requirements = parse_conda(&conda).map_err(|e| {
            ArmFailure::invalid_field(
                "properties.environmentId",
                format!("the condaFile of {reference}: {e}"),
            )
        })?;
        Ok((!requirements.0.is_empty()).then_some(requirements))
    }

    /// Refuses an asset folder that is, holds or lies in the state folder: its copy would hand
    /// the instance the endpoint keys. Uploaded content is the exception: the blob folder holds
    /// nothing but what clients uploaded.
    fn outside_state_dir(&self, asset: &Path, field: &str) -> Result<(), ArmFailure> {
        let state = canonical(&self.runtime.state_dir);
        let asset = canonical(asset);
        let uploads = canonical(&self.runtime.blobs.data_root());
        if asset.starts_with(&uploads) && asset != uploads {
            return Ok(());
        }
        if asset.starts_with(&state) || state.starts_with(&asset) {
            return Err(ArmFailure::invalid_field(
                field,
                format!("{} overlaps the workspace's state folder", asset.display()),
            ));
        }
        Ok(())
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// The scoring script must be a file that, links resolved, lies inside the code folder (the
/// shared rule already refused absolute paths and `..`).
fn check_script_inside(code_dir: &Path, script: &str) -> Result<(), ArmFailure> {
    let field = "properties.codeConfiguration.scoringScript";
    if let Err(rule) = shared::check_scoring_script(script) {
        return Err(ArmFailure::invalid_field(field, rule.to_string()));
    }
    let resolved = code_dir.join(script).canonicalize().ok();
    let inside = resolved
        .as_ref()
        .is_some_and(|r| r.is_file() && r.starts_with(canonical(code_dir)));
    if !inside {
        return Err(ArmFailure::invalid_field(
            field,
            format!("scoring script {script} is not in the code asset"),
        ));
    }
    Ok(())
}

/// The instance count (`sku.capacity`); one when the body does not say.
pub(super) fn instance_count(deployment: &OnlineDeployment) -> usize {
    deployment
        .sku
        .as_ref()
        .and_then(|s| s.capacity)
        .and_then(|c| usize::try_from(c).ok())
        .unwrap_or(1)
}

pub(super) fn readiness_of(deployment: &OnlineDeployment) -> Probe {
    probe_of(
        deployment.properties.readiness_probe.as_ref(),
        Probe::default_readiness(),
    )
}

/// A probe from its ARM settings, each one left out (or unreadable) taken from `default`.
fn probe_of(settings: Option<&ProbeSettings>, default: Probe) -> Probe {
    let Some(settings) = settings else {
        return default;
    };
    let duration = |text: &Option<String>, fallback| {
        text.as_deref()
            .and_then(|t| parse_iso8601_duration(t).ok())
            .unwrap_or(fallback)
    };
    Probe {
        initial_delay: duration(&settings.initial_delay, default.initial_delay),
        period: duration(&settings.period, default.period),
        timeout: duration(&settings.timeout, default.timeout),
        failure_threshold: settings
            .failure_threshold
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(default.failure_threshold),
    }
}

fn request_timeout_of(deployment: &OnlineDeployment) -> Duration {
    deployment
        .properties
        .request_settings
        .as_ref()
        .and_then(|s| s.request_timeout.as_deref())
        .and_then(|t| parse_iso8601_duration(t).ok())
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT)
}
