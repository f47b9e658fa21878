//! The tamper-evident audit log.
//!
//! Each row's `hash` is SHA-256 over the previous row's hash and the row's canonical content,
//! so changing, removing or reordering any row breaks every hash after it. Rows are written in
//! the same transaction as the change they record; a trigger refuses UPDATE and DELETE. The
//! chain's head is anchored outside the database by a signed checkpoint file (see
//! [`checkpoint`]), so a cut tail or a recomputed chain is detected too.

pub mod attribution;
mod chain;
pub mod checkpoint;
mod verify;
mod watch;

pub use chain::{record, AuditEvent};
pub use chain::{row_hash, RowContent, GENESIS};
pub use checkpoint::{Anchor, Checkpointer};
pub use verify::{verify, verify_anchored, Head, Verdict};
pub use watch::ChainWatch;
