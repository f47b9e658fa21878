//! `azure_core`'s HTTP client trait over the reqwest 0.12 client Greenlight already has, so the
//! Azure credentials that call Entra ID or the managed-identity endpoint need no second HTTP stack
//! (azure_core's own would bring reqwest 0.13 and another TLS library).

use azure_core::error::{Error, ErrorKind};
use azure_core::http::headers::Headers;
use azure_core::http::request::{Body, Request};
use azure_core::http::{AsyncRawResponse, HttpClient, Method, StatusCode};

#[derive(Debug, Clone)]
pub struct ReqwestTransport(pub reqwest::Client);

fn method(method: Method) -> reqwest::Method {
    reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET)
}

#[async_trait::async_trait]
impl HttpClient for ReqwestTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let mut outgoing = self
            .0
            .request(method(request.method()), request.url().as_str());
        for (name, value) in request.headers().iter() {
            outgoing = outgoing.header(name.as_str(), value.as_str());
        }
        match request.body() {
            Body::Bytes(bytes) => outgoing = outgoing.body(bytes.to_vec()),
            Body::SeekableStream(_) => {
                return Err(Error::with_message(
                    ErrorKind::Other,
                    "streamed request bodies are not used by Azure credentials",
                ))
            }
        }
        // The error text names the host, never a secret (those travel in the body).
        let response = outgoing
            .send()
            .await
            .map_err(|e| Error::with_message(ErrorKind::Io, format!("request failed: {e}")))?;
        let status = StatusCode::from(response.status().as_u16());
        let mut headers = Headers::new();
        for (name, value) in response.headers() {
            if let Ok(value) = value.to_str() {
                headers.insert(name.as_str().to_owned(), value.to_owned());
            }
        }
        let body = response.bytes().await.map_err(|e| {
            Error::with_message(ErrorKind::Io, format!("reading the answer failed: {e}"))
        })?;
        Ok(AsyncRawResponse::from_bytes(status, headers, body))
    }
}
