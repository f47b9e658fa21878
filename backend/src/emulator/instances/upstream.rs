//! The scoring path's HTTP/1.1 client to one instance: a small pool of keep-alive TCP
//! connections (TCP_NODELAY) that the request's own task writes to and reads from. There is no
//! connection task and no channel between the handler and the socket, so a scored request costs
//! the scoring plane's thread one wake-up per hop — what one nginx worker pays.
//!
//! The peer is the harness on a loopback address, but it runs untrusted model code, so its
//! answer is read with limits: a bounded head, a bounded body, and no trust in a claimed length
//! beyond the bytes that really arrive.

use bytes::{Buf, Bytes, BytesMut};
use hyper::StatusCode;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The harness's mark on an answer that is the scoring script's own error.
const MODEL_ERROR: &str = "x-ms-model-error";
/// Idle connections kept per instance; more are opened under load and closed after use.
const MAX_IDLE: usize = 64;
/// Longest answer head (status line and headers) read from an instance.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers in an answer head.
const MAX_HEADERS: usize = 32;
/// Longest answer body: a model may not make the workspace buffer without bound.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// Room made in a connection's read buffer before each read.
const READ_RESERVE: usize = 8 * 1024;

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
    /// Every request's head up to the value of its `content-length`.
    head: Box<[u8]>,
    idle: Mutex<Vec<Connection>>,
}

/// Why an exchange on one connection ended without an answer.
#[derive(Debug)]
enum Failure {
    /// The connection was closed before any byte of an answer arrived: on a reused
    /// connection, the instance had closed it while idle and never saw this request.
    Unanswered(String),
    /// Anything else: the request may have reached the model, so it is not sent again.
    Broken(String),
}

impl Upstream {
    pub fn new(address: SocketAddr) -> Self {
        let head = format!(
            "POST /score HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
             content-length: "
        );
        Self {
            address,
            head: head.into_bytes().into_boxed_slice(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// POSTs `body` to the instance's `/score` and reads the whole answer. A request the
    /// instance never saw (an idle connection it had closed) is sent again on a new connection.
    pub async fn score(&self, body: Bytes) -> Result<Answer, String> {
        let (mut connection, mut reused) = match self.take_idle() {
            Some(connection) => (connection, true),
            None => (self.connect().await?, false),
        };
        loop {
            match connection.exchange(&self.head, &body).await {
                Ok((answer, reusable)) => {
                    if reusable {
                        self.put_idle(connection);
                    }
                    return Ok(answer);
                }
                Err(Failure::Unanswered(_)) if reused => {
                    connection = self.connect().await?;
                    reused = false;
                }
                Err(Failure::Unanswered(reason) | Failure::Broken(reason)) => return Err(reason),
            }
        }
    }

    /// The most recently used idle connection: the one least likely to have been closed.
    fn take_idle(&self) -> Option<Connection> {
        crate::emulator::locks::lock(&self.idle).pop()
    }

    fn put_idle(&self, connection: Connection) {
        let mut idle = crate::emulator::locks::lock(&self.idle);
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
    }

    async fn connect(&self) -> Result<Connection, String> {
        let stream = TcpStream::connect(self.address)
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.address))?;
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream,
            read: BytesMut::new(),
            write: Vec::new(),
        })
    }
}

/// One keep-alive connection with its buffers, which live as long as it does.
#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    /// Bytes read from the instance and not yet taken as an answer.
    read: BytesMut,
    /// The request being sent: head and body in one buffer, so one segment on loopback.
    write: Vec<u8>,
}

/// The parts of an answer's head the scoring path uses.
struct Head {
    length: usize,
    status: StatusCode,
    /// Bytes the body has, or `None`: it runs until the instance closes the connection.
    body_length: Option<usize>,
    model_error: bool,
    keep_alive: bool,
}

impl Connection {
    /// Sends one request and reads its answer; also says whether the connection may serve
    /// another request.
    async fn exchange(&mut self, head: &[u8], body: &[u8]) -> Result<(Answer, bool), Failure> {
        self.write.clear();
        self.write.extend_from_slice(head);
        // Writing to a Vec cannot fail.
        let _ = write!(self.write, "{}\r\n\r\n", body.len());
        self.write.extend_from_slice(body);
        if let Err(err) = self.stream.write_all(&self.write).await {
            return Err(Failure::Unanswered(format!(
                "sending to the instance: {err}"
            )));
        }
        self.read.clear();
        let head = loop {
            if let Some(head) = parse_head(&self.read)? {
                break head;
            }
            if self.read.len() > MAX_HEAD_BYTES {
                return Err(Failure::Broken(format!(
                    "the instance's answer head is longer than {MAX_HEAD_BYTES} bytes"
                )));
            }
            let closed = match self.fill().await {
                Ok(0) => "the instance closed the connection".to_owned(),
                Ok(_) => continue,
                Err(err) => format!("reading the instance's answer: {err}"),
            };
            return Err(if self.read.is_empty() {
                Failure::Unanswered(closed)
            } else {
                Failure::Broken(format!("{closed} within an answer's head"))
            });
        };
        self.read.advance(head.length);
        let answer_body = match head.body_length {
            Some(length) => {
                if length > MAX_ANSWER_BYTES {
                    return Err(too_long());
                }
                while self.read.len() < length {
                    if self.fill().await.map_err(broken_read)? == 0 {
                        return Err(Failure::Broken(
                            "the instance closed the connection within an answer".to_owned(),
                        ));
                    }
                }
                self.read.split_to(length).freeze()
            }
            None => {
                while self.fill().await.map_err(broken_read)? > 0 {
                    if self.read.len() > MAX_ANSWER_BYTES {
                        return Err(too_long());
                    }
                }
                self.read.split().freeze()
            }
        };
        // Bytes past the answer were never asked for: the connection's framing is lost.
        let reusable = head.keep_alive && head.body_length.is_some() && self.read.is_empty();
        let answer = Answer {
            status: head.status,
            model_error: head.model_error,
            body: answer_body,
        };
        Ok((answer, reusable))
    }

