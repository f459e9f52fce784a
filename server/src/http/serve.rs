//! The HTTP/1.1 accept-and-serve loop. axum's own `serve` sets no limit on how long a client may
//! take to send its headers, so a slowloris (headers trickled a byte a second) or a silent
//! socket would hold a descriptor forever; here hyper cuts them after `header_timeout`. The
//! loop also outlives running out of descriptors (EMFILE): it logs once, retries, and says when
//! it serves again. The same loop serves HTTPS when given a TLS acceptor; the TLS handshake
//! then runs under the same header timeout.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long to wait before accepting again after the process ran out of descriptors.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// HTTPS, and what else shares its port.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    /// Where connections that do not open with a TLS handshake go: the media forwarder's ICE
    /// over TCP (RFC 4571 frames start with a length, never with TLS's 0x16).
    pub media: Option<mpsc::Sender<TcpStream>>,
}

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Serves `app` on `listener` (over TLS when `tls` is given) until `stop` turns true, then
/// lets in-flight requests finish for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Tls>,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    // Each connection task holds a sender; when all are dropped, every connection has ended.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    let mut failing = false;
    loop {
        let accepted = tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, addr) = match accepted {
            Ok(accepted) => {
                if failing {
                    failing = false;
                    tracing::info!("accepting connections again");
                }
                accepted
            }
            Err(error) if is_per_connection(&error) => continue,
            Err(error) => {
                if !failing {
                    failing = true;
                    tracing::warn!(%error, "cannot accept connections (out of file descriptors?); retrying every 100 ms");
                }
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        // As Node's HTTP server does: small signaling frames go out at once.
        let _ = stream.set_nodelay(true);
        let connection = HttpConnection {
            addr,
            over_tls: tls.is_some(),
            app: app.clone(),
            header_timeout,
            stop: stop.clone(),
            _alive: alive.clone(),
        };
        match &tls {
            None => {
                tokio::spawn(connection.serve(stream));
            }
            Some(tls) => {
                let tls = tls.clone();
                tokio::spawn(async move {
                    if let Some(media) = &tls.media {
                        let mut first = [0u8; 1];
                        let peeked = tokio::time::timeout(header_timeout, stream.peek(&mut first));
                        match peeked.await {
                            Ok(Ok(1)) if first[0] != TLS_HANDSHAKE => {
                                if media.try_send(stream).is_err() {
                                    tracing::debug!(%addr, "media TCP connection dropped: the forwarder is busy");
                                }
                                return;
                            }
                            Ok(Ok(1)) => {}
                            _ => return, // closed, failed, or silent past the header timeout
                        }
                    }
                    // A client that never finishes its TLS handshake is a slowloris too.
                    match tokio::time::timeout(header_timeout, tls.acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => connection.serve(stream).await,
                        Ok(Err(error)) => tracing::debug!(%addr, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
    drop(alive);
    if tokio::time::timeout(grace, all_done.recv()).await.is_err() {
        tracing::debug!("some HTTP connections were still open at shutdown");
    }
}

/// One accepted connection and what serving it needs.
struct HttpConnection {
    addr: SocketAddr,
    /// Whether this listener speaks TLS (what the HTTPS-first redirect asks).
    over_tls: bool,
    app: Router,
    header_timeout: Duration,
    stop: watch::Receiver<bool>,
    /// Dropped when the connection ends; see `all_done` in [`serve`].
    _alive: mpsc::Sender<()>,
}

impl HttpConnection {
    /// Serves HTTP/1.1 on `io` (plain TCP or TLS) until the client leaves or the server stops.
    async fn serve<I>(self, io: I)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let HttpConnection {
            addr,
            over_tls,
            app,
            header_timeout,
            mut stop,
            _alive,
        } = self;
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(addr));
            request
                .extensions_mut()
                .insert(super::https_first::OverTls(over_tls));
            let app = app.clone();
            async move {
                let response = app.oneshot(request.map(axum::body::Body::new)).await;
                Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let connection = builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = stopped(&mut stop) => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%addr, %error, "HTTP connection ended with an error");
        }
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Errors that concern one connection that was aborted before it was accepted, not the
/// listener: accepting the next one works.
fn is_per_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted | WouldBlock
    )
}
