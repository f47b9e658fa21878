//! Bearer tokens for Azure Resource Manager from `azure_identity`, cached and renewed a few
//! minutes before they expire, so requests never carry a token about to lapse and a burst of
//! requests asks the credential once.

use super::credential::{TokenFuture, TokenSource};
use super::error::WorkspaceError;
use crate::secret::Secret;
use azure_core::credentials::TokenCredential;
use azure_core::time::OffsetDateTime;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Renew this long before the token's expiry.
pub const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

#[derive(Clone)]
struct Cached {
    token: Secret,
    expires_on: OffsetDateTime,
}

/// A [`TokenSource`] over any `azure_identity` credential, for one scope.
pub struct AzureToken {
    credential: Arc<dyn TokenCredential>,
    scope: String,
    /// Held while a token is fetched, so concurrent callers share one fetch.
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for AzureToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureToken")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl AzureToken {
    /// `scope` is the resource's `/.default` scope, e.g. `https://management.azure.com/.default`.
    pub fn new(credential: Arc<dyn TokenCredential>, scope: String) -> Self {
        Self {
            credential,
            scope,
            cached: Mutex::new(None),
        }
    }

    async fn fresh_token(&self) -> Result<Secret, WorkspaceError> {
        let mut cached = self.cached.lock().await;
        let renew_at = |c: &Cached| c.expires_on - RENEW_BEFORE;
        if let Some(current) = cached.as_ref() {
            if OffsetDateTime::now_utc() < renew_at(current) {
                return Ok(current.token.clone());
            }
        }
        let issued = self
            .credential
            .get_token(&[self.scope.as_str()], None)
            .await
            // azure_identity's messages say which credential failed and why; they carry no
            // secret (tokens and client secrets are never in its errors).
            .map_err(|e| WorkspaceError::Credential(e.to_string()))?;
        let token = Secret::new(issued.token.secret());
        *cached = Some(Cached {
            token: token.clone(),
            expires_on: issued.expires_on,
        });
        Ok(token)
    }
}

impl TokenSource for AzureToken {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(self.fresh_token())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::credentials::{AccessToken, TokenRequestOptions};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A stand-in for Entra ID: hands out numbered tokens valid for `lifetime`.
    #[derive(Debug)]
    struct Issuer {
        issued: AtomicU32,
        lifetime: Duration,
    }

    #[async_trait::async_trait]
    impl TokenCredential for Issuer {
        async fn get_token(
            &self,
            scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            assert_eq!(scopes, ["https://management.azure.com/.default"]);
            let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(AccessToken::new(
                format!("token-{n}"),
                OffsetDateTime::now_utc() + self.lifetime,
            ))
        }
    }

    fn source(lifetime: Duration) -> (Arc<Issuer>, AzureToken) {
        let issuer = Arc::new(Issuer {
            issued: AtomicU32::new(0),
            lifetime,
        });
        let token = AzureToken::new(
            issuer.clone(),
            "https://management.azure.com/.default".into(),
        );
        (issuer, token)
    }

    #[tokio::test]
    async fn a_valid_token_is_reused_and_concurrent_callers_share_one_fetch() {
        let (issuer, source) = source(Duration::from_secs(3600));
        let (a, b, c) = tokio::join!(source.token(), source.token(), source.token());
        for token in [a, b, c] {
            assert_eq!(token.expect("token").expose(), "token-1");
        }
        assert_eq!(source.token().await.expect("token").expose(), "token-1");
        assert_eq!(issuer.issued.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_token_close_to_expiry_is_renewed_before_use() {
        // Valid for less than the renewal margin: every use asks for a new one.
        let (issuer, source) = source(RENEW_BEFORE - Duration::from_secs(1));
        assert_eq!(source.token().await.expect("token").expose(), "token-1");
        assert_eq!(source.token().await.expect("token").expose(), "token-2");
        assert_eq!(issuer.issued.load(Ordering::SeqCst), 2);
    }
}
