//! Single sign-on (OpenID Connect): how the console learns which sign-in methods this server
//! offers, and the reasons a sign-in at the identity provider can be refused.

use serde::{Deserialize, Serialize};

/// `GET /api/v1/session/methods`: the ways to sign in here, for the sign-in page (anonymous).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInMethods {
    /// Whether local accounts (user name and password) may sign in.
    pub local_accounts: bool,
    /// The OpenID Connect provider, when one is configured.
    pub sso: Option<SsoProvider>,
}

/// An OpenID Connect provider the console offers a "Sign in with …" button for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoProvider {
    /// What the button names: `--oidc-display-name`, else the issuer's host.
    pub display_name: String,
    /// Where the button goes: starts the sign-in at the provider.
    pub start_url: String,
}

/// The path a browser is sent to to sign in at the provider.
pub const SSO_START_PATH: &str = "/api/v1/session/oidc/start";
/// The path the provider sends the browser back to (register `<public URL>` + this).
pub const SSO_CALLBACK_PATH: &str = "/api/v1/session/oidc/callback";
/// The query parameter of the sign-in page that carries a refused sign-in's [`SsoError`].
pub const SSO_ERROR_PARAM: &str = "sso_error";

/// Why a single sign-on was refused. The callback sends the browser to the sign-in page with
/// `?sso_error=<code>`; the page shows [`SsoError::message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SsoError {
    /// The provider answered with an error (the user cancelled, or the client is not allowed).
    ProviderRefused,
    /// The answer's `state` is unknown, already used, expired, or from another browser.
    StateMismatch,
    /// The provider could not be reached or answered something unusable.
    ProviderUnreachable,
    /// The provider refused to exchange the authorization code.
    CodeExchangeFailed,
    /// The id_token's signature does not verify with the issuer's published keys.
    BadSignature,
    /// The id_token is signed with an algorithm Greenlight does not accept (`none`, HS*, …).
    UnsupportedAlgorithm,
    /// The id_token is not for this client (`aud` / `azp`).
    WrongAudience,
    /// The id_token is from another issuer.
    WrongIssuer,
    /// The id_token has expired, or is not valid yet.
    Expired,
    /// The id_token's nonce is not the one this sign-in sent.
    WrongNonce,
    /// The id_token cannot be read (not a JWS, a required claim missing).
    MalformedToken,
    /// None of the user's groups maps to a Greenlight role.
    NoRole,
    /// The account is disabled here.
    AccountDisabled,
    /// Local accounts only: single sign-on is not configured.
    NotConfigured,
    /// Anything unexpected on Greenlight's side.
    Internal,
}

impl SsoError {
    pub const ALL: [SsoError; 15] = [
        SsoError::ProviderRefused,
        SsoError::StateMismatch,
        SsoError::ProviderUnreachable,
        SsoError::CodeExchangeFailed,
        SsoError::BadSignature,
        SsoError::UnsupportedAlgorithm,
        SsoError::WrongAudience,
        SsoError::WrongIssuer,
        SsoError::Expired,
        SsoError::WrongNonce,
        SsoError::MalformedToken,
        SsoError::NoRole,
        SsoError::AccountDisabled,
        SsoError::NotConfigured,
        SsoError::Internal,
    ];

    /// The stable code in the redirect and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            SsoError::ProviderRefused => "provider_refused",
            SsoError::StateMismatch => "state_mismatch",
            SsoError::ProviderUnreachable => "provider_unreachable",
            SsoError::CodeExchangeFailed => "code_exchange_failed",
            SsoError::BadSignature => "bad_signature",
            SsoError::UnsupportedAlgorithm => "unsupported_algorithm",
            SsoError::WrongAudience => "wrong_audience",
            SsoError::WrongIssuer => "wrong_issuer",
            SsoError::Expired => "expired_token",
            SsoError::WrongNonce => "wrong_nonce",
            SsoError::MalformedToken => "malformed_token",
            SsoError::NoRole => "no_role",
            SsoError::AccountDisabled => "account_disabled",
            SsoError::NotConfigured => "not_configured",
            SsoError::Internal => "internal",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == code)
    }

    /// What the sign-in page tells the person.
    pub fn message(self) -> &'static str {
        match self {
            SsoError::ProviderRefused => {
                "The identity provider did not sign you in (cancelled or not allowed)."
            }
            SsoError::StateMismatch => {
                "This sign-in link was already used, has expired, or was started in another \
                 browser. Start again."
            }
            SsoError::ProviderUnreachable => {
                "The identity provider could not be reached. Try again later."
            }
            SsoError::CodeExchangeFailed => {
                "The identity provider refused to complete the sign-in. Start again."
            }
            SsoError::BadSignature => {
                "The identity provider's token has an invalid signature; sign-in refused."
            }
            SsoError::UnsupportedAlgorithm => {
                "The identity provider's token is signed with an algorithm Greenlight does not \
                 accept; sign-in refused."
            }
            SsoError::WrongAudience => {
                "The identity provider's token was issued for another application; sign-in \
                 refused."
            }
            SsoError::WrongIssuer => {
                "The token comes from another identity provider; sign-in refused."
            }
            SsoError::Expired => {
                "The identity provider's token has expired (check the server clocks); sign-in \
                 refused."
            }
            SsoError::WrongNonce => {
                "The identity provider's token does not belong to this sign-in; sign-in refused."
            }
            SsoError::MalformedToken => {
                "The identity provider's token could not be read; sign-in refused."
            }
            SsoError::NoRole => {
                "You signed in, but none of your groups gives access to Greenlight. Ask an \
                 administrator to add you to one of its groups."
            }
            SsoError::AccountDisabled => "Your Greenlight account is disabled.",
            SsoError::NotConfigured => "Single sign-on is not configured on this server.",
            SsoError::Internal => "Something went wrong on our side. Try again.",
        }
    }
}

impl std::fmt::Display for SsoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back_and_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for error in SsoError::ALL {
            assert_eq!(SsoError::parse(error.as_str()), Some(error));
            assert!(seen.insert(error.as_str()), "{error} twice");
            assert!(!error.message().is_empty());
        }
        assert_eq!(SsoError::parse("nope"), None);
    }
}
