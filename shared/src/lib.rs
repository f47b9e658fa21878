//! Greenlight's API types and domain rules.
//!
//! Everything here is used by more than one side — the server, the browser console and (later)
//! the local workspace — so a rule is written once and enforced identically everywhere. The crate
//! builds for `wasm32-unknown-unknown`; server-only derives sit behind the `openapi` feature.

pub mod api;
pub mod audit;
pub mod error;
pub mod role;
pub mod username;

pub use error::{ErrorBody, ErrorEnvelope, FieldError};
pub use role::Role;
pub use username::Username;
