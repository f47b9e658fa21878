//! The two legs of a sign-in: sending the browser to the provider (PKCE, state, nonce), and
//! taking it back (state, code exchange, id_token checks, role, session).

use super::accounts::{self, Identity};
use super::id_token::{self, Expected};
use super::provider::Provider;
use super::{logins, refuse, OidcSettings, Refusal};
use crate::audit::{self, AuditEvent};
use crate::auth::session::{CurrentSession, SessionSettings};
use crate::secret::{constant_time_eq, Secret};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use shared::api::{SsoError, SsoProvider, SSO_CALLBACK_PATH, SSO_START_PATH};
use shared::audit::AuditAction;
use sqlx::PgPool;

/// The token endpoint's answer: OAuth's, plus OpenID Connect's id_token.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct IdTokenFields {
    #[serde(default)]
    id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenFields {}

type TokenResponse = StandardTokenResponse<IdTokenFields, BasicTokenType>;

/// `oauth2`'s basic client, with a token response that keeps the id_token.
type Client = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The query the provider sends the browser back with.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Callback {
    /// The authorization code, on success.
    pub code: Option<String>,
    /// The `state` sent with the sign-in.
    pub state: Option<String>,
    /// The provider's error code, when it did not sign the user in.
    pub error: Option<String>,
}

/// The provider's answer as the browser brought it back.
#[derive(Debug)]
pub struct Answer<'a> {
    pub callback: &'a Callback,
    /// The binding cookie, when the browser sent it.
    pub binding: Option<&'a Secret>,
    /// The browser's address, for the audit log.
    pub client_addr: &'a str,
}

/// Single sign-on with one OpenID Connect provider.
#[derive(Debug)]
pub struct Oidc {
    settings: OidcSettings,
    redirect: RedirectUrl,
    provider: Provider,
}

impl Oidc {
    /// `public_base` is where browsers reach Greenlight (`--public-url`, else the listen
    /// address): the redirect URI to register at the provider is it + [`SSO_CALLBACK_PATH`].
    pub fn new(settings: OidcSettings, public_base: &str) -> anyhow::Result<Self> {
        let redirect = RedirectUrl::new(format!(
            "{}{SSO_CALLBACK_PATH}",
            public_base.trim_end_matches('/')
        ))?;
        let provider = Provider::new(&settings.issuer)?;
        Ok(Self {
            settings,
            redirect,
            provider,
        })
    }

    pub fn redirect_uri(&self) -> &str {
        self.redirect.as_str()
    }

    /// What the sign-in page shows.
    pub fn info(&self) -> SsoProvider {
        SsoProvider {
            display_name: self.settings.display_name.clone(),
            start_url: SSO_START_PATH.to_owned(),
        }
    }

