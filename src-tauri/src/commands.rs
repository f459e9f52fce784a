//! Commands the window calls through the Tauri bridge (settings and the server's state).

use std::sync::Arc;

use free_meetings::desktop::Settings;
use serde::Serialize;
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt;
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_opener::OpenerExt;

use crate::desktop::{AppStatus, Desktop};

/// The settings and any warning about the settings file.
#[derive(Serialize)]
pub struct SettingsView {
    settings: Settings,
    warning: Option<String>,
}

/// The server's state as the app sees it (problem, suggested port, port).
#[tauri::command]
pub fn app_state(desktop: State<'_, Arc<Desktop>>) -> AppStatus {
    desktop.status().borrow().clone()
}

/// The current settings.
#[tauri::command]
pub fn get_settings(desktop: State<'_, Arc<Desktop>>) -> SettingsView {
    let loaded = desktop.loaded();
    SettingsView {
        settings: loaded.settings,
        warning: loaded.warning,
    }
}

/// Saves settings and applies them at once; returns the port now in use.
#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    desktop: State<'_, Arc<Desktop>>,
    settings: Settings,
) -> Result<Option<u16>, String> {
    set_start_at_login(&app, settings.start_at_login);
    desktop.save(settings).await
}

/// Switches to another port (the one-click fix for a busy port).
#[tauri::command]
pub async fn use_port(desktop: State<'_, Arc<Desktop>>, port: u16) -> Result<Option<u16>, String> {
    let settings = Settings {
        port,
        ..desktop.loaded().settings
    };
    desktop.save(settings).await
}

/// The page reports what it shows; the window title carries it, so a glance at the taskbar
/// (or a test reading the title) sees what the window rendered.
#[tauri::command]
pub fn window_shows(window: tauri::WebviewWindow, summary: String) {
    let summary: String = summary
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    let _ = window.set_title(&format!("Free Meetings — {summary}"));
}

/// Opens a meeting link in the default browser (the window's Join and New meeting).
#[tauri::command]
pub fn open_meeting(app: AppHandle, url: String) -> Result<(), String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!("not a web link: {url}"));
    }
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(|e| format!("could not open the browser: {e}"))
}

/// Puts text on the clipboard (the web view's own clipboard access differs between systems).
#[tauri::command]
pub fn copy_text(app: AppHandle, text: String) -> Result<(), String> {
    app.clipboard()
        .write_text(text)
        .map_err(|e| format!("could not copy: {e}"))
}

/// Registers or removes the OS login item.
pub fn set_start_at_login(app: &AppHandle, on: bool) {
    let launcher = app.autolaunch();
    let result = if on {
        launcher.enable()
    } else {
        launcher.disable()
    };
    if let Err(error) = result {
        tracing::warn!(%error, "could not change start at login");
    }
}
