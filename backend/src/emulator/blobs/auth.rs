//! Who may touch the local account's blobs: a request signed with the account key (SharedKey,
//! what the SDK does with a datastore's `listSecrets` key), a service SAS the workspace issued
//! (what `startPendingUpload` hands out), or the workspace's bearer token. Signatures are
//! compared in constant time and never written to a log or an answer.

use super::error::StorageError;
use super::header_order;
use crate::secret::{constant_time_eq, Secret};
use axum::http::{HeaderMap, Method};
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::Sha256;

/// The SAS version the workspace signs with (the string-to-sign layout depends on it).
pub const SAS_VERSION: &str = "2021-08-06";

/// What a request is allowed to do, as SAS permissions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    fn letter(self) -> char {
        match self {
            Self::Read => 'r',
            Self::Write => 'w',
        }
    }
}

/// The account key and the bearer token requests are checked against.
#[derive(Debug, Clone)]
pub struct Keys {
    pub account_key: Secret,
    pub token: Secret,
}

/// One request, as seen for checking its signature.
pub struct Presented<'a> {
    pub method: &'a Method,
    /// The path as sent, still percent-encoded.
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The account segment of the path and the container segment.
    pub account: &'a str,
    pub container: &'a str,
}

/// Checks the request's credentials for `access`.
pub fn authorize(keys: &Keys, request: &Presented<'_>, access: Access) -> Result<(), StorageError> {
    let query = query_pairs(request.raw_query);
    if query.iter().any(|(k, _)| k == "sig") {
        return check_sas(keys, request, &query, access);
    }
    let authorization = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(StorageError::no_authentication)?;
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        return if constant_time_eq(token.trim().as_bytes(), keys.token.expose().as_bytes()) {
            Ok(())
        } else {
            Err(StorageError::authentication_failed(
                "The bearer token is not the local workspace's.",
            ))
        };
    }
    let Some((account, signature)) = authorization
        .strip_prefix("SharedKey ")
        .and_then(|rest| rest.split_once(':'))
    else {
        return Err(StorageError::authentication_failed(
            "The Authorization header is neither SharedKey nor Bearer.",
        ));
    };
    let expected = sign(keys, &shared_key_string_to_sign(request, account, &query))?;
    if constant_time_eq(expected.as_bytes(), signature.trim().as_bytes()) {
        Ok(())
    } else {
        Err(StorageError::authentication_failed(
            "The MAC signature found in the HTTP request is not the same as any computed signature: is the account key the datastore's?",
        ))
    }
}

/// `(name, decoded value)` pairs of the query.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn sign(keys: &Keys, text: &str) -> Result<String, StorageError> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(keys.account_key.expose())
        .map_err(|e| StorageError::internal(&anyhow::anyhow!("the account key: {e}")))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|e| StorageError::internal(&anyhow::anyhow!("the account key: {e}")))?;
    mac.update(text.as_bytes());
    Ok(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Azure Storage's SharedKey string-to-sign (versions since 2009-09-19).
fn shared_key_string_to_sign(
    request: &Presented<'_>,
    account: &str,
    query: &[(String, String)],
) -> String {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut text = format!("{}\n", request.method);
    for name in [
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
        "content-type",
        "date",
        "if-modified-since",
        "if-match",
        "if-none-match",
        "if-unmodified-since",
        "range",
    ] {
        let value = header(name);
        if name == "content-length" && value == "0" {
            text.push('\n');
            continue;
        }
        text.push_str(&value);
        text.push('\n');
    }
    let mut ms: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-ms-"))
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    ms.sort_by(|a, b| header_order::compare(&a.0, &b.0));
    for (name, value) in ms {
        text.push_str(&format!("{name}:{value}\n"));
    }
    text.push_str(&format!("/{account}{}", request.raw_path));
    let mut sorted = query.to_vec();
    sorted.sort();
    for (name, value) in sorted {
        text.push_str(&format!("\n{}:{value}", name.to_ascii_lowercase()));
    }
    text
}

/// The fields of a service SAS on a container, in the string-to-sign's order.
struct Sas<'a> {
    permissions: &'a str,
    start: &'a str,
    expiry: &'a str,
    account: &'a str,
    container: &'a str,
    protocol: &'a str,
    version: &'a str,
    resource: &'a str,
}

