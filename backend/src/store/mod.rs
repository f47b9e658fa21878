//! Queries against Greenlight's own tables. Each write that changes state records its audit
//! event in the same transaction.

pub mod operations;
pub mod users;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write; `field` names the input that clashed.
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// True when `err` is a unique violation of `constraint`.
pub(crate) fn violates(err: &sqlx::Error, constraint: &str) -> bool {
    err.as_database_error()
        .and_then(|e| e.constraint())
        .is_some_and(|c| c == constraint)
}
