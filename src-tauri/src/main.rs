//! Free Meetings' window: a Tauri web view of `ui/`, started by the tray process
//! (`free-meetings-desktop`, in `desktop/`) and ended when closed, so that WebKit holds no memory
//! while the app waits in the tray. The app's state lives in the tray process, reached through its
//! loopback control API; this shell only draws the page and does what a page cannot (title,
//! browser, clipboard).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod window;

use std::process::ExitCode;

use free_meetings::desktop::WindowLink;

fn main() -> ExitCode {
    // SAFETY: the first thing the process does, before any thread starts.
    let Some(link) = (unsafe { WindowLink::take_from_env() }) else {
        eprintln!(
            "error: free-meetings-window is the Free Meetings window, opened by the app; \
             start free-meetings-desktop instead"
        );
        return ExitCode::from(2);
    };
    free_meetings::startup::init_logging(free_meetings::startup::LogFormat::Auto);
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(tauri::generate_handler![
            commands::window_shows,
            commands::raise_window,
            commands::open_meeting,
            commands::copy_text,
        ])
        .setup(move |app| Ok(window::create(app.handle(), &link)?))
        .build(tauri::generate_context!());
    match app {
        Ok(app) => {
            app.run(|_, _| {});
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: the window could not open: {error}");
            ExitCode::FAILURE
        }
    }
}
