//! Greenlight's API types and domain rules.
//!
//! Everything here is used by more than one side — the server, the browser console and the local
//! workspace — so a rule is written once and enforced identically everywhere. The crate builds
//! for `wasm32-unknown-unknown`; server-only derives sit behind the `openapi` feature.
//!
//! - [`names`], [`limits`], [`traffic`], [`deployment`], [`asset`]: the rules Azure ML applies to
//!   endpoints, deployments and the asset references they carry.
//! - [`environment`]: which environment variables and scoring script paths a deployment may use,
//!   so its settings steer only its own model code.
//! - [`text`]: what free text (descriptions, tags, environment values, reasons) may hold.
//! - [`audit_filter`], [`audit_diff`]: which audit events a reader asked for, and what an
//!   event changed.
//! - [`freeze`]: freeze windows, and (feature `tz`) whether an instant falls inside one.
//! - [`arm`]: the Azure Resource Manager wire format both the ARM client and the local workspace
//!   speak.

pub mod api;
pub mod arm;
pub mod asset;
pub mod audit;
pub mod audit_diff;
pub mod audit_filter;
pub mod deployment;
pub mod environment;
pub mod error;
pub mod freeze;
pub mod gates;
pub mod limits;
pub mod names;
pub mod role;
pub mod rollout;
pub mod text;
pub mod traffic;
pub mod username;
pub mod webhooks;

pub use asset::{AssetKind, AssetRef, AssetRefError};
pub use deployment::check_deployment;
pub use environment::{check_scoring_script, check_variable, check_variable_name};
pub use error::{ErrorBody, ErrorEnvelope, FieldError, WorkspaceErrorDetails};
pub use limits::{format_iso8601_duration, parse_iso8601_duration, DurationError};
pub use names::{DeploymentName, EndpointName, NameError, ResourceName};
pub use role::Role;
pub use traffic::{check_deployment_delete, check_traffic, traffic_version, RuleViolation};
pub use username::Username;
