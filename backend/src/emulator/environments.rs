//! Environments without Docker: an environment's image cannot run here, but the Python
//! packages its conda file names can. Each distinct package list gets a virtual environment,
//! built once with pip from PyPI and kept in a cache outside the state folder
//! (`$GREENLIGHT_PY_CACHE`, default `/var/tmp/greenlight-py`, folder `envs/`), reused by every
//! deployment and every later run that names the same packages.
//!
//! The rule: conda dependencies become pip requirements (`numpy=1.26` → `numpy==1.26`; channel
//! prefixes and build strings dropped; `python` and `pip` themselves skipped: the interpreter
//! is the one Greenlight is configured with), the `pip:` list is taken as written. pip installs
//! wheels only (`--only-binary=:all:`), so no package's own code runs while the environment is
//! built, and pip options (`--index-url`, `-r file`, `-e`) or direct URLs are refused: they would
//! let a conda file read this machine's files or reach other hosts. With
//! `GREENLIGHT_ENV_PYTHON` set, no environment is built: every one runs with that interpreter,
//! which must already have the packages.

use crate::emulator::instances::LogBuffer;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// How long one environment's pip install may take.
const BUILD_LIMIT: Duration = Duration::from_secs(20 * 60);
/// The programs the build may find without a path (as for instances).
const BUILD_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// How many of pip's last lines a failure reports.
const FAILURE_LINES: usize = 6;

/// The pip requirements of an environment, sorted, as its conda file gives them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requirements(pub Vec<String>);

/// Reads a conda file (YAML) into pip requirements; the error says what is wrong with it.
pub fn parse_conda(text: &str) -> Result<Requirements, String> {
    let yaml: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| format!("the conda file is not YAML: {e}"))?;
    if !yaml.is_mapping() {
        return Err("the conda file must be a YAML mapping (name, channels, dependencies)".into());
    }
    let Some(dependencies) = yaml.get("dependencies") else {
        return Ok(Requirements::default());
    };
    let list = dependencies
        .as_sequence()
        .ok_or("dependencies must be a list")?;
    let mut found = Vec::new();
    for entry in list {
        if let Some(spec) = entry.as_str() {
            if let Some(requirement) = conda_to_pip(spec)? {
                found.push(requirement);
            }
        } else if let Some(pip) = entry.get("pip") {
            let pip = pip.as_sequence().ok_or("dependencies.pip must be a list")?;
            for item in pip {
                let item = item
                    .as_str()
                    .ok_or("each entry of dependencies.pip must be a string")?;
                found.push(check_requirement(item.trim())?);
            }
        } else {
            return Err("each dependency is a string or a `pip:` list".into());
        }
    }
    found.sort();
    found.dedup();
    Ok(Requirements(found))
}

/// A conda spec (`[channel::]name[=version[=build]]`) as a pip requirement; `None` for the
/// interpreter and pip themselves.
fn conda_to_pip(spec: &str) -> Result<Option<String>, String> {
    let spec = spec.trim();
    let spec = spec.rsplit_once("::").map_or(spec, |(_, s)| s);
    let name_end = spec
        .find(|c: char| "=<>! ".contains(c))
        .unwrap_or(spec.len());
    let (name, version) = spec.split_at(name_end);
    if matches!(name.to_ascii_lowercase().as_str(), "python" | "pip") {
        return Ok(None);
    }
    let version = version.trim();
    let requirement = match version.strip_prefix('=') {
        Some(rest) if !rest.starts_with('=') => {
            let exact = rest
                .split('=')
                .next()
                .unwrap_or_default()
                .trim_end_matches(".*");
            if rest.contains('*') {
                format!("{name}=={exact}.*")
            } else {
                format!("{name}=={exact}")
            }
        }
        _ => format!("{name}{version}"),
    };
    check_requirement(&requirement).map(Some)
}

/// A requirement pip may install: a name with extras and version constraints, nothing else.
fn check_requirement(requirement: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-[],<>=!~* ".contains(c);
    let starts_with_name = requirement
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !starts_with_name || !requirement.chars().all(allowed) {
        return Err(format!(
            "{requirement:?} is not a package requirement the local workspace installs: \
             a name with optional extras and version constraints (no pip options, paths or URLs)"
        ));
    }
    Ok(requirement.to_owned())
}

