//! API tests: the real router on a real socket (port 0) over a fresh Postgres database each.

mod accounts;
mod approval_latency;
mod audit;
mod audit_review_bench;
mod authorization;
mod change_requests;
#[path = "../common/mod.rs"]
mod common;
mod endpoints;
mod events;
mod exposure;
mod faults;
mod freeze;
mod gates;
mod guard;
mod health;
mod helpers;
mod hygiene;
mod metrics;
mod oidc;
mod oidc_issuer;
mod operation_end;
mod rollout_flow;
mod rollouts;
mod scrape;
mod session;
mod static_files;
mod text_rules;
mod tokens;
mod users;
mod webhook_receiver;
mod webhooks;
mod workspace_rules;
mod zero_drop_bench;