impl Sas<'_> {
    /// Azure's service-SAS string-to-sign for versions since 2020-12-06.
    fn string_to_sign(&self) -> String {
        [
            self.permissions,
            self.start,
            self.expiry,
            &format!("/blob/{}/{}", self.account, self.container),
            "", // signedIdentifier
            "", // signedIP
            self.protocol,
            self.version,
            self.resource,
            "", // signedSnapshotTime
            "", // signedEncryptionScope
            "", // rscc
            "", // rscd
            "", // rsce
            "", // rscl
            "", // rsct
        ]
        .join("\n")
    }
}

/// A SAS query string for container `container` of `account`: read, add, create, write and
/// list until `expiry`.
pub fn container_sas(
    keys: &Keys,
    account: &str,
    container: &str,
    expiry: chrono::DateTime<chrono::Utc>,
) -> Result<String, StorageError> {
    let start = (chrono::Utc::now() - chrono::Duration::minutes(5))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let expiry = expiry.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let sas = Sas {
        permissions: "racwl",
        start: &start,
        expiry: &expiry,
        account,
        container,
        protocol: "https",
        version: SAS_VERSION,
        resource: "c",
    };
    let signature = sign(keys, &sas.string_to_sign())?;
    let encode = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    Ok(format!(
        "sv={SAS_VERSION}&st={}&se={}&sr=c&sp=racwl&spr=https&sig={}",
        encode(&start),
        encode(&expiry),
        encode(&signature)
    ))
}

fn check_sas(
    keys: &Keys,
    request: &Presented<'_>,
    query: &[(String, String)],
    access: Access,
) -> Result<(), StorageError> {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let sas = Sas {
        permissions: get("sp"),
        start: get("st"),
        expiry: get("se"),
        account: request.account,
        container: request.container,
        protocol: get("spr"),
        version: get("sv"),
        resource: get("sr"),
    };
    let expected = sign(keys, &sas.string_to_sign())?;
    if !constant_time_eq(expected.as_bytes(), get("sig").as_bytes()) {
        return Err(StorageError::authentication_failed(
            "Signature did not match: the SAS was not issued for this container by this workspace, or was altered.",
        ));
    }
    let now = chrono::Utc::now();
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let expired = parse(sas.expiry).is_none_or(|e| e < now);
    let early = parse(sas.start).is_some_and(|s| s > now);
    if expired || early {
        return Err(StorageError::authentication_failed(format!(
            "Signature not valid in the specified time frame: Start [{}] - Expiry [{}] - Current [{}]",
            sas.start,
            sas.expiry,
            now.format("%Y-%m-%dT%H:%M:%SZ")
        )));
    }
    let needed = access.letter();
    let allowed = match access {
        Access::Read => sas.permissions.contains('r'),
        Access::Write => sas.permissions.contains(['w', 'c', 'a']),
    };
    if !allowed {
        return Err(StorageError::permission_mismatch(needed));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            account_key: Secret::new(base64::engine::general_purpose::STANDARD.encode([7u8; 64])),
            token: Secret::new("token"),
        }
    }

    fn presented<'a>(query: &'a str, headers: &'a HeaderMap) -> Presented<'a> {
        Presented {
            method: &Method::PUT,
            raw_path: "/acct/c/blob",
            raw_query: Some(query),
            headers,
            account: "acct",
            container: "c",
        }
    }

    #[test]
    fn a_sas_the_workspace_issued_works_until_it_expires() {
        let headers = HeaderMap::new();
        let fresh = container_sas(
            &keys(),
            "acct",
            "c",
            chrono::Utc::now() + chrono::Duration::hours(1),
        )
        .expect("sas");
        assert!(authorize(&keys(), &presented(&fresh, &headers), Access::Write).is_ok());
        let other = authorize(
            &keys(),
            &Presented {
                container: "d",
                ..presented(&fresh, &headers)
            },
            Access::Write,
        );
        assert_eq!(other.map_err(|e| e.code()), Err("AuthenticationFailed"));
        let stale = container_sas(
            &keys(),
            "acct",
            "c",
            chrono::Utc::now() - chrono::Duration::minutes(1),
        )
        .expect("sas");
        let refused =
            authorize(&keys(), &presented(&stale, &headers), Access::Read).expect_err("expired");
        assert_eq!(refused.status(), 403);
        assert_eq!(refused.code(), "AuthenticationFailed");
    }

    #[test]
    fn no_credentials_at_all_is_401() {
        let headers = HeaderMap::new();
        let refused = authorize(&keys(), &presented("", &headers), Access::Read).expect_err("none");
        assert_eq!(refused.code(), "NoAuthenticationInformation");
    }
}