/// Builds and keeps the virtual environments.
#[derive(Debug)]
pub struct Environments {
    /// `…/envs`: one folder per package list.
    cache: PathBuf,
    /// The interpreter virtual environments are made from.
    base_python: PathBuf,
    /// `GREENLIGHT_ENV_PYTHON`: run every environment with this interpreter, build nothing.
    configured: Option<PathBuf>,
    /// One lock per environment folder, so concurrent deployments build it once.
    building: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

impl Environments {
    /// Settings from the process environment (see the module's documentation).
    pub fn from_env(python: &Path) -> Self {
        let cache = std::env::var_os("GREENLIGHT_PY_CACHE")
            .map_or_else(|| PathBuf::from("/var/tmp/greenlight-py"), PathBuf::from)
            .join("envs");
        Self {
            cache,
            base_python: resolve(python),
            configured: std::env::var_os("GREENLIGHT_ENV_PYTHON").map(PathBuf::from),
            building: Mutex::new(HashMap::new()),
        }
    }

    /// The interpreter instances of an environment with `requirements` run with.
    pub fn python_for(&self, requirements: &Requirements) -> PathBuf {
        match &self.configured {
            Some(python) => python.clone(),
            None => self.folder_for(requirements).join("bin").join("python"),
        }
    }

    fn folder_for(&self, requirements: &Requirements) -> PathBuf {
        let mut hash = Sha256::new();
        hash.update(self.base_python.as_os_str().as_encoded_bytes());
        for requirement in &requirements.0 {
            hash.update(b"\n");
            hash.update(requirement.as_bytes());
        }
        self.cache.join(hex::encode(&hash.finalize()[..12]))
    }

    /// Whether instances of this environment can start now.
    pub fn is_ready(&self, requirements: &Requirements) -> bool {
        self.configured.is_some() || self.folder_for(requirements).join(READY).is_file()
    }

    /// Builds the environment unless it is there, copying pip's output into `logs`; the error
    /// carries pip's last lines.
    pub async fn ensure(
        &self,
        requirements: &Requirements,
        logs: &LogBuffer,
    ) -> Result<(), String> {
        if self.configured.is_some() {
            return Ok(());
        }
        let folder = self.folder_for(requirements);
        let lock = {
            let mut building = crate::emulator::locks::lock(&self.building);
            Arc::clone(building.entry(folder.clone()).or_default())
        };
        let _held = lock.lock().await;
        if folder.join(READY).is_file() {
            return Ok(());
        }
        logs.push(format!(
            "[environment] building a Python environment with {}",
            requirements.0.join(" ")
        ));
        let started = std::time::Instant::now();
        let staging = folder.with_extension(format!("building-{:x}", rand::random::<u32>()));
        let outcome = self.build(&staging, requirements, logs).await;
        match outcome {
            Ok(()) => {
                let _ = tokio::fs::remove_dir_all(&folder).await;
                tokio::fs::rename(&staging, &folder)
                    .await
                    .map_err(|e| format!("installing the environment: {e}"))?;
                logs.push(format!(
                    "[environment] ready in {:.1} s",
                    started.elapsed().as_secs_f64()
                ));
                Ok(())
            }
            Err(err) => {
                let _ = tokio::fs::remove_dir_all(&staging).await;
                logs.push(format!("[environment] failed: {err}"));
                Err(err)
            }
        }
    }

