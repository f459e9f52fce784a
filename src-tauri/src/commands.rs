//! Commands the window calls through the Tauri bridge: what its own process can do (title,
//! browser, clipboard). The app's state and settings live in the tray process (`control.rs`).

use tauri::AppHandle;
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_opener::OpenerExt;

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

/// Brings the window to the front (the tray process asked: Open, or a second launch).
#[tauri::command]
pub fn raise_window(window: tauri::WebviewWindow) {
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
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
