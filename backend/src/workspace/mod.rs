//! The ARM client: Greenlight's one way to reach a workspace — Azure ML through
//! `https://management.azure.com`, or the embedded local workspace, which speaks the same API.
//! Typed resources come from `shared::arm`; long-running operations are followed to their end;
//! throttling and transient failures are retried; endpoint updates never drop traffic.

pub mod azure;
mod azure_credential;
mod azure_transport;
mod client;
mod credential;
mod data_plane;
mod error;
mod lro;
pub mod monitor;
pub mod new_deployment;
mod observer;
mod retry;

pub use azure_credential::AzureToken;
pub use azure_transport::ReqwestTransport;
pub use client::{ArmClient, ArmClientConfig};
pub use credential::{StaticToken, TokenSource};
pub use data_plane::Invocation;
pub use error::WorkspaceError;
pub use observer::{observed, OperationObserver, OperationUrl};
pub use retry::RetryPolicy;
