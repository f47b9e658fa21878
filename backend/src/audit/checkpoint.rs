//! The chain's head, anchored outside the database.
//!
//! Someone who can write to the database (as its owner or a superuser) can delete the newest
//! rows, or change a row and recompute every hash after it, and the chain alone still looks
//! whole. So the app writes the head it has checked — last id, last hash, number of events — to
//! `<state-dir>/audit-checkpoint.json`, signed with HMAC-SHA256 under `<state-dir>/audit.key`
//! (32 random bytes, mode 0600, made on first use). `greenlight audit verify` then requires the
//! chain to still hold that row, with that hash, after that many events. Files are out of reach
//! of an attacker who has only the database; the key makes an edited checkpoint detectable.

use super::verify::{walk, Head};
use anyhow::Context;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The signing key's file in the state directory.
pub const KEY_FILE: &str = "audit.key";
/// The checkpoint's file in the state directory.
pub const CHECKPOINT_FILE: &str = "audit-checkpoint.json";

/// Separates checkpoint signatures from any other use of the key.
const SIGNATURE_CONTEXT: &str = "greenlight audit checkpoint v1";

/// The signed file, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// `current_database()` of the chain: one state directory may serve several databases.
    pub database: String,
    pub last_id: i64,
    /// Hex of the last row's hash.
    pub last_hash: String,
    pub count: u64,
    pub written_at: DateTime<Utc>,
    /// Hex of HMAC-SHA256 over all of the above.
    pub signature: String,
}

impl Checkpoint {
    fn signed(key: &[u8], database: &str, head: &Head, written_at: DateTime<Utc>) -> Self {
        let mut checkpoint = Self {
            database: database.to_owned(),
            last_id: head.last_id,
            last_hash: hex::encode(&head.last_hash),
            count: head.count,
            written_at: written_at.trunc_subsecs(6),
            signature: String::new(),
        };
        checkpoint.signature = hex::encode(hmac_sha256(key, checkpoint.message().as_bytes()));
        checkpoint
    }

    fn message(&self) -> String {
        format!(
            "{SIGNATURE_CONTEXT}\n{}\n{}\n{}\n{}\n{}",
            self.database,
            self.last_id,
            self.last_hash,
            self.count,
            self.written_at.to_rfc3339_opts(SecondsFormat::Micros, true)
        )
    }

    /// The head it records, if its signature is `key`'s.
    fn check(&self, key: &[u8]) -> Result<Head, String> {
        let expected = hmac_sha256(key, self.message().as_bytes());
        let given = hex::decode(&self.signature).unwrap_or_default();
        if !constant_time_eq(&expected, &given) {
            return Err("its signature does not match its content: it was altered".into());
        }
        let last_hash = hex::decode(&self.last_hash)
            .map_err(|_| "its last_hash is not hex: it was altered".to_owned())?;
        Ok(Head {
            last_id: self.last_id,
            last_hash,
            count: self.count,
        })
    }
}

/// What the state directory says about the chain's head.
#[derive(Debug)]
pub enum Anchor {
    /// No checkpoint was written yet (no app has served with this state directory).
    None,
    /// The checkpoint is of another database.
    OtherDatabase(String),
    /// A correctly signed checkpoint of this database.
    Signed(Head),
}

/// Reads the checkpoint in `state_dir` for `database`, checking its signature. An altered or
/// unreadable checkpoint, or one without its key, is an error naming the file.
pub fn load(state_dir: &Path, database: &str) -> anyhow::Result<Anchor> {
    let path = state_dir.join(CHECKPOINT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Anchor::None),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let checkpoint: Checkpoint = serde_json::from_str(&text).map_err(|err| {
        anyhow::anyhow!(
            "audit checkpoint {} is not a checkpoint ({err}): it was altered",
            path.display()
        )
    })?;
    let key_path = state_dir.join(KEY_FILE);
    let key = read_key(&key_path)?.with_context(|| {
        format!(
            "audit checkpoint {} cannot be checked: its key {} is missing",
            path.display(),
            key_path.display()
        )
    })?;
    let head = checkpoint
        .check(&key)
        .map_err(|reason| anyhow::anyhow!("audit checkpoint {}: {reason}", path.display()))?;
    if checkpoint.database != database {
        return Ok(Anchor::OtherDatabase(checkpoint.database));
    }
    Ok(Anchor::Signed(head))
}

