//! The tray process's control API for its window process: the app's state and settings over
//! loopback HTTP. The window is a separate process (so that closing it frees every byte of its
//! web view), and these are the calls it cannot answer itself. Bound to 127.0.0.1 on a port the
//! OS picks; every call needs the token the tray process hands to the window it starts.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use free_meetings::desktop::Settings;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tower_http::cors::CorsLayer;

use crate::desktop::{AppStatusView, Desktop};

/// Where the window process reaches the tray process, and the secret it presents.
#[derive(Clone)]
pub struct Control {
    pub url: String,
    pub token: String,
}

#[derive(Clone)]
struct ControlState {
    desktop: Arc<Desktop>,
    /// `Bearer <token>`, compared whole.
    authorization: Arc<str>,
    /// Asks to raise the window (a count; each change is one ask).
    raise: watch::Receiver<u64>,
}

/// The settings and any warning about the settings file.
#[derive(Serialize)]
struct SettingsView {
    settings: Settings,
    warning: Option<String>,
}

#[derive(Deserialize)]
struct ChooseLanguage {
    /// A catalogue's code; `null` for the system's language.
    language: Option<String>,
}

#[derive(Deserialize)]
struct UsePort {
    port: u16,
}

/// Starts the control API on loopback; it runs until the process exits.
pub async fn start(desktop: Arc<Desktop>, raise: watch::Receiver<u64>) -> std::io::Result<Control> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let token: String = {
        let mut bytes = [0u8; 16];
        rand::rng().fill(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    let state = ControlState {
        desktop,
        authorization: format!("Bearer {token}").into(),
        raise,
    };
    // The window's page is served from the app's own origin, not from this port.
    let cors = CorsLayer::new()
        .allow_origin(crate::desktop::WINDOW_ORIGINS.map(HeaderValue::from_static))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    let router = Router::new()
        .route("/app-state", get(app_state))
        .route("/settings", get(get_settings).post(save_settings))
        .route("/use-port", post(use_port))
        .route("/language", post(choose_language))
        .route("/raise", get(wait_for_raise))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(cors)
        .with_state(state);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the window's control API stopped");
        }
    });
    Ok(Control { url, token })
}

async fn require_token(
    State(state): State<ControlState>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request.headers().get(header::AUTHORIZATION);
    if presented.is_some_and(|value| value.as_bytes() == state.authorization.as_bytes()) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            "this API is for the app's own window",
        )
            .into_response()
    }
}

async fn app_state(State(state): State<ControlState>) -> Json<AppStatusView> {
    Json(state.desktop.status_view())
}

/// Sets the window's and the tray's language (the server keeps running).
async fn choose_language(
    State(state): State<ControlState>,
    Json(ChooseLanguage { language }): Json<ChooseLanguage>,
) -> Response {
    match state.desktop.set_language(language) {
        Ok(()) => Json(true).into_response(),
        Err(problem) => (StatusCode::UNPROCESSABLE_ENTITY, problem).into_response(),
    }
}

async fn get_settings(State(state): State<ControlState>) -> Json<SettingsView> {
    let loaded = state.desktop.loaded();
    Json(SettingsView {
        settings: loaded.settings,
        warning: loaded.warning,
    })
}

/// Saves settings and applies them at once; answers the port now in use.
async fn save_settings(
    State(state): State<ControlState>,
    Json(settings): Json<Settings>,
) -> Response {
    crate::autostart::apply(settings.start_at_login);
    applied(state.desktop.save(settings).await)
}

/// Switches to another port (the one-click fix for a busy port).
async fn use_port(
    State(state): State<ControlState>,
    Json(UsePort { port }): Json<UsePort>,
) -> Response {
    let settings = Settings {
        port,
        ..state.desktop.loaded().settings
    };
    applied(state.desktop.save(settings).await)
}

/// Answers at the next ask to raise the window (the window's page keeps one of these waiting).
async fn wait_for_raise(State(state): State<ControlState>) -> Json<bool> {
    let mut asks = state.raise.clone();
    asks.borrow_and_update();
    Json(asks.changed().await.is_ok())
}

fn applied(result: Result<Option<u16>, String>) -> Response {
    match result {
        Ok(port) => Json(port).into_response(),
        Err(problem) => (StatusCode::UNPROCESSABLE_ENTITY, problem).into_response(),
    }
}