    async fn client(&self) -> Result<(Client, String), Refusal> {
        let metadata = self.provider.metadata().await?;
        let bad = |what: &str| {
            refuse(
                SsoError::ProviderUnreachable,
                format!("the discovery document's {what} is not a URL"),
            )
        };
        let mut client = oauth2::Client::new(ClientId::new(self.settings.client_id.clone()))
            .set_auth_uri(
                AuthUrl::new(metadata.authorization_endpoint)
                    .map_err(|_| bad("authorization_endpoint"))?,
            )
            .set_token_uri(
                TokenUrl::new(metadata.token_endpoint).map_err(|_| bad("token_endpoint"))?,
            )
            .set_redirect_uri(self.redirect.clone());
        if let Some(secret) = &self.settings.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
        }
        Ok((client, metadata.jwks_uri))
    }

    /// Where to send the browser, and the binding value for its cookie.
    pub async fn begin(&self, pool: &PgPool) -> Result<(String, Secret), Refusal> {
        let (client, _) = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random();
        let binding = CsrfToken::new_random();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.settings.scopes.iter().cloned().map(Scope::new))
            .add_extra_param("nonce", nonce.secret())
            .set_pkce_challenge(challenge)
            .url();
        logins::save(
            pool,
            state.secret(),
            binding.secret(),
            nonce.secret(),
            verifier.secret(),
        )
        .await?;
        Ok((url.to_string(), Secret::new(binding.secret().clone())))
    }

    /// Finishes a sign-in; a refusal is recorded in the audit log before it is returned.
    pub async fn finish(
        &self,
        pool: &PgPool,
        answer: &Answer<'_>,
        sessions: &SessionSettings,
    ) -> Result<(Secret, CurrentSession), Refusal> {
        let outcome = self.attempt(pool, answer, sessions).await;
        if let Err(refusal) = &outcome {
            tracing::warn!(reason = %refusal.kind, detail = %refusal.detail, "single sign-on refused");
            if let Err(err) = record_refusal(pool, refusal, answer.client_addr).await {
                tracing::error!(error = %err, "recording a refused single sign-on");
            }
        }
        outcome
    }

    async fn attempt(
        &self,
        pool: &PgPool,
        &Answer {
            callback,
            binding,
            client_addr,
        }: &Answer<'_>,
        sessions: &SessionSettings,
    ) -> Result<(Secret, CurrentSession), Refusal> {
        let state = callback.state.as_deref().unwrap_or_default();
        // The state is used up whatever happens next, so an answer cannot be replayed.
        let login = match state {
            "" => None,
            state => logins::take(pool, state).await?,
        };
        if let Some(error) = &callback.error {
            return Err(refuse(
                SsoError::ProviderRefused,
                format!("the provider answered error={:?}", truncate(error)),
            ));
        }
        let login = login
            .filter(|login| {
                binding.is_some_and(|b| {
                    constant_time_eq(&logins::hash(b.expose()), &login.binding_hash)
                })
            })
            .ok_or_else(|| {
                refuse(
                    SsoError::StateMismatch,
                    "no live sign-in with this state for this browser",
                )
            })?;
        let code = callback
            .code
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| refuse(SsoError::ProviderRefused, "the answer carries no code"))?;

        let (client, jwks_uri) = self.client().await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier))
            .request_async(self.provider.http())
            .await
            .map_err(|err| match err {
                RequestTokenError::ServerResponse(answer) => refuse(
                    SsoError::CodeExchangeFailed,
                    format!("the token endpoint refused: {}", answer.error().as_ref()),
                ),
                other => refuse(
                    SsoError::ProviderUnreachable,
                    format!("the token endpoint: {other}"),
                ),
            })?;
        let token =
            response.extra_fields().id_token.as_deref().ok_or_else(|| {
                refuse(SsoError::MalformedToken, "the token answer has no id_token")
            })?;

        let keys = self.provider.keys_for(token, &jwks_uri).await?;
        let claims = id_token::verify(
            token,
            &keys,
            &Expected {
                issuer: &self.settings.issuer,
                client_id: &self.settings.client_id,
                nonce: &login.nonce,
                now: chrono::Utc::now().timestamp(),
            },
        )?;
        let names: Vec<&str> = ["preferred_username", "email", "name"]
            .iter()
            .filter_map(|claim| claims.string(claim))
            .collect();
        let groups = claims.values_at(&self.settings.role_claim);
        let Some(role) = self.settings.role_map.role_for(groups.iter().copied()) else {
            return Err(Refusal {
                username: names.first().map(|n| truncate(n)),
                ..refuse(
                    SsoError::NoRole,
                    format!(
                        "none of the {} groups in {:?} is in --oidc-role-map",
                        groups.len(),
                        self.settings.role_claim
                    ),
                )
            });
        };
        accounts::sign_in(
            pool,
            &Identity {
                issuer: &self.settings.issuer,
                subject: &claims.subject,
                names,
                role,
            },
            sessions,
            client_addr,
        )
        .await
    }
}

/// At most 100 characters of something a provider or a browser sent.
fn truncate(text: &str) -> String {
    text.chars().take(100).collect()
}

/// `session.sign_in_failed` with the reason (it counts toward the sign-in rate limit of the
/// client's address like a wrong password).
async fn record_refusal(pool: &PgPool, refusal: &Refusal, client_addr: &str) -> sqlx::Result<()> {
    let target = refusal.username.clone().unwrap_or_else(|| "-".to_owned());
    let mut tx = pool.begin().await?;
    audit::record(
        &mut tx,
        &AuditEvent {
            actor: target.clone(),
            action: AuditAction::SignInFailed,
            target,
            details: serde_json::json!({
                "client_addr": client_addr,
                "method": "oidc",
                "reason": refusal.kind.as_str(),
                "detail": refusal.detail,
            }),
        },
    )
    .await?;
    tx.commit().await
}