    /// Reads what the instance has sent so far; 0 when it has closed the connection.
    async fn fill(&mut self) -> std::io::Result<usize> {
        self.read.reserve(READ_RESERVE);
        self.stream.read_buf(&mut self.read).await
    }
}

fn broken_read(err: std::io::Error) -> Failure {
    Failure::Broken(format!("reading the instance's answer: {err}"))
}

fn too_long() -> Failure {
    Failure::Broken(format!(
        "the instance's answer is longer than {MAX_ANSWER_BYTES} bytes"
    ))
}

/// The answer's head when `read` holds all of it, `None` while it is still arriving.
fn parse_head(read: &[u8]) -> Result<Option<Head>, Failure> {
    let broken = |rule: &str| Failure::Broken(format!("the instance's answer {rule}"));
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(read) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(err) => return Err(broken(&format!("is not HTTP/1.1: {err}"))),
    };
    let status = response
        .code
        .and_then(|code| StatusCode::from_u16(code).ok())
        .filter(|status| !status.is_informational())
        .ok_or_else(|| broken("has no final status"))?;
    let mut head = Head {
        length,
        status,
        body_length: None,
        model_error: false,
        // HTTP/1.0 closes after each answer unless told otherwise; the harness speaks 1.1.
        keep_alive: response.version == Some(1),
    };
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|text| text.trim().parse::<usize>().ok())
                .ok_or_else(|| broken("has a content-length that is not a number"))?;
            if head.body_length.is_some_and(|seen| seen != value) {
                return Err(broken("has two different content-lengths"));
            }
            head.body_length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(broken("is chunked, which the harness never sends"));
        } else if name.eq_ignore_ascii_case("connection") {
            head.keep_alive = !header.value.eq_ignore_ascii_case(b"close");
        } else if name.eq_ignore_ascii_case(MODEL_ERROR) {
            head.model_error = true;
        }
    }
    // These statuses never carry a body, whatever the headers say.
    if matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
        head.body_length = Some(0);
    }
    Ok(Some(head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Reads one request that ends with `{"x":1}` and checks its head.
    async fn read_request(stream: &mut TcpStream) {
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
    }

    /// An instance that sends `answers` in turn, one request per connection, closing each
    /// connection unannounced (as the harness closes idle keep-alive connections); it returns
    /// how many connections it saw.
    async fn instance(answers: Vec<&'static str>) -> (SocketAddr, tokio::task::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let mut connections = 0;
            for answer in answers {
                let (mut stream, _) = listener.accept().await.expect("accept");
                connections += 1;
                read_request(&mut stream).await;
                stream.write_all(answer.as_bytes()).await.expect("write");
            }
            connections
        });
        (address, server)
    }

    fn score(
        upstream: &Upstream,
    ) -> impl std::future::Future<Output = Result<Answer, String>> + '_ {
        upstream.score(Bytes::from_static(b"{\"x\":1}"))
    }

    #[tokio::test]
    async fn a_request_on_a_connection_the_instance_closed_goes_out_on_a_new_one() {
        let model_error = "HTTP/1.1 500 Internal Server Error\r\nx-ms-model-error: 1\r\n\
                           Content-Length: 2\r\n\r\n{}";
        let (address, server) = instance(vec![model_error, model_error]).await;
        let upstream = Upstream::new(address);
        for _ in 0..2 {
            let answer = score(&upstream).await.expect("an answer");
            assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
            assert!(answer.model_error);
            assert_eq!(&answer.body[..], b"{}");
        }
        assert_eq!(server.await.expect("the instance"), 2);
    }

    #[tokio::test]
    async fn answers_in_pieces_and_answers_ended_by_close_are_read_whole() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            // Head and body in pieces, on one keep-alive connection.
            read_request(&mut stream).await;
            for piece in ["HTTP/1.1 200 OK\r\nContent-Le", "ngth: 5\r\n\r\n[1,", "2]"] {
                stream.write_all(piece.as_bytes()).await.expect("write");
                stream.flush().await.expect("flush");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            // The same connection again: the answer has no length and ends with the connection.
            read_request(&mut stream).await;
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n[3]")
                .await
                .expect("write");
        });
        let upstream = Upstream::new(address);
        let first = score(&upstream).await.expect("an answer");
        assert_eq!(
            (first.status, &first.body[..]),
            (StatusCode::OK, &b"[1,2]"[..])
        );
        assert!(!first.model_error);
        let second = score(&upstream).await.expect("an answer");
        assert_eq!(&second.body[..], b"[3]");
        server.await.expect("the instance");
        assert!(
            upstream.take_idle().is_none(),
            "a closed connection is not kept"
        );
    }

    #[tokio::test]
    async fn a_broken_answer_is_an_error_that_says_why_and_is_not_sent_again() {
        let cases = [
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n[1]",
                "within an answer",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                "chunked",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                "not a number",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
                "longer than",
            ),
            ("SMTP ready\r\n\r\n", "not HTTP/1.1"),
        ];
        for (answer, reason) in cases {
            let (address, server) = instance(vec![answer]).await;
            let upstream = Upstream::new(address);
            let err = score(&upstream).await.expect_err(answer);
            assert!(err.contains(reason), "{answer:?}: {err}");
            assert_eq!(server.await.expect("the instance"), 1, "{answer:?}");
        }
    }
}
