//! The handshake check: runs in front of both transports and refuses a connection before any
//! protocol work when its `Origin` is not allowed (403), or the server or this address is at
//! its connection cap (503). An admitted handshake carries its admission [`Ticket`] in the
//! request's extensions; the transport keeps it for as long as the connection lives.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::admission::{Admission, AdmissionError, Ticket};
use crate::metrics::{Metrics, RefusalKind};
use crate::origin::OriginPolicy;

/// What the handshake check needs to decide.
#[derive(Clone)]
pub struct Handshake {
    /// Allowed origins.
    pub origins: Arc<OriginPolicy>,
    /// Where refusals are counted.
    pub metrics: Arc<Metrics>,
    /// The connection caps.
    pub admission: Admission,
}

/// An admitted connection's slot, as the transports find it in the request extensions.
#[derive(Clone, Debug)]
pub struct Admitted(pub Arc<Ticket>);

/// Path prefixes of the two transports.
const GUARDED: [&str; 2] = ["/socket.io", "/ws"];

/// axum middleware: checks origin and capacity on transport requests only.
pub async fn check_handshake(
    State(handshake): State<Handshake>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !GUARDED.iter().any(|prefix| path.starts_with(prefix)) {
        return next.run(request).await;
    }
    let socketio = path.starts_with("/socket.io");
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        if !handshake.origins.allows(origin, host(request.headers())) {
            tracing::warn!(
                origin,
                path,
                "refused a connection from a web page of another origin; to allow it, start with --allowed-origin {origin}"
            );
            handshake.metrics.refused(RefusalKind::origin);
            let body = format!("origin {origin} is not allowed\n");
            return (StatusCode::FORBIDDEN, body).into_response();
        }
    }
    if is_handshake(&request) {
        // Only the TCP peer's address counts; X-Forwarded-For and the like are never read.
        let addr = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        match handshake.admission.admit(addr) {
            Ok(ticket) => {
                request.extensions_mut().insert(Admitted(Arc::new(ticket)));
            }
            Err(error) => {
                let kind = match error {
                    AdmissionError::ServerFull(_) => RefusalKind::server_full,
                    AdmissionError::AddressFull { .. } => RefusalKind::address_full,
                };
                handshake.metrics.refused(kind);
                let body = format!("{error}: try again later\n");
                return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
            }
        }
    }
    if socketio {
        return match detach_head(request) {
            Ok(request) => next.run(request).await,
            Err(error) => (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
        };
    }
    next.run(request).await
}

/// socketioxide keeps each socket's handshake request head for as long as the socket lives.
/// Its header values and URI are slices of hyper's 8-16 KiB read buffer, which would stay
/// pinned per idle peer; an owned copy of the head lets it go.
fn detach_head(request: Request) -> Result<Request, axum::http::Error> {
    let (parts, body) = request.into_parts();
    let uri = parts.uri.to_string().parse().unwrap_or(parts.uri);
    let mut builder = axum::http::Request::builder()
        .method(parts.method)
        .uri(uri)
        .version(parts.version);
    if let Some(headers) = builder.headers_mut() {
        for (name, value) in &parts.headers {
            let name = HeaderName::from_bytes(name.as_str().as_bytes());
            let value = HeaderValue::from_bytes(value.as_bytes());
            if let (Ok(name), Ok(value)) = (name, value) {
                headers.append(name, value);
            }
        }
    }
    // Keep the extensions (hyper's upgrade handle, the peer address) but not axum's copy of
    // the URI, which is another view of the same buffer.
    let mut extensions = parts.extensions;
    extensions.remove::<axum::extract::OriginalUri>();
    if let Some(slot) = builder.extensions_mut() {
        *slot = extensions;
    }
    builder.body(body)
}

fn host(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|h| h.to_str().ok())
}

/// A new connection: any `/ws` request, or a Socket.IO request without a session id.
fn is_handshake(request: &Request) -> bool {
    if request.uri().path().starts_with("/ws") {
        return true;
    }
    !request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair.starts_with("sid="))
}