/// The name the checkpoint binds the chain to.
pub async fn database_name(pool: &PgPool) -> sqlx::Result<String> {
    sqlx::query_scalar!(r#"select current_database() as "name!""#)
        .fetch_one(pool)
        .await
}

/// Keeps the checkpoint in a state directory up to date with the chain.
#[derive(Debug)]
pub struct Checkpointer {
    pool: PgPool,
    dir: PathBuf,
    key: Vec<u8>,
    database: String,
    /// The head last written, or read back at start.
    last: Option<Head>,
    /// Set once the chain failed to extend the checkpoint: it is then kept as evidence.
    stopped: bool,
}

impl Checkpointer {
    /// Reads (or makes) the key and the current checkpoint, then checkpoints the chain.
    pub async fn start(pool: PgPool, state_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("creating {}", state_dir.display()))?;
        let key = key_for_writing(&state_dir.join(KEY_FILE))?;
        let database = database_name(&pool).await?;
        let mut checkpointer = Self {
            pool,
            dir: state_dir.to_path_buf(),
            key,
            database: database.clone(),
            last: None,
            stopped: false,
        };
        match load(state_dir, &database) {
            Ok(Anchor::Signed(head)) => checkpointer.last = Some(head),
            Ok(Anchor::None) => {}
            Ok(Anchor::OtherDatabase(other)) => tracing::warn!(
                other,
                "the audit checkpoint was of another database; this one's replaces it"
            ),
            Err(err) => {
                tracing::error!(
                    "{err:#}; it is kept as it is (run `greenlight audit verify`) and no new \
                     checkpoint is written"
                );
                checkpointer.stopped = true;
            }
        }
        checkpointer.update().await?;
        Ok(checkpointer)
    }

    /// The head checked and written last, unless the chain stopped extending it.
    pub fn head(&self) -> Option<Head> {
        self.last.clone().filter(|_| !self.stopped)
    }

    /// Checks the rows added since the last checkpoint and, if there are any, writes a new one.
    /// If the chain no longer extends the last checkpoint, logs it and leaves the file alone.
    pub async fn update(&mut self) -> anyhow::Result<()> {
        if self.stopped {
            return Ok(());
        }
        let latest = sqlx::query!("select id, hash from audit_events order by id desc limit 1")
            .fetch_optional(&self.pool)
            .await?;
        let unchanged = match (&latest, &self.last) {
            (None, None) => true,
            (Some(row), Some(last)) => row.id == last.last_id && row.hash == last.last_hash,
            _ => false,
        };
        if unchanged {
            return Ok(());
        }
        match walk(&self.pool, self.last.as_ref(), self.last.as_ref()).await? {
            Ok(Some(head)) => {
                write_atomically(
                    &self.dir.join(CHECKPOINT_FILE),
                    &Checkpoint::signed(&self.key, &self.database, &head, Utc::now()),
                )?;
                self.last = Some(head);
            }
            Ok(None) => {}
            Err((id, reason)) => {
                tracing::error!(
                    id,
                    reason,
                    "the audit log no longer extends its checkpoint; the checkpoint is kept as \
                     evidence (run `greenlight audit verify`)"
                );
                self.stopped = true;
            }
        }
        Ok(())
    }
}

fn read_key(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let key = hex::decode(text.trim())
        .ok()
        .filter(|key| key.len() >= 32)
        .with_context(|| format!("{} is not a key (64 hex digits)", path.display()))?;
    Ok(Some(key))
}

/// The key in `path`, made (32 random bytes, mode 0600) if there is none. A key others may read
/// is refused: anyone who can read it can sign a checkpoint.
fn key_for_writing(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(key) = read_key(path)? {
        let mode = std::fs::metadata(path)?.permissions().mode();
        anyhow::ensure!(
            mode & 0o077 == 0,
            "{} must be readable by its owner only (chmod 600 it); it is {:o}",
            path.display(),
            mode & 0o777
        );
        return Ok(key);
    }
    let mut key = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(format!("{}\n", hex::encode(&key)).as_bytes())?;
    file.sync_all()?;
    Ok(key)
}

