//! The tamper-evident audit log.
//!
//! Each row's `hash` is SHA-256 over the previous row's hash and the row's canonical content,
//! so changing, removing or reordering any row breaks every hash after it. Rows are written in
//! the same transaction as the change they record; a trigger refuses UPDATE and DELETE.

mod chain;
mod verify;

pub use chain::{record, AuditEvent};
pub use verify::{verify, Verdict};
