//! The handshake guard: runs in front of both transports and refuses a connection before any
//! protocol work when its `Origin` is not allowed (403) or the server is full (503).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::origin::OriginPolicy;
use crate::hub::Hub;

/// What the guard needs to decide.
#[derive(Clone)]
pub struct Guard {
    /// Allowed origins.
    pub origins: std::sync::Arc<OriginPolicy>,
    /// For the connection count.
    pub hub: Hub,
}

/// Path prefixes of the two transports.
const GUARDED: [&str; 2] = ["/socket.io", "/ws"];

/// axum middleware: checks origin and capacity on transport requests only.
pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !GUARDED.iter().any(|prefix| path.starts_with(prefix)) {
        return next.run(request).await;
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        if !guard.origins.allows(origin, host(request.headers())) {
            tracing::warn!(
                origin,
                path,
                "refused a connection from a web page of another origin; to allow it, start with --allowed-origin {origin}"
            );
            let body = format!("origin {origin} is not allowed\n");
            return (StatusCode::FORBIDDEN, body).into_response();
        }
    }
    if is_handshake(&request) && !guard.hub.has_room_for_connection() {
        tracing::warn!(
            path,
            "refused a connection: the server is at its connection limit (--max-connections)"
        );
        return (StatusCode::SERVICE_UNAVAILABLE, "server is full\n").into_response();
    }
    next.run(request).await
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
