//! Where and as whom an instance runs. Model code is untrusted (DESIGN.md): each instance gets
//! its own folder outside the state dir — a copy of its code and model, the harness, and a home
//! it may write — and, when Greenlight runs as root, an unprivileged account that is not the
//! private database's, so it can read neither the state dir (endpoint keys, TLS key) nor the
//! Postgres socket folder (0700, owned by the database account).

use crate::sys::{self, Account};
use anyhow::Context;
use rand::distributions::{Alphanumeric, DistString};
use std::fs;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Accounts an instance may run as when Greenlight is root, in order of preference.
const INSTANCE_ACCOUNTS: [&str; 2] = ["greenlight-instance", "nobody"];
/// Accounts the private database runs as when Greenlight is root (see `postgres::cluster`).
const DATABASE_ACCOUNTS: [&str; 2] = ["postgres", "nobody"];

/// Where instance folders go and which account instances run as.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// Holds one folder per running instance; reachable, not listable, by other accounts.
    pub base: PathBuf,
    /// The account instances run as; `None` when Greenlight is not root (it cannot switch).
    pub account: Option<Account>,
}

impl SandboxSettings {
    /// Settings for the workspace whose state is in `state_dir`: a folder in the system's
    /// temporary folder named after it (emptied now: instances of an earlier run are gone),
    /// and, when running as root, the first of `greenlight-instance` / `nobody` that is not
    /// the database's account.
    pub fn for_state_dir(state_dir: &Path) -> anyhow::Result<Self> {
        use sha2::{Digest, Sha256};
        let account = instance_account()?;
        let state = state_dir
            .canonicalize()
            .unwrap_or_else(|_| state_dir.to_path_buf());
        let digest = Sha256::digest(state.as_os_str().as_encoded_bytes());
        let tag: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        let base = std::env::temp_dir().join(format!("greenlight-instances-{tag}"));
        match fs::symlink_metadata(&base) {
            Ok(meta) if meta.is_dir() && !meta.file_type().is_symlink() => {
                fs::remove_dir_all(&base)
                    .with_context(|| format!("emptying {}", base.display()))?;
            }
            Ok(_) => anyhow::bail!("{} exists and is not a folder", base.display()),
            Err(_) => {}
        }
        // create_dir (not _all): fails if someone else made it meanwhile.
        fs::create_dir(&base).with_context(|| format!("creating {}", base.display()))?;
        let mode = if account.is_some() { 0o711 } else { 0o700 };
        fs::set_permissions(&base, fs::Permissions::from_mode(mode))
            .with_context(|| format!("restricting {}", base.display()))?;
        Ok(Self { base, account })
    }
}

/// The account instances run as: `None` unless we are root; an error when root has no
/// unprivileged account to give them that differs from the database's.
fn instance_account() -> anyhow::Result<Option<Account>> {
    if sys::effective_uid() != 0 {
        return Ok(None);
    }
    let database = DATABASE_ACCOUNTS.into_iter().find_map(sys::lookup_account);
    INSTANCE_ACCOUNTS
        .into_iter()
        .filter_map(sys::lookup_account)
        .find(|a| a.uid != 0 && Some(a.uid) != database.map(|d| d.uid))
        .map(Some)
        .context(
            "running as root, but there is no unprivileged account for model instances \
             (create `greenlight-instance`, or `postgres` so the database does not use `nobody`)",
        )
}

/// One instance's folder; removed when dropped (after its processes are gone).
#[derive(Debug)]
pub(super) struct Sandbox {
    root: PathBuf,
    pub harness: PathBuf,
    pub code_dir: PathBuf,
    pub model_dir: PathBuf,
    pub home: PathBuf,
    /// Files left out of the copy because the instance's account could not read them in place.
    pub skipped: Vec<PathBuf>,
}

impl Sandbox {
    /// Makes `<base>/<instance>-<random>/` with `harness.py`, `code/`, `model/` (read-only
    /// copies) and `home/` (owned by the instance's account).
    pub fn prepare(
        settings: &SandboxSettings,
        instance: &str,
        harness: &Path,
        code: &Path,
        model: &Path,
    ) -> io::Result<Self> {
        let tag = Alphanumeric.sample_string(&mut rand::thread_rng(), 8);
        let root = settings.base.join(format!("{instance}-{tag}"));
        fs::create_dir(&root)?;
        let mut sandbox = Self {
            harness: root.join("harness.py"),
            code_dir: root.join("code"),
            model_dir: root.join("model"),
            home: root.join("home"),
            skipped: Vec::new(),
            root,
        };
        fs::set_permissions(&sandbox.root, fs::Permissions::from_mode(0o755))?;
        // Only what any local account could already read is copied when the instance runs
        // under another account: an asset folder must not become a way to read root's files.
        let others_only = settings.account.is_some();
        copy_file(harness, &sandbox.harness, false)?;
        copy_tree(code, &sandbox.code_dir, others_only, &mut sandbox.skipped)?;
        copy_tree(model, &sandbox.model_dir, others_only, &mut sandbox.skipped)?;
        fs::create_dir(&sandbox.home)?;
        fs::set_permissions(&sandbox.home, fs::Permissions::from_mode(0o700))?;
        if let Some(account) = settings.account {
            std::os::unix::fs::chown(&sandbox.home, Some(account.uid), Some(account.gid))?;
        }
        Ok(sandbox)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Copies the folder `from` to `to`: folders and regular files (read-only for others),
/// symbolic links as links (never followed: the instance resolves them with its own rights).
fn copy_tree(
    from: &Path,
    to: &Path,
    others_only: bool,
    skipped: &mut Vec<PathBuf>,
) -> io::Result<()> {
    fs::create_dir(to)?;
    fs::set_permissions(to, fs::Permissions::from_mode(0o755))?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &target)?;
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target, others_only, skipped)?;
        } else if kind.is_file() && !copy_file(&entry.path(), &target, others_only)? {
            skipped.push(entry.path());
        }
    }
    Ok(())
}

/// Copies one regular file (opened without following a link), unless `others_only` and it is
/// not readable by others; returns whether it was copied.
fn copy_file(from: &Path, to: &Path, others_only: bool) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let mut source = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(from)?;
    let meta = source.metadata()?;
    if !meta.is_file() || (others_only && meta.mode() & 0o004 == 0) {
        return Ok(false);
    }
    let mut target = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(to)?;
    io::copy(&mut source, &mut target)?;
    fs::set_permissions(to, fs::Permissions::from_mode(0o644))?;
    Ok(true)
}
