//! The local workspace driven over plain HTTP, as any ARM client would drive Azure: the seed's
//! whole rollout flow with real instance processes, and Azure's rules refused by field.
//! Instances run sandboxed (`sandbox`). Deliberately not through Greenlight's own ARM client,
//! so the two check each other.

mod assets;
mod auth;
#[path = "../common/mod.rs"]
mod common;
mod faults;
mod helpers;
mod instances;
mod rules;
mod sandbox;
mod scoring;
mod seed_flow;
mod uploads;
