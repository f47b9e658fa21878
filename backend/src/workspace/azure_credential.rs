//! Bearer tokens for Azure Resource Manager from `azure_identity`, cached and renewed a few
//! minutes before they expire, so requests never carry a token about to lapse and a burst of
//! requests asks the credential once.
//!
//! The credential is the slow, fallible part (an Entra ID round trip, an `az` process, an IMDS
//! call that offline only gives up after about 80 s of retries), so the cache also keeps one bad
//! moment of the credential from stalling every request: a fetch is bounded in time, a failure is
//! remembered for a few seconds (callers queued behind a failed fetch get its answer at once
//! instead of each waiting out a fetch of their own), and a renewal that fails while the current
//! token is still valid keeps serving that token.

use super::credential::{TokenFuture, TokenSource};
use super::error::WorkspaceError;
use crate::secret::Secret;
use azure_core::credentials::TokenCredential;
use azure_core::time::OffsetDateTime;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Renew this long before the token's expiry.
pub const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// After a failed renewal, the old token is still used while it has at least this long to live
/// (a request may take a while to reach ARM; a token that lapses on the way is a 401).
const STILL_USABLE_FOR: Duration = Duration::from_secs(30);

/// How long one fetch may take. An HTTP request waits on it, and so does every request queued
/// behind it; `azure_identity`'s own retries would otherwise hold them for over a minute.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a failed fetch stands before the credential is asked again.
const RETRY_AFTER: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Cached {
    token: Secret,
    expires_on: OffsetDateTime,
}

/// What the last fetch left behind.
#[derive(Default)]
struct State {
    cached: Option<Cached>,
    /// When and why the last fetch failed; `None` once one succeeds. The reason is
    /// `azure_identity`'s message, which names the credential and its reason, never a secret.
    failure: Option<(Instant, String)>,
}

/// A [`TokenSource`] over any `azure_identity` credential, for one scope.
pub struct AzureToken {
    credential: Arc<dyn TokenCredential>,
    scope: String,
    fetch_timeout: Duration,
    retry_after: Duration,
    /// Held during a fetch, so concurrent callers share one fetch.
    state: Mutex<State>,
}

impl std::fmt::Debug for AzureToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureToken")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

fn live_for(cached: &Cached, margin: Duration) -> bool {
    OffsetDateTime::now_utc() < cached.expires_on - margin
}

impl AzureToken {
    /// `scope` is the resource's `/.default` scope, e.g. `https://management.azure.com/.default`.
    pub fn new(credential: Arc<dyn TokenCredential>, scope: String) -> Self {
        Self {
            credential,
            scope,
            fetch_timeout: FETCH_TIMEOUT,
            retry_after: RETRY_AFTER,
            state: Mutex::new(State::default()),
        }
    }

