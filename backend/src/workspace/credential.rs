//! Where bearer tokens come from: a static token for the local workspace, `azure_identity` for
//! Azure (behind the same trait, so tests never wait on a real Azure credential).

use super::error::WorkspaceError;
use crate::secret::Secret;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so token sources can sit behind `Arc<dyn TokenSource>`.
pub type TokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Secret, WorkspaceError>> + Send + 'a>>;

/// Gives a bearer token for ARM requests. Implementations cache and refresh as they need.
pub trait TokenSource: Send + Sync + std::fmt::Debug {
    fn token(&self) -> TokenFuture<'_>;
}

/// A fixed token: the local workspace's dev token, or one a test hands in.
#[derive(Debug, Clone)]
pub struct StaticToken(pub Secret);

impl TokenSource for StaticToken {
    fn token(&self) -> TokenFuture<'_> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }
}
