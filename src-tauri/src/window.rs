//! The one web view of `ui/`, with the addresses the tray process passed (`WindowLink`): the
//! dashboard API, and the control API with its token (in the page's address, which stays inside
//! this process).

use free_meetings::desktop::WindowLink;
use tauri::{AppHandle, WebviewUrl, WebviewWindowBuilder};

/// Creates the window.
pub fn create(app: &AppHandle, link: &WindowLink) -> tauri::Result<()> {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("api", &format!("http://127.0.0.1:{}", link.api_port))
        .append_pair("control", &link.control_url)
        .append_pair("controlToken", &link.control_token)
        .finish();
    let url = format!("index.html?{query}");
    WebviewWindowBuilder::new(app, "main", WebviewUrl::App(url.into()))
        .title("Free Meetings")
        .inner_size(980.0, 760.0)
        .min_inner_size(520.0, 400.0)
        .build()?;
    Ok(())
}
