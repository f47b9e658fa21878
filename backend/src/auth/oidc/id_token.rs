//! Checking an id_token ourselves: a JWS signed with one of the issuer's published keys (JWKS),
//! by an algorithm on our allow-list, for this client, from this issuer, within its validity,
//! and carrying the nonce this sign-in sent. `ring` does the cryptography.

use super::{refuse, Refusal};
use crate::secret::constant_time_eq;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};
use shared::api::SsoError;

/// Clock difference tolerated between us and the provider.
pub const LEEWAY_SECS: i64 = 60;

/// One key of the issuer's JWKS (the members a signature check needs).
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, rename = "use")]
    pub usage: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

/// Reads a JWKS document, skipping keys it cannot read (a provider may publish kinds we do
/// not use).
pub fn parse_jwks(document: &Value) -> Vec<Jwk> {
    document
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|key| serde_json::from_value(key.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// What the token must say.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// Seconds since the epoch.
    pub now: i64,
}

/// A verified token's claims.
#[derive(Debug, Clone)]
pub struct Claims {
    pub subject: String,
    pub all: Map<String, Value>,
}

impl Claims {
    /// The values at `path` (a claim name, or a dotted path into objects): a string, or the
    /// strings of a list.
    pub fn values_at(&self, path: &str) -> Vec<&str> {
        let mut parts = path.split('.');
        let first = parts.next().and_then(|name| self.all.get(name));
        let found = parts.fold(first, |value, name| value.and_then(|v| v.get(name)));
        match found {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    pub fn string(&self, name: &str) -> Option<&str> {
        self.all.get(name).and_then(Value::as_str)
    }
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// The signature algorithms accepted; never `none` nor the HMAC ones (whose key would be the
/// client secret, which the provider is not the only one to know).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
}

impl Algorithm {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::Rs256,
            "RS384" => Self::Rs384,
            "RS512" => Self::Rs512,
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            _ => return None,
        })
    }

    fn rsa(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Self::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Self::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            Self::Es256 | Self::Es384 => return None,
        })
    }

    /// For ECDSA: the curve a key must be on, its coordinate length, and ring's verifier.
    fn ec(
        self,
    ) -> Option<(
        &'static str,
        usize,
        &'static signature::EcdsaVerificationAlgorithm,
    )> {
        match self {
            Self::Es256 => Some(("P-256", 32, &signature::ECDSA_P256_SHA256_FIXED)),
            Self::Es384 => Some(("P-384", 48, &signature::ECDSA_P384_SHA384_FIXED)),
            _ => None,
        }
    }
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>, Refusal> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| refuse(SsoError::MalformedToken, format!("{what} is not base64url")))
}

/// The `kid` the token names, if any: to tell "a key we have not fetched yet" (fetch the JWKS
/// again) from "a bad signature".
pub fn key_id(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    serde_json::from_slice::<Header>(&bytes).ok()?.kid
}

/// Whether `keys` holds a key the token's header could name (same `kid`, or no `kid` asked).
pub fn has_key_for(token: &str, keys: &[Jwk]) -> bool {
    match key_id(token) {
        Some(kid) => keys.iter().any(|k| k.kid.as_deref() == Some(kid.as_str())),
        None => !keys.is_empty(),
    }
}

/// Verifies `token` against `keys` and `expected`; the claims when every check passes.
pub fn verify(token: &str, keys: &[Jwk], expected: &Expected<'_>) -> Result<Claims, Refusal> {
    let mut parts = token.split('.');
    let (Some(header_part), Some(payload_part), Some(signature_part), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse(
            SsoError::MalformedToken,
            "not a JWS in compact form (three parts)",
        ));
    };
    let header: Header = serde_json::from_slice(&decode_part(header_part, "the header")?)
        .map_err(|_| refuse(SsoError::MalformedToken, "the header is not a JWS header"))?;
    if header.crit.is_some() {
        return Err(refuse(
            SsoError::MalformedToken,
            "the header has critical extensions we do not understand",
        ));
    }
    let algorithm = Algorithm::parse(&header.alg).ok_or_else(|| {
        refuse(
            SsoError::UnsupportedAlgorithm,
            format!("alg {:?} is not accepted", header.alg),
        )
    })?;
    let signature = decode_part(signature_part, "the signature")?;
    let signed = &token.as_bytes()[..header_part.len() + 1 + payload_part.len()];

    let candidates: Vec<&Jwk> = keys
        .iter()
        .filter(|key| header.kid.is_none() || key.kid == header.kid)
        .filter(|key| key.usage.as_deref().is_none_or(|u| u == "sig"))
        .filter(|key| key.alg.as_deref().is_none_or(|a| a == header.alg))
        .collect();
    if candidates.is_empty() {
        return Err(refuse(
            SsoError::BadSignature,
            format!("the issuer publishes no key {:?}", header.kid),
        ));
    }
    if !candidates
        .iter()
        .any(|key| signature_matches(algorithm, key, signed, &signature))
    {
        return Err(refuse(
            SsoError::BadSignature,
            "the signature does not verify with the issuer's key",
        ));
    }

    let payload = decode_part(payload_part, "the payload")?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|_| refuse(SsoError::MalformedToken, "the payload is not a JSON object"))?;
    check_claims(claims, expected)
}

