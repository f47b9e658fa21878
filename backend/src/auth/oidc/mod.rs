//! Single sign-on with OpenID Connect: the authorization-code flow with PKCE (the `oauth2`
//! crate), discovery, and an id_token we check ourselves against the issuer's JWKS, with the
//! nonce and the `state` of the sign-in this browser started.
//!
//! A verified sign-in becomes a normal session (same cookie and CSRF token as a local sign-in)
//! for the account linked to the issuer's `sub`, created at first sign-in, with the role the
//! user's groups map to at each sign-in.

mod accounts;
mod flow;
pub mod id_token;
mod logins;
mod provider;
pub mod settings;

pub use flow::{Answer, Callback, Oidc};
pub use settings::{OidcSettings, RoleMap, SignInOptions};

use shared::api::SsoError;
use std::sync::Arc;

/// How this server lets people in, as the handlers see it.
#[derive(Debug, Clone)]
pub struct SignInConfig {
    /// Whether user name and password sign-in is allowed.
    pub local_accounts: bool,
    /// The OpenID Connect provider, when configured.
    pub oidc: Option<Arc<Oidc>>,
}

impl SignInConfig {
    /// Builds the provider client for `options`; `public_base` is the URL browsers use.
    pub fn new(options: SignInOptions, public_base: &str) -> anyhow::Result<Self> {
        let oidc = options
            .oidc
            .map(|settings| Oidc::new(settings, public_base).map(Arc::new))
            .transpose()?;
        Ok(Self {
            local_accounts: options.local_accounts,
            oidc,
        })
    }
}

/// Why a single sign-on was refused: the reason the person sees, and a detail for the log and
/// the audit event (never a token, code or secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: SsoError,
    pub detail: String,
    /// The account concerned, once known (the audit event's target).
    pub username: Option<String>,
}

fn refuse(kind: SsoError, detail: impl Into<String>) -> Refusal {
    Refusal {
        kind,
        detail: detail.into(),
        username: None,
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "single sign-on: database error");
        refuse(SsoError::Internal, "database error")
    }
}

/// The name of the short-lived cookie that ties a sign-in's `state` to the browser that
/// started it.
pub const BINDING_COOKIE: &str = "greenlight_oidc";

/// How long a sign-in may stay at the provider before its `state` is worthless.
pub const LOGIN_TTL: std::time::Duration = std::time::Duration::from_secs(10 * 60);
