//! The HTTP surface, put together: each feature brings its own routes with its own state
//! (`/ws`, the dashboard and `/metrics`, the meeting page), this module adds `/health` and
//! merges them, then wraps everything in Socket.IO at `/socket.io`, the handshake check and
//! CORS. [`serve`] is the accept loop that runs the result over HTTP and HTTPS.

pub mod host;
pub mod https_first;
pub mod serve;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router, middleware};
use serde_json::json;
use socketioxide::layer::SocketIoLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::discovery::MdnsState;
use crate::hub::Hub;
use crate::origin::OriginPolicy;
use crate::transport::handshake::{Handshake, check_handshake};
use host::{HostCheck, check_host};
use https_first::{HttpsFirst, https_first};

/// The whole application: `features` merged with `/health`, behind Socket.IO, the handshake
/// check and CORS (both from the same origin allow-list), then the redirect of plain-HTTP page
/// navigations to HTTPS, and in front of all of them the `Host` check and the headers every
/// response carries.
pub fn router(
    features: impl IntoIterator<Item = Router>,
    health: Health,
    socketio: SocketIoLayer,
    handshake: Handshake,
    host: HostCheck,
    first: HttpsFirst,
) -> Router {
    let cors = cors(&handshake.origins);
    let app = Router::new()
        .route("/health", get(health_check))
        .with_state(health);
    features
        .into_iter()
        .fold(app, Router::merge)
        .layer(socketio)
        .layer(middleware::from_fn_with_state(handshake, check_handshake))
        .layer(cors)
        .layer(middleware::from_fn_with_state(first, https_first))
        .layer(middleware::from_fn_with_state(host, check_host))
}

/// What `/health` reports on.
#[derive(Clone)]
pub struct Health {
    pub hub: Hub,
    pub mdns: MdnsState,
    /// Cluster mode's membership, when the server is a node of one.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// The media forwarder's addresses now (they follow the machine's network), when it runs.
    pub media: Option<tokio::sync::watch::Receiver<Vec<std::net::SocketAddr>>>,
}

/// 200 while the server can admit joins, 503 with the reason while it cannot (a cluster node
/// that has lost Redis refuses every join): a load balancer checking it sends newcomers only to
/// nodes that can take them, and people already in rooms on the node keep their calls.
async fn health_check(State(health): State<Health>) -> (StatusCode, Json<serde_json::Value>) {
    let stats = health.hub.stats();
    let cluster = health.cluster.as_ref().map(|c| c.status());
    let unready = cluster
        .as_ref()
        .filter(|c| !c.connected)
        .map(|_| "this node cannot reach its cluster's Redis: it refuses joins until it can");
    let code = match unready {
        Some(_) => StatusCode::SERVICE_UNAVAILABLE,
        None => StatusCode::OK,
    };
    let body = json!({
        "status": if unready.is_some() { "unavailable" } else { "ok" },
        "ok": unready.is_none(),
        "reason": unready,
        "version": env!("CARGO_PKG_VERSION"),
        "peers": stats.peers,
        "rooms": stats.rooms,
        "mdns": health.mdns.get(),
        "cluster": cluster,
        "media": health.media.as_ref().map(|addrs| json!({ "addrs": *addrs.borrow() })),
    });
    (code, Json(body))
}

/// CORS headers for the same allow-list the handshake check enforces.
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
