//! Serving a plane over plain TCP or TLS, with one thing `axum::serve` can't do: end a
//! connection without any answer, as a failing network does. A response that carries
//! [`CutOff`] (the fault switch's dropped connection) becomes a service error, on which hyper
//! closes the connection before writing a byte of it.

use super::tls::Tls;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
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

/// What answers a plane's requests: an axum router, or a plane with a hot path of its own
/// in front of one (the scoring plane's).
/// Each request gets its own clone (an `Arc` or two).
pub trait Handler: Clone + Send + Sync + 'static {
    fn handle(self, request: hyper::Request<Incoming>) -> impl Future<Output = Response> + Send;
}

impl Handler for axum::Router {
    fn handle(self, request: hyper::Request<Incoming>) -> impl Future<Output = Response> + Send {
        let request = request.map(axum::body::Body::new);
        async move {
            match self.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    }
}

/// What happens to open connections when the listener stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStop {
    /// They finish on their own (the control plane's).
    Leave,
    /// Each finishes the request it is serving, idle ones close, and `serve` returns once all
    /// have (the scoring plane's zero-drop stop).
    Drain,
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `stop` turns true.
/// Connections already open finish their current requests. Accepted sockets get TCP_NODELAY:
/// an answer goes out as soon as it is written.
pub async fn serve(
    listener: TcpListener,
    app: impl Handler,
    tls: Option<Tls>,
    mut stop: watch::Receiver<bool>,
    on_stop: OnStop,
) -> std::io::Result<()> {
    // Every draining connection holds a receiver; the sender sees them all gone.
    let (open, open_rx) = watch::channel(());
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = stop.wait_for(|stopped| *stopped) => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let drain = (on_stop == OnStop::Drain).then(|| (stop.clone(), open_rx.clone()));
        tokio::spawn(async move {
            match tls {
                Some(tls) => {
                    if let Ok(stream) = tls.accept(stream).await {
                        connection(stream, app, drain).await;
                    }
                }
                None => connection(stream, app, drain).await,
            }
        });
    }
    drop(open_rx);
    if on_stop == OnStop::Drain {
        open.closed().await;
    }
    Ok(())
}

/// Serves one connection; with `drain`, shuts it down gracefully once the stop signal comes.
async fn connection<S>(
    stream: S,
    app: impl Handler,
    drain: Option<(watch::Receiver<bool>, watch::Receiver<()>)>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let response = app.clone().handle(request);
        async move { answer(response.await) }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let ended = match drain {
        None => connection.await,
        Some((mut stop, _open)) => tokio::select! {
            ended = connection.as_mut() => ended,
            // (the guard `wait_for` returns is not `Send`: dropped before the next await)
            () = async { drop(stop.wait_for(|stopped| *stopped).await) } => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        },
    };
    if let Err(err) = ended {
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
