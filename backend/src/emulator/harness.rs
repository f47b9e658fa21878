//! The Python harness each instance runs, embedded in the binary and written next to the
//! emulator's state on start-up, so an installed `greenlight` needs no other files.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// The harness source (standard-library Python; see `harness.py` for its contract).
pub const SOURCE: &str = include_str!("harness.py");

/// Writes the harness into `dir` (when missing or different) and returns its path.
pub fn install(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("greenlight_harness.py");
    let current = std::fs::read_to_string(&path).ok();
    if current.as_deref() != Some(SOURCE) {
        let staging = dir.join("greenlight_harness.py.tmp");
        std::fs::write(&staging, SOURCE)
            .with_context(|| format!("writing {}", staging.display()))?;
        std::fs::rename(&staging, &path)
            .with_context(|| format!("installing {}", path.display()))?;
    }
    Ok(path)
}
