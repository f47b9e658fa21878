//! `azure_core`'s HTTP client trait over the reqwest 0.12 client Greenlight already has, so the
//! Azure credentials that call Entra ID or the managed-identity endpoint need no second HTTP stack
//! (azure_core's own would bring reqwest 0.13 and another TLS library).

use azure_core::error::{Error, ErrorKind};
use azure_core::http::headers::Headers;
use azure_core::http::request::{Body, Request};
use azure_core::http::{AsyncRawResponse, HttpClient, Method, StatusCode};

#[derive(Debug, Clone)]
pub struct ReqwestTransport(pub reqwest::Client);

/// The same method for reqwest; a method reqwest cannot send is an error, never another method.
fn method(method: Method) -> azure_core::Result<reqwest::Method> {
    reqwest::Method::from_bytes(method.as_str().as_bytes()).map_err(|_| {
        Error::with_message(
            ErrorKind::Other,
            format!("HTTP method {} cannot be sent", method.as_str()),
        )
    })
}

#[async_trait::async_trait]
impl HttpClient for ReqwestTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let mut outgoing = self
            .0
            .request(method(request.method())?, request.url().as_str());
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

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::headers::HeaderName;
    use azure_core::http::Url;

    /// A token endpoint stand-in that echoes what it was sent, so the test sees the request as
    /// the server did.
    async fn echo_server() -> String {
        use axum::http::HeaderMap;
        let app = axum::Router::new().route(
            "/tenant/oauth2/v2.0/token",
            axum::routing::post(|headers: HeaderMap, body: String| async move {
                let content_type = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                (
                    axum::http::StatusCode::BAD_REQUEST,
                    [("x-ms-request-id", "req-1")],
                    format!("{content_type}|{body}"),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn requests_and_answers_cross_unchanged() {
        let base = echo_server().await;
        let url = Url::parse(&format!("{base}/tenant/oauth2/v2.0/token")).expect("url");
        let mut request = Request::new(url, Method::Post);
        request.insert_header("content-type", "application/x-www-form-urlencoded");
        request.set_body("grant_type=client_credentials&scope=arm");
        let transport = ReqwestTransport(reqwest::Client::new());
        let answer = transport.execute_request(&request).await.expect("answer");
        // An error status is an answer, not a transport failure: azure_identity reads Entra
        // ID's error body from it.
        assert_eq!(answer.status(), StatusCode::BadRequest);
        assert_eq!(
            answer
                .headers()
                .get_optional_str(&HeaderName::from_static("x-ms-request-id")),
            Some("req-1")
        );
        let body = answer.into_body().collect().await.expect("body");
        assert_eq!(
            &body[..],
            b"application/x-www-form-urlencoded|grant_type=client_credentials&scope=arm"
        );
    }

    #[tokio::test]
    async fn an_unreachable_host_is_an_io_error() {
        // Port 9 (discard) on loopback: nothing listens there.
        let url = Url::parse("http://127.0.0.1:9/token").expect("url");
        let request = Request::new(url, Method::Get);
        let transport = ReqwestTransport(reqwest::Client::new());
        let error = transport
            .execute_request(&request)
            .await
            .expect_err("nothing listens");
        assert_eq!(error.kind(), &ErrorKind::Io);
    }
}
