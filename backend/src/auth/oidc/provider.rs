//! What the provider publishes: its discovery document (read on first use, kept a day) and
//! its signing keys (kept until a token names a key we do not have, then fetched once more).

use super::id_token::{self, Jwk};
use super::{refuse, Refusal};
use serde::Deserialize;
use shared::api::SsoError;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long the discovery document is trusted before it is read again.
const METADATA_TTL: Duration = Duration::from_secs(24 * 3600);

/// The discovery members the flow uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

#[derive(Debug)]
pub struct Provider {
    issuer: String,
    http: reqwest::Client,
    metadata: Mutex<Option<(Metadata, Instant)>>,
    keys: Mutex<Vec<Jwk>>,
}

impl Provider {
    pub fn new(issuer: &str) -> anyhow::Result<Self> {
        // No redirects: a provider's endpoints answer directly, and following them would let a
        // misconfigured one point our requests anywhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()?;
        Ok(Self {
            issuer: issuer.to_owned(),
            http,
            metadata: Mutex::new(None),
            keys: Mutex::new(Vec::new()),
        })
    }

    /// The HTTP client for the provider (the code exchange goes through it too).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The discovery document, read now if not yet (or no longer) cached.
    pub async fn metadata(&self) -> Result<Metadata, Refusal> {
        let mut cached = self.metadata.lock().await;
        if let Some((metadata, at)) = cached.as_ref() {
            if at.elapsed() < METADATA_TTL {
                return Ok(metadata.clone());
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let metadata: Metadata = serde_json::from_value(self.get_json(&url).await?)
            .map_err(|e| unreachable(format!("the discovery document is incomplete: {e}")))?;
        if metadata.issuer != self.issuer {
            return Err(unreachable(format!(
                "the discovery document names issuer {:?}, not the configured {:?}",
                metadata.issuer, self.issuer
            )));
        }
        *cached = Some((metadata.clone(), Instant::now()));
        Ok(metadata)
    }

    /// The keys to check `token` with: the cached ones, fetched again when the token names a
    /// key they do not hold (the provider rotated its keys).
    pub async fn keys_for(&self, token: &str, jwks_uri: &str) -> Result<Vec<Jwk>, Refusal> {
        let mut keys = self.keys.lock().await;
        if keys.is_empty() || !id_token::has_key_for(token, &keys) {
            *keys = id_token::parse_jwks(&self.get_json(jwks_uri).await?);
        }
        Ok(keys.clone())
    }

    async fn get_json(&self, url: &str) -> Result<serde_json::Value, Refusal> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unreachable(format!("GET {url}: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(unreachable(format!("GET {url} answered {status}")));
        }
        response
            .json()
            .await
            .map_err(|e| unreachable(format!("GET {url}: not JSON: {e}")))
    }
}

fn unreachable(detail: String) -> Refusal {
    refuse(SsoError::ProviderUnreachable, detail)
}
