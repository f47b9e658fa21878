//! The id_token checks, one refusal at a time, with keys made here (ES256) and the committed
//! test-only RSA key (RS256).

use super::*;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;

const ISSUER: &str = "https://id.example.com";
const CLIENT: &str = "greenlight";
const NOW: i64 = 1_800_000_000;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

type SignFn = Box<dyn Fn(&[u8]) -> Vec<u8>>;

struct Signer {
    alg: &'static str,
    kid: &'static str,
    sign: SignFn,
    jwk: Value,
}

fn es256(kid: &'static str) -> Signer {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("key");
    let point = pair.public_key().as_ref().to_vec();
    Signer {
        alg: "ES256",
        kid,
        jwk: json!({ "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
                     "x": b64(&point[1..33]), "y": b64(&point[33..]) }),
        sign: Box::new(move |message| {
            pair.sign(&SystemRandom::new(), message)
                .expect("sign")
                .as_ref()
                .to_vec()
        }),
    }
}

fn rs256(kid: &'static str) -> Signer {
    let der = include_bytes!("../../../tests/fixtures/oidc-test-rsa.der");
    let pair = RsaKeyPair::from_der(der).expect("the test RSA key");
    let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
    Signer {
        alg: "RS256",
        kid,
        jwk: json!({ "kty": "RSA", "kid": kid, "alg": "RS256", "n": b64(&public.n), "e": b64(&public.e) }),
        sign: Box::new(move |message| {
            let mut signature = vec![0; pair.public().modulus_len()];
            pair.sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .expect("sign");
            signature
        }),
    }
}

fn claims() -> Value {
    json!({ "iss": ISSUER, "aud": CLIENT, "sub": "user-1", "nonce": "n-1",
            "iat": NOW - 5, "exp": NOW + 300, "groups": ["gl-approvers"],
            "realm_access": { "roles": ["a", "b"] } })
}

fn token(signer: &Signer, header: Value, claims: &Value) -> String {
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = (signer.sign)(signed.as_bytes());
    format!("{signed}.{}", b64(&signature))
}

fn signed(signer: &Signer, claims: &Value) -> String {
    token(
        signer,
        json!({ "alg": signer.alg, "kid": signer.kid }),
        claims,
    )
}

fn keys(signers: &[&Signer]) -> Vec<Jwk> {
    parse_jwks(&json!({ "keys": signers.iter().map(|s| s.jwk.clone()).collect::<Vec<_>>() }))
}

fn expected() -> Expected<'static> {
    Expected {
        issuer: ISSUER,
        client_id: CLIENT,
        nonce: "n-1",
        now: NOW,
    }
}

fn refusal(token: &str, keys: &[Jwk]) -> SsoError {
    verify(token, keys, &expected()).expect_err("refused").kind
}

#[test]
fn a_good_token_verifies_with_either_algorithm() {
    for signer in [es256("ec-1"), rs256("rsa-1")] {
        let verified = verify(&signed(&signer, &claims()), &keys(&[&signer]), &expected())
            .unwrap_or_else(|e| panic!("{}: {e:?}", signer.alg));
        assert_eq!(verified.subject, "user-1");
        assert_eq!(verified.values_at("groups"), ["gl-approvers"]);
        assert_eq!(verified.values_at("realm_access.roles"), ["a", "b"]);
        assert!(verified.values_at("missing.path").is_empty());
    }
}

#[test]
fn a_signature_by_another_key_with_the_same_kid_is_refused() {
    let (published, forger) = (es256("k"), es256("k"));
    let forged = signed(&forger, &claims());
    assert_eq!(
        refusal(&forged, &keys(&[&published])),
        SsoError::BadSignature
    );
    let rsa = rs256("k");
    let mut tampered = signed(&rsa, &claims());
    tampered.insert_str(tampered.find('.').expect("dot") + 1, "eyJ4Ijoi");
    assert_ne!(
        verify(&tampered, &keys(&[&rsa]), &expected()).map(|_| ()),
        Ok(())
    );
}

#[test]
fn none_and_hmac_and_unknown_keys_are_refused() {
    let signer = es256("k");
    let keys = keys(&[&signer]);
    let body = b64(claims().to_string().as_bytes());
    for alg in ["none", "HS256"] {
        let header = b64(json!({ "alg": alg, "kid": "k" }).to_string().as_bytes());
        let unsigned = format!("{header}.{body}.");
        assert_eq!(refusal(&unsigned, &keys), SsoError::UnsupportedAlgorithm);
    }
    let other_kid = token(&signer, json!({ "alg": "ES256", "kid": "nope" }), &claims());
    assert_eq!(refusal(&other_kid, &keys), SsoError::BadSignature);
    assert!(!has_key_for(&other_kid, &keys));
    // A key published for ES256 is not used to check an RS256 claim of the same kid.
    let wrong_alg = token(&signer, json!({ "alg": "RS256", "kid": "k" }), &claims());
    assert_eq!(refusal(&wrong_alg, &keys), SsoError::BadSignature);
    // Without a kid, any of the issuer's signing keys may have signed.
    let no_kid = token(&signer, json!({ "alg": "ES256" }), &claims());
    assert!(verify(&no_kid, &keys, &expected()).is_ok());
    let critical = token(
        &signer,
        json!({ "alg": "ES256", "kid": "k", "crit": ["x"] }),
        &claims(),
    );
    assert_eq!(refusal(&critical, &keys), SsoError::MalformedToken);
    assert_eq!(refusal("a.b", &keys), SsoError::MalformedToken);
}

#[test]
fn each_claim_rule_refuses_with_its_reason() {
    let signer = es256("k");
    let keys = keys(&[&signer]);
    let with = |patch: Value| {
        let mut c = claims();
        for (name, value) in patch.as_object().expect("object") {
            if value.is_null() {
                c.as_object_mut().expect("object").remove(name);
            } else {
                c[name] = value.clone();
            }
        }
        refusal(&signed(&signer, &c), &keys)
    };
    assert_eq!(
        with(json!({ "iss": "https://evil.example.com" })),
        SsoError::WrongIssuer
    );
    assert_eq!(
        with(json!({ "aud": "someone-else" })),
        SsoError::WrongAudience
    );
    assert_eq!(
        with(json!({ "aud": [CLIENT, "other"] })),
        SsoError::WrongAudience
    );
    assert_eq!(
        with(json!({ "aud": [CLIENT, "other"], "azp": "other" })),
        SsoError::WrongAudience
    );
    assert_eq!(
        with(json!({ "exp": NOW - LEEWAY_SECS - 1 })),
        SsoError::Expired
    );
    assert_eq!(
        with(json!({ "nbf": NOW + LEEWAY_SECS + 5 })),
        SsoError::Expired
    );
    assert_eq!(
        with(json!({ "iat": NOW + LEEWAY_SECS + 5 })),
        SsoError::Expired
    );
    assert_eq!(with(json!({ "nonce": "n-2" })), SsoError::WrongNonce);
    assert_eq!(with(json!({ "nonce": null })), SsoError::WrongNonce);
    assert_eq!(with(json!({ "exp": null })), SsoError::MalformedToken);
    assert_eq!(with(json!({ "sub": "" })), SsoError::MalformedToken);

    let within_leeway =
        json!({ "exp": NOW - LEEWAY_SECS + 1, "aud": [CLIENT, "x"], "azp": CLIENT });
    let mut c = claims();
    for (name, value) in within_leeway.as_object().expect("object") {
        c[name] = value.clone();
    }
    assert!(verify(&signed(&signer, &c), &keys, &expected()).is_ok());
}
