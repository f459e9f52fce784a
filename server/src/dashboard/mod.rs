//! The dashboard: the window's UI served at `/dashboard`, and a read-only JSON API with a live
//! event stream. Room and peer names are private, so [`access`] guards every route here.

mod access;
mod api;

use axum::Router;
use axum::http::header;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;

pub use access::Access;
pub use api::{Status, collect_status};

use crate::http::{AppState, asset};

/// The UI files, embedded so the binary works offline.
const INDEX_HTML: &str = include_str!("../../../ui/index.html");
const APP_JS: &str = include_str!("../../../ui/app.js");
const STYLE_CSS: &str = include_str!("../../../ui/style.css");

/// Routes for `/dashboard` and `/api/*`, behind the access guard.
pub fn routes(access: Access) -> Router<AppState> {
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
        .route("/api/events", get(api::events))
        .route("/api/qr.svg", get(api::qr))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(access, access::guard))
}

/// `GET /metrics`: Prometheus text format. Under the dashboard's access rule, since counts of
/// people and refusals are about this office's meetings too.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
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
