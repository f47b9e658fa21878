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
                end_leftover_processes(&base);
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

/// Ends what an earlier run's instances left behind. A graceful stop kills each instance's
/// process group, but after `kill -9` of Greenlight only the harnesses die (parent-death
/// signal): a process their model code started lives on, re-parented to init. Every process
/// still working in `base` (its current folder is an instance folder) is such a leftover; its
/// whole group is killed. A process that changed its folder, or left its group *and* its folder,
/// escapes this — only cgroups would hold it.
fn end_leftover_processes(base: &Path) {
    let Ok(base) = base.canonicalize() else {
        return;
    };
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let inside =
            fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(&base));
        if !inside {
            continue;
        }
        let group = fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|stat| {
                // pid (comm) state ppid pgrp …; comm may hold spaces: read after the last ')'.
                stat.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(2)?
                    .parse::<i32>()
                    .ok()
            });
        tracing::warn!(
            pid,
            ?group,
            "ending a process an earlier run's instance left behind"
        );
        if let Some(group) = group.filter(|g| *g > 1) {
            let _ = sys::signal_group(group, libc::SIGKILL);
        }
        let _ = sys::send_signal(pid, libc::SIGKILL);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};

    #[test]
    fn processes_an_earlier_run_left_in_its_instance_folders_are_ended_at_start() {
        let state = tempfile::tempdir().expect("state dir");
        let first = SandboxSettings::for_state_dir(state.path()).expect("first start");
        let folder = first.base.join("blue-0-leftover");
        fs::create_dir(&folder).expect("instance folder");
        // What model code started from `init()` looks like once Greenlight died with kill -9: a
        // process in its own group, working in the instance's folder.
        let mut leftover = std::process::Command::new("sleep")
            .arg("600")
            .current_dir(&folder)
            .process_group(0)
            .spawn()
            .expect("start a leftover process");
        let mut bystander = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .expect("start an unrelated process");

        SandboxSettings::for_state_dir(state.path()).expect("second start");

        let deadline = Instant::now() + Duration::from_secs(5);
        let ended = loop {
            if let Some(status) = leftover.try_wait().expect("try_wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "the leftover still runs");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(!ended.success(), "killed: {ended:?}");
        assert!(
            bystander.try_wait().expect("try_wait").is_none(),
            "a process elsewhere is left alone"
        );
        let _ = bystander.kill();
        let _ = bystander.wait();
    }
}
