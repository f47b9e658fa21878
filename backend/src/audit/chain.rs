//! Appending to the hash chain.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use shared::audit::AuditAction;
use sqlx::PgConnection;

/// The hash the first row chains from.
pub const GENESIS: [u8; 32] = [0; 32];

/// Serializes all writers of the chain, so each row sees the hash of the row before it. Held
/// until the surrounding transaction ends.
const CHAIN_LOCK_KEY: i64 = 0x4752_4545_4e4c_4954; // "GREENLIT"

/// What happened, who did it and to what. `details` must never carry a secret.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub actor: String,
    pub action: AuditAction,
    pub target: String,
    pub details: Value,
}

/// Appends `event` to the chain inside the caller's transaction and returns its id.
///
/// Within a request made with an API token, an event of the token's creator names the token
/// (see [`super::attribution`]).
pub async fn record(tx: &mut PgConnection, event: &AuditEvent) -> sqlx::Result<i64> {
    let attributed = super::attribution::attribute(&event.actor, &event.details);
    let (actor, details) = match &attributed {
        Some((actor, details)) => (actor.as_str(), details),
        None => (event.actor.as_str(), &event.details),
    };
    sqlx::query!("select pg_advisory_xact_lock($1)", CHAIN_LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    let prev_hash = sqlx::query_scalar!("select hash from audit_events order by id desc limit 1")
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or_else(|| GENESIS.to_vec());
    let id = sqlx::query_scalar!(
        r#"select nextval(pg_get_serial_sequence('audit_events', 'id')) as "id!""#
    )
    .fetch_one(&mut *tx)
    .await?;
    // Postgres keeps microseconds; hash exactly what will be stored.
    let at = Utc::now().trunc_subsecs(6);
    let hash = row_hash(
        &prev_hash,
        &RowContent {
            id,
            at,
            actor,
            action: event.action.as_str(),
            target: &event.target,
            details,
        },
    );
    sqlx::query!(
        "insert into audit_events (id, at, actor, action, target, details, prev_hash, hash)
         overriding system value
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        at,
        actor,
        event.action.as_str(),
        event.target,
        details,
        prev_hash,
        hash.as_slice(),
    )
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// The fields a row's hash covers.
#[derive(Debug)]
pub struct RowContent<'a> {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub details: &'a Value,
}

/// SHA-256(prev_hash || canonical JSON of the row). The canonical form is a JSON array with
/// the time in RFC 3339 at microsecond precision; `serde_json::Value` keeps object keys sorted,
/// so `details` serializes the same however Postgres' jsonb reorders it. Public for bulk
/// loaders (the audit review benchmark) that write a valid chain without [`record`].
pub fn row_hash(prev_hash: &[u8], row: &RowContent<'_>) -> [u8; 32] {
    let canonical = serde_json::json!([
        row.id,
        row.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        row.actor,
        row.action,
        row.target,
        row.details,
    ]);
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(canonical.to_string().as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(details: &Value) -> RowContent<'_> {
        RowContent {
            id: 7,
            at: DateTime::<Utc>::UNIX_EPOCH,
            actor: "alice",
            action: "session.sign_in",
            target: "alice",
            details,
        }
    }

    #[test]
    fn the_hash_depends_on_the_previous_hash() {
        let details = serde_json::json!({});
        assert_ne!(
            row_hash(&GENESIS, &sample(&details)),
            row_hash(&[1; 32], &sample(&details))
        );
    }

    #[test]
    fn the_hash_ignores_key_order_in_details() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":2}"#).expect("json");
        let b: Value = serde_json::from_str(r#"{"b":2,"a":1}"#).expect("json");
        assert_eq!(
            row_hash(&GENESIS, &sample(&a)),
            row_hash(&GENESIS, &sample(&b))
        );
    }

    #[test]
    fn the_hash_covers_every_field() {
        let details = serde_json::json!({"k": "v"});
        let base = row_hash(&GENESIS, &sample(&details));
        let other_details = serde_json::json!({"k": "w"});
        let variants = [
            RowContent {
                id: 8,
                ..sample(&details)
            },
            RowContent {
                at: Utc::now(),
                ..sample(&details)
            },
            RowContent {
                actor: "bob",
                ..sample(&details)
            },
            RowContent {
                action: "session.sign_out",
                ..sample(&details)
            },
            RowContent {
                target: "bob",
                ..sample(&details)
            },
            sample(&other_details),
        ];
        for variant in variants {
            assert_ne!(row_hash(&GENESIS, &variant), base);
        }
    }
}
