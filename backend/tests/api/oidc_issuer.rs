//! A small OpenID provider on loopback for the single sign-on tests: discovery, a JWKS, an
//! authorization endpoint that signs the user in at once (redirecting back with a code), and a
//! token endpoint that checks the client secret and PKCE and returns an ES256 id_token. Each
//! test says what the next id_token looks like (and how it is spoiled).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "greenlight-test";
pub const CLIENT_SECRET: &str = "test-client-secret";

/// Who signs in at the provider next, and what is wrong with the token it gets.
#[derive(Debug, Clone)]
pub struct NextUser {
    pub subject: String,
    pub preferred_username: String,
    pub groups: Vec<String>,
    pub spoil: Spoil,
}

impl NextUser {
    pub fn new(subject: &str, name: &str, groups: &[&str]) -> Self {
        Self {
            subject: subject.into(),
            preferred_username: name.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            spoil: Spoil::Nothing,
        }
    }
}

/// How the next id_token is spoiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spoil {
    Nothing,
    /// Signed by a key the issuer does not publish, under the published key's `kid`.
    Signature,
    Audience,
    /// Expired ten minutes ago.
    Expired,
    Nonce,
}

struct Key {
    kid: String,
    pair: EcdsaKeyPair,
}

impl Key {
    fn new(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generate a P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("read the key");
        Self {
            kid: kid.into(),
            pair,
        }
    }

    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({ "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]) })
    }

    fn sign(&self, kid: &str, claims: &Value) -> String {
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": kid });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&SystemRandom::new(), signed.as_bytes())
            .expect("sign");
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

struct Inner {
    url: String,
    /// Published in the JWKS; the first one signs.
    keys: Vec<Key>,
    forger: Key,
    next: NextUser,
    grants: HashMap<String, Grant>,
    jwks_fetches: usize,
}

/// A running provider.
#[derive(Clone)]
pub struct Issuer {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl Issuer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the issuer");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let inner = Arc::new(Mutex::new(Inner {
            url: url.clone(),
            keys: vec![Key::new("key-1")],
            forger: Key::new("forger"),
            next: NextUser::new("sub-1", "ann", &["gl-approvers"]),
            grants: HashMap::new(),
            jwks_fetches: 0,
        }));
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, inner }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("issuer state")
    }

    /// Who signs in next.
    pub fn next(&self, user: NextUser) {
        self.lock().next = user;
    }

    /// Starts signing with a new key, published alongside the old one (a key rotation).
    pub fn rotate_key(&self, kid: &str) {
        self.lock().keys.insert(0, Key::new(kid));
    }

    pub fn jwks_fetches(&self) -> usize {
        self.lock().jwks_fetches
    }
}

type Shared = State<Arc<Mutex<Inner>>>;

fn lock(state: &Arc<Mutex<Inner>>) -> std::sync::MutexGuard<'_, Inner> {
    state.lock().expect("issuer state")
}

async fn discovery(State(state): Shared) -> Json<Value> {
    let url = lock(&state).url.clone();
    Json(json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
        "jwks_uri": format!("{url}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(state): Shared) -> Json<Value> {
    let mut inner = lock(&state);
    inner.jwks_fetches += 1;
    Json(json!({ "keys": inner.keys.iter().map(Key::jwk).collect::<Vec<_>>() }))
}

/// Signs the next user in at once and sends the browser back with a code.
async fn authorize(State(state): Shared, Query(query): Query<HashMap<String, String>>) -> Response {
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    let problems = [
        (param("response_type") != "code", "response_type"),
        (param("client_id") != CLIENT_ID, "client_id"),
        (
            param("code_challenge_method") != "S256",
            "code_challenge_method",
        ),
        (param("code_challenge").is_empty(), "code_challenge"),
        (param("nonce").is_empty(), "nonce"),
        (!param("scope").split(' ').any(|s| s == "openid"), "scope"),
    ];
    if let Some((_, name)) = problems.iter().find(|(bad, _)| *bad) {
        return (StatusCode::BAD_REQUEST, format!("bad {name}")).into_response();
    }
    let code = uuid::Uuid::new_v4().simple().to_string();
    let redirect_uri = param("redirect_uri");
    lock(&state).grants.insert(
        code.clone(),
        Grant {
            nonce: param("nonce"),
            challenge: param("code_challenge"),
            redirect_uri: redirect_uri.clone(),
        },
    );
    let back = format!(
        "{redirect_uri}?code={code}&state={}",
        urlencode(&param("state"))
    );
    (StatusCode::FOUND, [(header::LOCATION, back)]).into_response()
}

fn urlencode(text: &str) -> String {
    oauth2::url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn token_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

/// Checks the client's secret (HTTP Basic) and the PKCE verifier, then issues the id_token.
async fn token(State(state): Shared, headers: HeaderMap, body: String) -> Response {
    let form: HashMap<String, String> = oauth2::url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let expected_auth = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth != Some(expected_auth.as_str()) {
        return token_error("invalid_client");
    }
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let mut inner = lock(&state);
    let Some(grant) = inner.grants.remove(&field("code")) else {
        return token_error("invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if field("grant_type") != "authorization_code"
        || challenge != grant.challenge
        || field("redirect_uri") != grant.redirect_uri
    {
        return token_error("invalid_grant");
    }
    let next = inner.next.clone();
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": inner.url,
        "sub": next.subject,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": grant.nonce,
        "preferred_username": next.preferred_username,
        "email": format!("{}@example.com", next.preferred_username),
        "groups": next.groups,
    });
    match next.spoil {
        Spoil::Nothing | Spoil::Signature => {}
        Spoil::Audience => claims["aud"] = json!("another-app"),
        Spoil::Expired => {
            claims["iat"] = json!(now - 900);
            claims["exp"] = json!(now - 600);
        }
        Spoil::Nonce => claims["nonce"] = json!("not-the-nonce-sent"),
    }
    let signer = &inner.keys[0];
    let id_token = if next.spoil == Spoil::Signature {
        inner.forger.sign(&signer.kid, &claims)
    } else {
        signer.sign(&signer.kid, &claims)
    };
    Json(json!({
        "access_token": "opaque-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}
