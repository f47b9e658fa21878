//! Serving a plane over plain TCP or TLS, with one thing `axum::serve` can't do: end a
//! connection without any answer, as a failing network does. A response that carries
//! [`CutOff`] (the fault switch's dropped connection) becomes a service error, on which hyper
//! closes the connection before writing a byte of it.

use super::tls::Tls;
use axum::extract::Request;
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// Marks a response that must never reach the client: its connection is closed instead.
#[derive(Debug, Clone, Copy)]
pub struct CutOff;

impl std::fmt::Display for CutOff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault switch")
    }
}

impl std::error::Error for CutOff {}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `stop` turns true.
/// Connections already open finish their current requests.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<Tls>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = stop.wait_for(|stopped| *stopped) => return Ok(()),
        };
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(tls) => {
                    if let Ok(stream) = tls.accept(stream).await {
                        connection(stream, app).await;
                    }
                }
                None => connection(stream, app).await,
            }
        });
    }
}

async fn connection<S>(stream: S, app: axum::Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let app = app.clone();
            async move {
                let request: Request = request.map(axum::body::Body::new);
                let response: Response = match app.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                answer(response)
            }
        });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if let Err(err) = builder
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%err, "connection ended with an error");
    }
}

/// The response, or the error that makes hyper drop the connection unanswered.
fn answer(response: Response) -> Result<Response, CutOff> {
    match response.extensions().get::<CutOff>() {
        Some(cut) => Err(*cut),
        None => Ok(response),
    }
}
