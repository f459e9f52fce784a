//! The HTTP surface: `/health`, `/ws`, Socket.IO at `/socket.io`, the dashboard and
//! `/metrics`, behind the handshake guard and CORS.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router, middleware};
use serde_json::json;
use socketioxide::layer::SocketIoLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::dashboard::Access;
use crate::discovery::MdnsState;
use crate::hub::Hub;
use crate::transport::admission::Admission;
use crate::transport::guard::{Guard, guard};
use crate::transport::origin::OriginPolicy;
use crate::transport::ws::{self, WsSettings};

/// State shared by the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    /// The core and outboxes.
    pub hub: Hub,
    /// `/ws` connection settings.
    pub ws: WsSettings,
    /// LAN announcement status.
    pub mdns: MdnsState,
    /// The address the server listens on.
    pub listen: std::net::SocketAddr,
    /// Becomes true when the server shuts down, so long-lived responses (SSE) end.
    pub closing: tokio::sync::watch::Receiver<bool>,
    /// What the meeting page is told (ICE servers, HTTPS port and fingerprint).
    pub meeting: Arc<crate::meeting::MeetingConfig>,
}

/// Builds the whole application.
pub fn router(
    state: AppState,
    socketio: SocketIoLayer,
    origins: Arc<OriginPolicy>,
    dashboard: Access,
    admission: Admission,
    static_dir: Option<std::path::PathBuf>,
) -> Router {
    let guard_state = Guard {
        origins: origins.clone(),
        metrics: state.hub.metrics().clone(),
        admission,
    };
    Router::new()
        .route("/health", get(health))
        .route("/ws", get(ws::handler))
        .merge(crate::dashboard::routes(dashboard))
        .merge(crate::meeting::routes(static_dir))
        .with_state(state)
        .layer(socketio)
        .layer(middleware::from_fn_with_state(guard_state, guard))
        .layer(cors(&origins))
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let stats = state.hub.stats();
    Json(json!({
        "status": "ok",
        "ok": true,
        "version": env!("CARGO_PKG_VERSION"),
        "peers": stats.peers,
        "rooms": stats.rooms,
        "mdns": state.mdns.get(),
    }))
}

/// CORS headers for the same allow-list the guard enforces.
fn cors(origins: &Arc<OriginPolicy>) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(Any);
    if **origins == OriginPolicy::Any {
        return layer.allow_origin(Any);
    }
    let origins = origins.clone();
    layer.allow_origin(AllowOrigin::predicate(
        move |origin: &HeaderValue, request| {
            let host = request
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok());
            origin
                .to_str()
                .is_ok_and(|origin| origins.allows(origin, host))
        },
    ))
}

/// An embedded file as a response, never cached stale (the binary is what gets updated).
pub(crate) fn asset(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
