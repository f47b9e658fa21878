//! The blob routes: `/{account}/{container}/{blob}` with the operation chosen by method and
//! `comp`, as the storage REST API does. Any `x-ms-version` is accepted and echoed.

use super::auth::{self, Access, Presented};
use super::error::StorageError;
use super::store::BlobProperties;
use super::{is_ours, BlobName, BlobService};
use crate::emulator::arm::error::ArmFailure;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Put Blob takes up to 64 MiB in one request from the SDK (larger files come as 4 MiB blocks).
const BODY_LIMIT: usize = 80 * 1024 * 1024;

pub fn router(service: Arc<BlobService>) -> Router {
    Router::new()
        .route("/{account}/{container}/{*blob}", any(blob))
        .route("/{account}/{container}", any(container))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(service)
}

/// Container-level requests: creating one succeeds (containers exist on first write), the
/// rest is not served.
async fn container(
    State(service): State<Arc<BlobService>>,
    Path((account, container)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if !is_ours(&account) {
        return ArmFailure::no_such_path().into_response();
    }
    let presented = Presented {
        method: &method,
        raw_path: uri.path(),
        raw_query: uri.query(),
        headers: &headers,
        account: &account,
        container: &container,
    };
    let query = auth::query_pairs(uri.query());
    let is = |name: &str, value: &str| query.iter().any(|(k, v)| k == name && v == value);
    let outcome = if method == Method::PUT && is("restype", "container") {
        auth::authorize(&service.keys, &presented, Access::Write)
            .map(|()| with_version(StatusCode::CREATED.into_response(), &headers))
    } else {
        Err(StorageError::unsupported("this container operation"))
    };
    outcome.unwrap_or_else(IntoResponse::into_response)
}

async fn blob(
    State(service): State<Arc<BlobService>>,
    Path((account, container, blob)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_ours(&account) {
        return ArmFailure::no_such_path().into_response();
    }
    let presented = Presented {
        method: &method,
        raw_path: uri.path(),
        raw_query: uri.query(),
        headers: &headers,
        account: &account,
        container: &container,
    };
    let outcome = async {
        let name = BlobName::parse(&container, &blob)?;
        let query = auth::query_pairs(uri.query());
        let comp = query
            .iter()
            .find(|(k, _)| k == "comp")
            .map(|(_, v)| v.as_str());
        let access = if method == Method::GET || method == Method::HEAD {
            Access::Read
        } else {
            Access::Write
        };
        auth::authorize(&service.keys, &presented, access)?;
        let store = &service.store;
        match (&method, comp) {
            (&Method::HEAD, None) => Ok(properties_response(
                StatusCode::OK,
                &store.properties(&name).await?,
                None,
            )),
            (&Method::GET, None) => {
                let (properties, content) = store.read(&name).await?;
                Ok(content_response(&properties, content, &headers))
            }
            (&Method::PUT, None) => {
                if header(&headers, "x-ms-blob-type").is_some_and(|t| t != "BlockBlob") {
                    return Err(StorageError::unsupported("page and append blobs"));
                }
                if header(&headers, "if-none-match") == Some("*") && store.exists(&name).await {
                    return Err(StorageError::blob_exists());
                }
                let properties = store
                    .put(
                        &name,
                        &body,
                        header(&headers, "content-md5"),
                        content_type(&headers),
                        metadata(&headers),
                    )
                    .await?;
                Ok(written(&properties))
            }
            (&Method::PUT, Some("block")) => {
                let id = query
                    .iter()
                    .find(|(k, _)| k == "blockid")
                    .map(|(_, v)| v.as_str())
                    .unwrap_or_default();
                store
                    .put_block(&name, id, &body, header(&headers, "content-md5"))
                    .await?;
                Ok(StatusCode::CREATED.into_response())
            }
            (&Method::PUT, Some("blocklist")) => {
                if header(&headers, "if-none-match") == Some("*") && store.exists(&name).await {
                    return Err(StorageError::blob_exists());
                }
                let ids = block_ids(&body)?;
                let properties = store
                    .commit_blocks(&name, &ids, content_type(&headers), metadata(&headers))
                    .await?;
                Ok(written(&properties))
            }
            (&Method::PUT, Some("metadata")) => {
                let properties = store.set_metadata(&name, metadata(&headers)).await?;
                let mut response = StatusCode::OK.into_response();
                set(&mut response, "etag", &properties.etag);
                set(&mut response, "last-modified", &properties.last_modified);
                Ok(response)
            }
            _ => Err(StorageError::unsupported("this blob operation")),
        }
    }
    .await;
    let response = outcome.unwrap_or_else(IntoResponse::into_response);
    with_version(response, &headers)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    header(headers, "x-ms-blob-content-type")
        .or_else(|| header(headers, "content-type"))
        .map(str::to_owned)
}

/// The `x-ms-meta-*` headers, by name without the prefix.
fn metadata(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let key = name.as_str().strip_prefix("x-ms-meta-")?;
            Some((key.to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

/// The ids of a Put Block List body, in order, whichever list each names.
fn block_ids(body: &[u8]) -> Result<Vec<String>, StorageError> {
    let text = std::str::from_utf8(body).map_err(|_| StorageError::invalid_xml())?;
    if !text.contains("<BlockList>") {
        return Err(StorageError::invalid_xml());
    }
    let mut ids = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('>') else { break };
        let tag = &rest[..close];
        rest = &rest[close + 1..];
        if matches!(tag, "Latest" | "Committed" | "Uncommitted") {
            let end = rest
                .find(&format!("</{tag}>"))
                .ok_or_else(StorageError::invalid_xml)?;
            ids.push(rest[..end].trim().to_owned());
            rest = &rest[end..];
        }
    }
    Ok(ids)
}

fn set(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

fn with_version(mut response: Response, request: &HeaderMap) -> Response {
    if let Some(version) = request.get("x-ms-version") {
        response
            .headers_mut()
            .insert("x-ms-version", version.clone());
    }
    response
}

/// 201 of a write: what Put Blob and Put Block List answer.
fn written(properties: &BlobProperties) -> Response {
    let mut response = StatusCode::CREATED.into_response();
    set(&mut response, "etag", &properties.etag);
    set(&mut response, "last-modified", &properties.last_modified);
    set(&mut response, "content-md5", &properties.content_md5);
    set(&mut response, "x-ms-request-server-encrypted", "true");
    response
}

fn properties_response(
    status: StatusCode,
    properties: &BlobProperties,
    body: Option<Vec<u8>>,
) -> Response {
    let mut response = match body {
        Some(body) => (status, body).into_response(),
        None => status.into_response(),
    };
    set(&mut response, "etag", &properties.etag);
    set(&mut response, "last-modified", &properties.last_modified);
    set(&mut response, "content-md5", &properties.content_md5);
    set(&mut response, "x-ms-blob-type", "BlockBlob");
    set(&mut response, "accept-ranges", "bytes");
    set(&mut response, "x-ms-server-encrypted", "true");
    set(
        &mut response,
        "content-type",
        properties
            .content_type
            .as_deref()
            .unwrap_or("application/octet-stream"),
    );
    if status == StatusCode::OK {
        set(
            &mut response,
            "content-length",
            &properties.length.to_string(),
        );
    }
    for (name, value) in &properties.metadata {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(format!("x-ms-meta-{name}").as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Get Blob, whole or the range `x-ms-range` / `Range` asks for (206).
fn content_response(
    properties: &BlobProperties,
    content: Vec<u8>,
    request: &HeaderMap,
) -> Response {
    let total = content.len();
    let range = header(request, "x-ms-range")
        .or_else(|| header(request, "range"))
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(start, end)| {
            let start: usize = start.parse().ok()?;
            let end: usize = if end.is_empty() {
                total.checked_sub(1)?
            } else {
                end.parse::<usize>().ok()?.min(total.checked_sub(1)?)
            };
            (start <= end).then_some((start, end))
        });
    match range {
        Some((start, end)) => {
            let mut response = properties_response(
                StatusCode::PARTIAL_CONTENT,
                properties,
                Some(content[start..=end].to_vec()),
            );
            set(
                &mut response,
                "content-range",
                &format!("bytes {start}-{end}/{total}"),
            );
            response
        }
        None => properties_response(StatusCode::OK, properties, Some(content)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_list_names_its_blocks_in_order() {
        let body = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>QQ==</Latest><Uncommitted>Qg==</Uncommitted></BlockList>";
        assert_eq!(block_ids(body).expect("ids"), ["QQ==", "Qg=="]);
        assert!(block_ids(b"not xml").is_err());
    }
}
