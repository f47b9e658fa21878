//! The Greenlight server: REST API and static console over axum, local accounts and sessions,
//! the tamper-evident audit log, and the Postgres store (or a private cluster it runs itself).

pub mod app;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod change_requests;
pub mod cli;
pub mod config;
pub mod emulator;
pub mod events;
pub mod failpoint;
pub mod freeze;
pub mod http;
pub mod metrics_summary;
pub mod operations;
pub mod postgres;
pub mod prometheus;
pub mod rollouts;
pub mod secret;
pub mod server;
pub mod store;
pub mod sys;
mod telemetry;
pub mod webhooks;
pub mod workspace;