    async fn fresh_token(&self) -> Result<Secret, WorkspaceError> {
        let mut state = self.state.lock().await;
        if let Some(current) = state.cached.as_ref() {
            if live_for(current, RENEW_BEFORE) {
                return Ok(current.token.clone());
            }
        }
        let failed_recently = state
            .failure
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < self.retry_after);
        if !failed_recently {
            self.fetch(&mut state).await;
        }
        Self::outcome(&state)
    }

    /// Asks the credential once, within the fetch timeout, and records the answer.
    async fn fetch(&self, state: &mut State) {
        let fetched = tokio::time::timeout(
            self.fetch_timeout,
            self.credential.get_token(&[self.scope.as_str()], None),
        )
        .await;
        let reason = match fetched {
            Ok(Ok(issued)) => {
                state.cached = Some(Cached {
                    token: Secret::new(issued.token.secret()),
                    expires_on: issued.expires_on,
                });
                state.failure = None;
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!(
                "the Azure credential gave no token within {:?}",
                self.fetch_timeout
            ),
        };
        if let Some(current) = state.cached.as_ref() {
            tracing::warn!(
                %reason,
                expires_on = %current.expires_on,
                "renewing the Azure token failed; the current one is used while it lasts"
            );
        }
        state.failure = Some((Instant::now(), reason));
    }

    /// What the last fetch left: its token, the previous one while a failed renewal leaves it
    /// usable, or the failure.
    fn outcome(state: &State) -> Result<Secret, WorkspaceError> {
        match (&state.failure, &state.cached) {
            (None, Some(current)) => Ok(current.token.clone()),
            (Some(_), Some(current)) if live_for(current, STILL_USABLE_FOR) => {
                Ok(current.token.clone())
            }
            (Some((_, reason)), _) => Err(WorkspaceError::Credential(reason.clone())),
            (None, None) => Err(WorkspaceError::Credential(
                "the Azure credential has not given a token yet".into(),
            )),
        }
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
    use azure_core::error::{Error, ErrorKind};
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug, Clone, Copy)]
    enum Mood {
        Issues,
        Fails,
        Hangs,
    }

    /// A stand-in for Entra ID: hands out numbered tokens valid for `lifetime`, or fails, or
    /// never answers, as the test sets its mood.
    #[derive(Debug)]
    struct Issuer {
        asked: AtomicU32,
        lifetime: Duration,
        mood: std::sync::Mutex<Mood>,
    }

    impl Issuer {
        fn set(&self, mood: Mood) {
            *self.mood.lock().expect("mood") = mood;
        }
    }

    #[async_trait::async_trait]
    impl TokenCredential for Issuer {
        async fn get_token(
            &self,
            scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            assert_eq!(scopes, ["https://management.azure.com/.default"]);
            let n = self.asked.fetch_add(1, Ordering::SeqCst) + 1;
            let mood = *self.mood.lock().expect("mood");
            tokio::time::sleep(Duration::from_millis(20)).await;
            match mood {
                Mood::Issues => Ok(AccessToken::new(
                    format!("token-{n}"),
                    OffsetDateTime::now_utc() + self.lifetime,
                )),
                Mood::Fails => Err(Error::with_message(
                    ErrorKind::Credential,
                    "Entra ID is down",
                )),
                Mood::Hangs => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Err(Error::with_message(ErrorKind::Credential, "gave up"))
                }
            }
        }
    }

    fn source(lifetime: Duration, mood: Mood) -> (Arc<Issuer>, AzureToken) {
        let issuer = Arc::new(Issuer {
            asked: AtomicU32::new(0),
            lifetime,
            mood: std::sync::Mutex::new(mood),
        });
        let token = AzureToken::new(
            issuer.clone(),
            "https://management.azure.com/.default".into(),
        );
        (issuer, token)
    }

    fn asked(issuer: &Issuer) -> u32 {
        issuer.asked.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_valid_token_is_reused_and_concurrent_callers_share_one_fetch() {
        let (issuer, source) = source(Duration::from_secs(3600), Mood::Issues);
        let (a, b, c) = tokio::join!(source.token(), source.token(), source.token());
        for token in [a, b, c] {
            assert_eq!(token.expect("token").expose(), "token-1");
        }
        assert_eq!(source.token().await.expect("token").expose(), "token-1");
        assert_eq!(asked(&issuer), 1);
    }

    #[tokio::test]
    async fn a_token_close_to_expiry_is_renewed_before_use() {
        // Valid for less than the renewal margin: every use asks for a new one.
        let (issuer, source) = source(RENEW_BEFORE - Duration::from_secs(1), Mood::Issues);
        assert_eq!(source.token().await.expect("token").expose(), "token-1");
        assert_eq!(source.token().await.expect("token").expose(), "token-2");
        assert_eq!(asked(&issuer), 2);
    }

    #[tokio::test]
    async fn a_failed_renewal_keeps_serving_the_token_that_is_still_valid() {
        let (issuer, mut source) = source(RENEW_BEFORE - Duration::from_secs(1), Mood::Issues);
        source.retry_after = Duration::ZERO;
        assert_eq!(source.token().await.expect("token").expose(), "token-1");
        issuer.set(Mood::Fails);
        // Due for renewal, renewal fails: the current token still has minutes to live.
        assert_eq!(source.token().await.expect("token").expose(), "token-1");
        assert_eq!(asked(&issuer), 2, "the renewal was tried");
        issuer.set(Mood::Issues);
        assert_eq!(source.token().await.expect("token").expose(), "token-3");
    }

    #[tokio::test]
    async fn callers_queued_behind_a_failed_fetch_share_its_failure_until_a_retry() {
        let (issuer, mut source) = source(Duration::from_secs(3600), Mood::Fails);
        source.retry_after = Duration::from_millis(200);
        let (a, b, c) = tokio::join!(source.token(), source.token(), source.token());
        for answer in [a, b, c] {
            let error = answer.expect_err("no token to be had").to_string();
            assert!(error.contains("Entra ID is down"), "{error}");
        }
        assert_eq!(asked(&issuer), 1, "one fetch for all three");
        issuer.set(Mood::Issues);
        assert!(source.token().await.is_err(), "the failure stands a while");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(source.token().await.expect("token").expose(), "token-2");
    }

    #[tokio::test]
    async fn a_credential_that_never_answers_is_given_up_after_the_fetch_timeout() {
        let (_issuer, mut source) = source(Duration::from_secs(3600), Mood::Hangs);
        source.fetch_timeout = Duration::from_millis(100);
        let started = Instant::now();
        let error = source.token().await.expect_err("no token").to_string();
        assert!(error.contains("no token within"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
