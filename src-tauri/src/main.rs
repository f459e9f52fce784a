//! Free Meetings desktop: the signaling server lives in the tray, the live rooms in a window.
//! The shell is thin: all signaling is in the `free-meetings` library.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod cli;
mod commands;
mod desktop;
mod tray;
mod window;

use std::process::ExitCode;
use std::sync::Arc;

use free_meetings::startup;
use tauri::{AppHandle, Manager, RunEvent};

use crate::desktop::Desktop;

fn main() -> ExitCode {
    let args: cli::Args = match startup::parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    startup::init_logging();
    startup::raise_open_file_limit();

    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            window::show(app)
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--minimized"]),
        ))
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(tauri::generate_handler![
            commands::app_state,
            commands::get_settings,
            commands::save_settings,
            commands::use_port,
            commands::window_shows,
            commands::open_meeting,
            commands::copy_text,
        ])
        .setup(move |app| {
            let settings_path = app.path().app_config_dir()?.join("settings.json");
            let minimized = args.minimized;
            let desktop = Arc::new(Desktop::new(args.server, args.settings, settings_path));
            app.manage(desktop.clone());
            // Before the server starts: a SIGTERM as soon as it answers must already quit cleanly.
            let handle = app.handle().clone();
            tauri::async_runtime::block_on(async move {
                let signal = startup::termination_signal();
                tauri::async_runtime::spawn(async move {
                    signal.await;
                    tracing::info!("signal received: quitting");
                    quit(handle);
                });
            });
            tauri::async_runtime::block_on(desktop.start());
            tray::create(app.handle())?;
            if !minimized {
                window::show(app.handle());
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(error) => {
            eprintln!("error: the desktop app could not start: {error}");
            return ExitCode::FAILURE;
        }
    };
    app.run(|_, event| {
        // Closing the window keeps the app in the tray; only Quit (an explicit exit code) ends it.
        if let RunEvent::ExitRequested {
            api, code: None, ..
        } = event
        {
            api.prevent_exit();
        }
    });
    ExitCode::SUCCESS
}

/// Shuts the server down cleanly (peers told, LAN goodbye), then exits 0.
pub fn quit(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        app.state::<Arc<Desktop>>().inner().clone().stop().await;
        app.exit(0);
    });
}
