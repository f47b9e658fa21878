//! Queries against Greenlight's own tables. Each write that changes state records its audit
//! event in the same transaction.
//!
//! Queries are `sqlx::query!` and friends, checked at compile time against the data in `.sqlx/`
//! (`scripts/sqlx-prepare.sh` refreshes it). A constraint the database enforces becomes a
//! [`StoreError`] at the query that can break it, through [`ResultExt::on_constraint`].

pub mod audit;
pub mod change_requests;
pub mod freeze;
pub mod gauges;
pub mod leases;
pub mod operations;
pub mod rollouts;
pub mod tokens;
pub mod users;
pub mod webhooks;

use sqlx::error::DatabaseError;
use sqlx::PgPool;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule refused the write; `field` names the input that clashed.
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    /// The row the write is about does not exist.
    #[error("no such record")]
    NotFound,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// A [`StoreError::Conflict`] about `field`.
    pub fn conflict(field: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            field,
            message: message.into(),
        }
    }
}

/// A read-only transaction in which every query sees the database as of its first one. A view
/// assembled from several queries reads through it, so it never mixes states from before and
/// after a concurrent commit (e.g. a rollout still `running` beside the request that made it
/// wait for approval). Dropped without a commit, it ends with a rollback, which is all it needs.
///
/// The isolation level is part of the `BEGIN` itself: a separate `SET TRANSACTION` after it was
/// refused once under load ("must be called before any query").
pub async fn snapshot(pool: &PgPool) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    pool.begin_with("begin isolation level repeatable read, read only")
        .await
}

/// Turns the violation of one named constraint into the error the caller should see.
pub trait ResultExt<T> {
    /// When this is the database refusing a write because of the constraint (or unique index)
    /// `name`, the error `map` makes of it; any other error passes through unchanged. One call
    /// per constraint a query can break:
    ///
    /// ```ignore
    /// .await
    /// .on_constraint("users_username_key", |_| StoreError::conflict("username", "taken"))?;
    /// ```
    fn on_constraint(
        self,
        name: &str,
        map: impl FnOnce(&dyn DatabaseError) -> StoreError,
    ) -> Result<T, StoreError>;
}

impl<T, E: Into<StoreError>> ResultExt<T> for Result<T, E> {
    fn on_constraint(
        self,
        name: &str,
        map: impl FnOnce(&dyn DatabaseError) -> StoreError,
    ) -> Result<T, StoreError> {
        self.map_err(|err| match err.into() {
            StoreError::Database(sqlx::Error::Database(db)) if db.constraint() == Some(name) => {
                map(db.as_ref())
            }
            other => other,
        })
    }
}

/// Whether the database answers a trivial query.
pub async fn ping(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query_scalar!(r#"select 1 as "one!""#)
        .fetch_one(pool)
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::error::ErrorKind;
    use std::borrow::Cow;

    /// What Postgres reports for a refused write, as far as `on_constraint` reads it.
    #[derive(Debug)]
    struct Refused {
        constraint: Option<&'static str>,
    }

    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("refused")
        }
    }

    impl std::error::Error for Refused {}

    impl DatabaseError for Refused {
        fn message(&self) -> &str {
            "refused"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some("23505".into())
        }
        fn constraint(&self) -> Option<&str> {
            self.constraint
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::UniqueViolation
        }
    }

    fn refused(constraint: Option<&'static str>) -> Result<(), sqlx::Error> {
        Err(sqlx::Error::Database(Box::new(Refused { constraint })))
    }

    fn taken(_: &dyn DatabaseError) -> StoreError {
        StoreError::conflict("username", "taken")
    }

    #[test]
    fn the_named_constraint_becomes_the_mapped_error() {
        let err = refused(Some("users_username_key"))
            .on_constraint("users_username_key", taken)
            .expect_err("refused");
        assert!(
            matches!(err, StoreError::Conflict { field: "username", ref message } if message == "taken"),
            "{err:?}"
        );
    }

    #[test]
    fn another_constraint_stays_a_database_error() {
        let err = refused(Some("sessions_user_id_fkey"))
            .on_constraint("users_username_key", taken)
            .expect_err("refused");
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    }

    #[test]
    fn an_error_without_a_constraint_stays_a_database_error() {
        let err = refused(None)
            .on_constraint("users_username_key", taken)
            .expect_err("refused");
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
        let err = Err::<(), _>(sqlx::Error::RowNotFound)
            .on_constraint("users_username_key", taken)
            .expect_err("not found");
        assert!(
            matches!(err, StoreError::Database(sqlx::Error::RowNotFound)),
            "{err:?}"
        );
    }

    #[test]
    fn mappings_chain_one_line_per_constraint() {
        let err = refused(Some("operations_one_traffic_change_per_endpoint"))
            .on_constraint("users_username_key", taken)
            .on_constraint("operations_one_traffic_change_per_endpoint", |_| {
                StoreError::conflict("traffic", "busy")
            })
            .expect_err("refused");
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    field: "traffic",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn success_passes_through() {
        let ok: Result<u8, sqlx::Error> = Ok(7);
        assert_eq!(
            ok.on_constraint("users_username_key", taken).expect("ok"),
            7
        );
    }
}
