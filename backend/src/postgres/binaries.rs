//! Finding the Postgres server programs on this machine.

use std::path::{Path, PathBuf};

/// Where `initdb` and `postgres` live.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    pub bin_dir: PathBuf,
}

/// The single line a user sees when the server programs are missing.
pub const MISSING_BINARIES: &str = "PostgreSQL server programs (initdb, postgres) were not found: \
install them with `sudo apt-get install postgresql`, set GREENLIGHT_PG_BIN to their folder, \
or set DATABASE_URL to use an existing server";

impl PgBinaries {
    /// Looks only in `GREENLIGHT_PG_BIN` when it is set; otherwise in Debian's
    /// `/usr/lib/postgresql/<version>/bin` (newest first), then every folder on `PATH`.
    pub fn find() -> Result<Self, &'static str> {
        let candidates = match std::env::var_os("GREENLIGHT_PG_BIN") {
            Some(explicit) => vec![PathBuf::from(explicit)],
            None => {
                let on_path = std::env::var_os("PATH")
                    .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                    .unwrap_or_default();
                debian_bin_dirs().into_iter().chain(on_path).collect()
            }
        };
        candidates
            .into_iter()
            .find(|dir| has_server_programs(dir))
            .map(|bin_dir| Self { bin_dir })
            .ok_or(MISSING_BINARIES)
    }

    pub fn initdb(&self) -> PathBuf {
        self.bin_dir.join("initdb")
    }

    pub fn postgres(&self) -> PathBuf {
        self.bin_dir.join("postgres")
    }
}

fn has_server_programs(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("postgres").is_file()
}

/// `/usr/lib/postgresql/*/bin`, highest major version first.
fn debian_bin_dirs() -> Vec<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    versions.into_iter().map(|(_, dir)| dir).collect()
}
