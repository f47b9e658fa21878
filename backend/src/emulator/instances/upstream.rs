//! The scoring path's HTTP/1.1 client to one instance: a small pool of keep-alive connections
//! (hyper's `http1::SendRequest`, TCP_NODELAY), each connection's task spawned on the runtime
//! that opened it — the scoring plane's own thread, so both hops of a request stay on it.
//! No URL parsing, redirect or proxy logic per request: the instance is a loopback address.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Mutex;
use tokio::net::TcpStream;

/// The harness's mark on an answer that is the scoring script's own error.
const MODEL_ERROR: HeaderName = HeaderName::from_static("x-ms-model-error");
/// Idle connections kept per instance; more are opened under load and closed after use.
const MAX_IDLE: usize = 64;

/// What an instance answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// The harness marks the scoring script's own errors with `x-ms-model-error`.
    pub model_error: bool,
    pub body: Bytes,
}

/// Keep-alive connections to one instance's `POST /score`.
#[derive(Debug)]
pub struct Upstream {
    address: SocketAddr,
    host: HeaderValue,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl Upstream {
    pub fn new(address: SocketAddr) -> Self {
        let host = HeaderValue::from_str(&address.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("localhost"));
        Self {
            address,
            host,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// POSTs `body` to the instance's `/score` and reads the whole answer. A request the
    /// instance never saw (an idle connection it had closed) is sent again on a new connection.
    pub async fn score(&self, body: Bytes) -> Result<Answer, String> {
        let (mut sender, mut reused) = match self.take_idle() {
            Some(sender) => (sender, true),
            None => (self.connect().await?, false),
        };
        loop {
            // A connection reused after an answer is ready once its task has seen the answer end.
            let sent = match sender.ready().await {
                Ok(()) => sender.send_request(self.request(body.clone())).await,
                Err(err) => Err(err),
            };
            match sent {
                Ok(response) => {
                    let status = response.status();
                    let model_error = response.headers().contains_key(MODEL_ERROR);
                    let body = response
                        .into_body()
                        .collect()
                        .await
                        .map_err(|e| format!("reading the instance's answer: {e}"))?
                        .to_bytes();
                    self.put_idle(sender);
                    return Ok(Answer {
                        status,
                        model_error,
                        body,
                    });
                }
                Err(err) if reused && (err.is_canceled() || err.is_closed()) => {
                    sender = self.connect().await?;
                    reused = false;
                }
                Err(err) => return Err(err.to_string()),
            }
        }
    }

    fn request(&self, body: Bytes) -> Request<Full<Bytes>> {
        let length = HeaderValue::from(body.len());
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = hyper::Uri::from_static("/score");
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_LENGTH, length);
        request
    }

    /// The most recently used idle connection that is still open.
    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = crate::emulator::locks::lock(&self.idle);
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn put_idle(&self, sender: SendRequest<Full<Bytes>>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = crate::emulator::locks::lock(&self.idle);
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = TcpStream::connect(self.address)
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.address))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {}: {e}", self.address))?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, "instance connection ended with an error");
            }
        });
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// An instance that answers one request per connection, then closes it unannounced (as
    /// the harness closes idle keep-alive connections), and counts its connections.
    async fn one_shot_instance() -> (SocketAddr, tokio::task::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let mut connections = 0;
            for _ in 0..2 {
                let (mut stream, _) = listener.accept().await.expect("accept");
                connections += 1;
                let mut seen = Vec::new();
                let mut buffer = [0u8; 1024];
                while !seen.ends_with(b"{\"x\":1}") {
                    let n = stream.read(&mut buffer).await.expect("read");
                    assert!(n > 0, "the request ended early");
                    seen.extend_from_slice(&buffer[..n]);
                }
                let text = String::from_utf8_lossy(&seen).to_lowercase();
                assert!(text.starts_with("post /score http/1.1\r\n"), "{text}");
                assert!(text.contains("content-length: 7\r\n"), "{text}");
                let answer = "HTTP/1.1 500 Internal Server Error\r\nx-ms-model-error: 1\r\n\
                              Content-Length: 2\r\n\r\n{}";
                stream.write_all(answer.as_bytes()).await.expect("write");
            }
            connections
        });
        (address, server)
    }

    #[tokio::test]
    async fn a_request_on_a_connection_the_instance_closed_goes_out_on_a_new_one() {
        let (address, server) = one_shot_instance().await;
        let upstream = Upstream::new(address);
        for _ in 0..2 {
            let answer = upstream
                .score(Bytes::from_static(b"{\"x\":1}"))
                .await
                .expect("an answer");
            assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
            assert!(answer.model_error);
            assert_eq!(&answer.body[..], b"{}");
        }
        assert_eq!(server.await.expect("the instance"), 2);
    }
}
