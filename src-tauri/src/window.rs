//! The dashboard window: created on demand and destroyed when closed, so its web view does not
//! stay in memory while the app sits in the tray.

use std::sync::Arc;

use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

use crate::desktop::Desktop;

/// Shows the window, creating it if needed.
pub fn show(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let desktop = app.state::<Arc<Desktop>>();
    let port = desktop
        .status()
        .borrow()
        .port
        .unwrap_or(desktop.loaded().settings.port);
    let url = format!("index.html?api=http%3A%2F%2F127.0.0.1%3A{port}");
    let built = WebviewWindowBuilder::new(app, "main", WebviewUrl::App(url.into()))
        .title("Free Meetings")
        .inner_size(980.0, 760.0)
        .min_inner_size(520.0, 400.0)
        .build();
    if let Err(error) = built {
        tracing::error!(%error, "could not open the window");
    }
}