fn signature_matches(algorithm: Algorithm, key: &Jwk, signed: &[u8], signature: &[u8]) -> bool {
    let bytes = |member: &Option<String>| {
        member
            .as_deref()
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
    };
    if let Some(parameters) = algorithm.rsa() {
        let (true, Some(n), Some(e)) = (key.kty == "RSA", bytes(&key.n), bytes(&key.e)) else {
            return false;
        };
        let strip = |v: &[u8]| -> Vec<u8> { v.iter().copied().skip_while(|b| *b == 0).collect() };
        let components = RsaPublicKeyComponents {
            n: strip(&n),
            e: strip(&e),
        };
        return components.verify(parameters, signed, signature).is_ok();
    }
    let Some((curve, size, verifier)) = algorithm.ec() else {
        return false;
    };
    let (true, true, Some(x), Some(y)) = (
        key.kty == "EC",
        key.crv.as_deref() == Some(curve),
        bytes(&key.x),
        bytes(&key.y),
    ) else {
        return false;
    };
    if x.len() != size || y.len() != size {
        return false;
    }
    let mut point = Vec::with_capacity(1 + 2 * size);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    UnparsedPublicKey::new(verifier, point)
        .verify(signed, signature)
        .is_ok()
}

fn seconds(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Refusal> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .or_else(|| value.as_f64().map(|f| f.floor() as i64))
            .map(Some)
            .ok_or_else(|| refuse(SsoError::MalformedToken, format!("{name} is not a number"))),
    }
}

fn check_claims(all: Map<String, Value>, expected: &Expected<'_>) -> Result<Claims, Refusal> {
    let issuer = all.get("iss").and_then(Value::as_str);
    if issuer != Some(expected.issuer) {
        return Err(refuse(
            SsoError::WrongIssuer,
            format!("iss is {issuer:?}, not {:?}", expected.issuer),
        ));
    }
    let audiences: Vec<&str> = match all.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err(refuse(
            SsoError::WrongAudience,
            format!("aud {audiences:?} does not include this client"),
        ));
    }
    let azp = all.get("azp").and_then(Value::as_str);
    if (audiences.len() > 1 || azp.is_some()) && azp != Some(expected.client_id) {
        return Err(refuse(
            SsoError::WrongAudience,
            format!("azp {azp:?} is not this client"),
        ));
    }
    let now = expected.now;
    let expires =
        seconds(&all, "exp")?.ok_or_else(|| refuse(SsoError::MalformedToken, "exp is missing"))?;
    if now > expires.saturating_add(LEEWAY_SECS) {
        return Err(refuse(
            SsoError::Expired,
            format!("expired {} s ago", now - expires),
        ));
    }
    if let Some(not_before) = seconds(&all, "nbf")? {
        if not_before > now.saturating_add(LEEWAY_SECS) {
            return Err(refuse(SsoError::Expired, "not valid yet (nbf)"));
        }
    }
    let issued =
        seconds(&all, "iat")?.ok_or_else(|| refuse(SsoError::MalformedToken, "iat is missing"))?;
    if issued > now.saturating_add(LEEWAY_SECS) {
        return Err(refuse(SsoError::Expired, "issued in the future (iat)"));
    }
    let nonce = all.get("nonce").and_then(Value::as_str).unwrap_or_default();
    if !constant_time_eq(nonce.as_bytes(), expected.nonce.as_bytes()) {
        return Err(refuse(
            SsoError::WrongNonce,
            "the nonce is not this sign-in's",
        ));
    }
    let subject = all
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| refuse(SsoError::MalformedToken, "sub is missing"))?
        .to_owned();
    Ok(Claims { subject, all })
}

#[cfg(test)]
#[path = "id_token_tests.rs"]
mod tests;
