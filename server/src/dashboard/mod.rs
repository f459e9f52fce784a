//! The dashboard: the window's UI served at `/dashboard`, and a read-only JSON API with a live
//! event stream. Room and peer names are private, so [`access`] guards every route here. It is
//! an observer: it reads the hub's roster and counters and changes nothing.

mod access;
mod api;
mod view;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::watch;

pub use access::Access;
pub use api::{NewMeeting, Status, collect_status};
pub use view::{PeerView, RoomView, Snapshot, summary, summary_of};

use crate::discovery::MdnsState;
use crate::embedded::asset;
use crate::hub::Hub;
use crate::media::MediaStats;
use crate::meeting::MeetingConfig;

/// What the dashboard reads.
#[derive(Clone)]
pub struct DashboardState {
    /// Rooms, people and counters.
    pub hub: Hub,
    /// The address the server listens on, for its URLs.
    pub listen: SocketAddr,
    /// LAN announcement status and the other servers seen.
    pub mdns: MdnsState,
    /// The HTTPS port and fingerprint, for the meeting link.
    pub meeting: Arc<MeetingConfig>,
    /// Becomes true when the server shuts down, so the event streams end.
    pub closing: watch::Receiver<bool>,
    /// The media forwarder's figures, when it runs.
    pub media: Option<MediaStats>,
}

/// The UI files, embedded so the binary works offline.
const INDEX_HTML: &str = include_str!("../../../ui/index.html");
const APP_JS: &str = include_str!("../../../ui/app.js");
const STYLE_CSS: &str = include_str!("../../../ui/style.css");

/// Routes for `/dashboard`, `/api/*` and `/metrics`, behind the access rule.
pub fn routes(state: DashboardState, access: Access) -> Router {
    Router::new()
        .route("/dashboard", get(to_slash))
        .route(
            "/dashboard/",
            get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/dashboard/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/dashboard/style.css",
            get(|| async { asset(STYLE_CSS, "text/css; charset=utf-8") }),
        )
        .route("/api/status", get(api::status))
        .route("/api/rooms", get(api::rooms))
        .route("/api/new-meeting", get(api::new_meeting))
        .route("/api/events", get(api::events))
        .route("/api/qr.svg", get(api::qr))
        .with_state(state)
        .layer(middleware::from_fn_with_state(
            access,
            access::require_access,
        ))
}

/// `/metrics`, behind an access rule of its own (`--metrics-token`, else this machine only): a
/// monitoring system gets counts, never the dashboard's names of rooms and people.
pub fn metrics_routes(state: DashboardState, access: Access) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
        .layer(middleware::from_fn_with_state(
            access,
            access::require_access,
        ))
}

/// `GET /metrics`: Prometheus text format. Its labels hold no name of a room or person.
async fn metrics(State(state): State<DashboardState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.hub.metrics().encode(),
    )
}

/// `/dashboard` -> `/dashboard/`, so the page's relative asset paths resolve (query kept).
async fn to_slash(uri: axum::http::Uri) -> axum::response::Redirect {
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    axum::response::Redirect::permanent(&format!("/dashboard/{query}"))
}