    async fn build(
        &self,
        folder: &Path,
        requirements: &Requirements,
        logs: &LogBuffer,
    ) -> Result<(), String> {
        tokio::fs::create_dir_all(&self.cache)
            .await
            .map_err(|e| format!("creating {}: {e}", self.cache.display()))?;
        let mut venv = std::process::Command::new(&self.base_python);
        venv.args(["-I", "-m", "venv"]).arg(folder);
        run(venv, &[], "python -m venv", logs).await?;
        let mut pip = std::process::Command::new(folder.join("bin").join("python"));
        pip.args([
            "-I",
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--only-binary=:all:",
        ])
        .args(&requirements.0);
        let pip_cache = self.cache.join("pip-cache");
        run(pip, &[("PIP_CACHE_DIR", &pip_cache)], "pip install", logs).await?;
        // Instances run as another account: every file must be theirs to read, whatever
        // Greenlight's umask was while pip wrote them.
        let readable = folder.to_path_buf();
        tokio::task::spawn_blocking(move || open_to_others(&readable))
            .await
            .map_err(|e| format!("opening the environment to instances: {e}"))?
            .map_err(|e| format!("opening the environment to instances: {e}"))?;
        tokio::fs::write(folder.join(READY), requirements.0.join("\n"))
            .await
            .map_err(|e| format!("marking the environment ready: {e}"))
    }
}

/// Adds read (and, for folders and programs, execute) permission for others under `dir`;
/// links are left as they are.
fn open_to_others(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            continue;
        }
        let mode = entry.metadata()?.permissions().mode();
        let wanted = if kind.is_dir() || mode & 0o100 != 0 {
            mode | 0o055
        } else {
            mode | 0o044
        };
        if wanted != mode {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(wanted))?;
        }
        if kind.is_dir() {
            open_to_others(&entry.path())?;
        }
    }
    Ok(())
}

/// The file a finished environment holds.
const READY: &str = "greenlight-ready";

/// An interpreter named without a path is looked up where instances look it up.
fn resolve(python: &Path) -> PathBuf {
    if python.components().count() > 1 {
        return python.to_path_buf();
    }
    BUILD_PATH
        .split(':')
        .map(|dir| Path::new(dir).join(python))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| python.to_path_buf())
}

/// Runs a build step from a cleared environment, its output into `logs`; a failure says which
/// step and shows its last lines.
async fn run(
    mut command: std::process::Command,
    variables: &[(&str, &Path)],
    step: &str,
    logs: &LogBuffer,
) -> Result<(), String> {
    command
        .env_clear()
        .envs(variables.iter().copied())
        .env("PATH", BUILD_PATH)
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| format!("{step} could not start: {e}"))?;
    let tail = Mutex::new(Vec::<String>::new());
    let follow = |stream: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| {
        let tail = &tail;
        async move {
            let Some(stream) = stream else { return };
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                logs.push(format!("[environment] {line}"));
                let mut tail = crate::emulator::locks::lock(tail);
                tail.push(line);
                let excess = tail.len().saturating_sub(FAILURE_LINES);
                tail.drain(..excess);
            }
        }
    };
    let stdout = child
        .stdout
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>);
    let stderr = child
        .stderr
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>);
    let work = async {
        let (status, (), ()) = tokio::join!(child.wait(), follow(stdout), follow(stderr));
        status
    };
    let status = tokio::time::timeout(BUILD_LIMIT, work).await;
    let last = crate::emulator::locks::lock(&tail).join(" | ");
    match status {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("{step} failed ({status}): {last}")),
        Ok(Err(e)) => Err(format!("{step} failed: {e}")),
        Err(_) => Err(format!("{step} took longer than {BUILD_LIMIT:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conda_dependencies_become_pip_requirements() {
        let conda = "name: model-env\nchannels: [conda-forge]\ndependencies:\n  - python=3.9\n  - pip=23.0.1\n  - numpy=1.23.5\n  - conda-forge::scikit-learn=1.2.2=py39_0\n  - pip:\n    - joblib==1.2.0\n";
        assert_eq!(
            parse_conda(conda).expect("valid").0,
            ["joblib==1.2.0", "numpy==1.23.5", "scikit-learn==1.2.2"]
        );
        assert_eq!(
            parse_conda("name: x\n").expect("valid"),
            Requirements::default()
        );
    }

    #[test]
    fn files_that_are_not_conda_yaml_or_reach_outside_are_refused() {
        for bad in [
            "{ not: yaml: at all",
            "just a string",
            "dependencies: numpy",
            "dependencies:\n  - pip:\n    - --index-url=http://elsewhere\n",
            "dependencies:\n  - pip:\n    - -r /etc/shadow\n",
            "dependencies:\n  - pip:\n    - pkg @ https://host/pkg.whl\n",
        ] {
            assert!(parse_conda(bad).is_err(), "{bad}");
        }
    }
}
