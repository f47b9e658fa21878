//! API tests: the real router on a real socket (port 0) over a fresh Postgres database each.

mod audit;
#[path = "../common/mod.rs"]
mod common;
mod endpoints;
mod events;
mod exposure;
mod guard;
mod health;
mod helpers;
mod rollout_flow;
mod session;
mod users;
mod workspace_rules;