/// Writes `checkpoint` beside `path` and renames it over `path`, so a reader sees the old
/// checkpoint or the new one, never half of one.
fn write_atomically(path: &Path, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    let temporary = path.with_extension("json.new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    serde_json::to_writer_pretty(&mut file, checkpoint)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block_key.map(|byte| byte ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block_key.map(|byte| byte ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> Head {
        Head {
            last_id: 42,
            last_hash: vec![7; 32],
            count: 40,
        }
    }

    fn written(dir: &Path) -> Checkpoint {
        let key = key_for_writing(&dir.join(KEY_FILE)).expect("key");
        let checkpoint = Checkpoint::signed(&key, "greenlight", &head(), Utc::now());
        write_atomically(&dir.join(CHECKPOINT_FILE), &checkpoint).expect("write");
        checkpoint
    }

    fn rewrite(dir: &Path, change: impl FnOnce(&mut Checkpoint)) {
        let path = dir.join(CHECKPOINT_FILE);
        let mut checkpoint: Checkpoint =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        change(&mut checkpoint);
        std::fs::write(&path, serde_json::to_string(&checkpoint).expect("json")).expect("write");
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // Test case 2: key "Jefe".
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn a_signed_checkpoint_reads_back_as_its_head() {
        let dir = tempfile::tempdir().expect("dir");
        written(dir.path());
        match load(dir.path(), "greenlight").expect("load") {
            Anchor::Signed(read) => assert_eq!(read, head()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_key_is_made_once_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(KEY_FILE);
        let key = key_for_writing(&path).expect("key");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(key_for_writing(&path).expect("again"), key);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(key_for_writing(&path).is_err(), "a readable key is refused");
    }

    #[test]
    fn a_tampered_checkpoint_is_reported_naming_the_file() {
        let changes: [fn(&mut Checkpoint); 4] = [
            |c| c.count -= 3,
            |c| c.last_id -= 3,
            |c| c.last_hash = hex::encode([8u8; 32]),
            |c| c.written_at -= chrono::Duration::seconds(1),
        ];
        for change in changes {
            let dir = tempfile::tempdir().expect("dir");
            written(dir.path());
            rewrite(dir.path(), change);
            let err = load(dir.path(), "greenlight").expect_err("tampering is reported");
            let message = format!("{err:#}");
            assert!(message.contains(CHECKPOINT_FILE), "{message}");
            assert!(message.contains("altered"), "{message}");
        }
    }

    #[test]
    fn a_checkpoint_signed_with_another_key_is_reported() {
        let dir = tempfile::tempdir().expect("dir");
        let forged = Checkpoint::signed(&[1; 32], "greenlight", &head(), Utc::now());
        key_for_writing(&dir.path().join(KEY_FILE)).expect("key");
        write_atomically(&dir.path().join(CHECKPOINT_FILE), &forged).expect("write");
        assert!(load(dir.path(), "greenlight").is_err());
    }

    #[test]
    fn garbage_or_a_missing_key_is_reported_and_no_checkpoint_is_none() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(matches!(load(dir.path(), "greenlight"), Ok(Anchor::None)));
        std::fs::write(dir.path().join(CHECKPOINT_FILE), "{not json").expect("write");
        assert!(load(dir.path(), "greenlight").is_err());
        let other = tempfile::tempdir().expect("dir");
        written(other.path());
        std::fs::remove_file(other.path().join(KEY_FILE)).expect("rm key");
        let message = format!(
            "{:#}",
            load(other.path(), "greenlight").expect_err("no key")
        );
        assert!(message.contains("key"), "{message}");
    }

    #[test]
    fn a_checkpoint_of_another_database_is_told_apart() {
        let dir = tempfile::tempdir().expect("dir");
        written(dir.path());
        assert!(matches!(
            load(dir.path(), "other"),
            Ok(Anchor::OtherDatabase(name)) if name == "greenlight"
        ));
    }
}
