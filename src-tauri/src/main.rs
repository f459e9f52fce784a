//! Free Meetings desktop: the signaling server lives in the tray, the live rooms in a window.
//! The shell is thin: all signaling is in the `free-meetings` library. Two roles, one binary:
//! the tray process (server, tray, settings, control API) and, started by it with `--window`,
//! the window process (a web view of `ui/`), which ends when the window closes.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod autostart;
mod cli;
mod clipboard;
mod commands;
mod control;
mod desktop;
mod single_instance;
mod tray;
mod window;

use std::process::ExitCode;
use std::sync::Arc;

use free_meetings::startup;
use tauri::{AppHandle, Manager, RunEvent};

use crate::desktop::Desktop;
use crate::single_instance::Instance;
use crate::window::{WindowArgs, WindowProcess};

fn main() -> ExitCode {
    let args: cli::Args = match startup::parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let context = tauri::generate_context!();
    if args.window {
        let Some(window) = WindowArgs::from_env() else {
            eprintln!("error: --window is how the app opens its own window; start the app instead");
            return ExitCode::from(2);
        };
        startup::init_logging();
        return run_window(window, context);
    }
    startup::init_logging();
    let (claim, mut opens) = match single_instance::claim() {
        Ok(Instance::First { claim, opens }) => (claim, opens),
        Ok(Instance::HandedOver) => return ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    startup::raise_open_file_limit();

    let app = tauri::Builder::default()
        .setup(move |app| {
            app.manage(claim);
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                while opens.recv().await.is_some() {
                    handle.state::<WindowProcess>().show();
                }
            });
            let settings_path = app.path().app_config_dir()?.join("settings.json");
            let minimized = args.minimized;
            let desktop = Arc::new(Desktop::new(args.server, args.settings, settings_path));
            app.manage(desktop.clone());
            app.manage(clipboard::Clipboard::default());
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
            let raise = tokio::sync::watch::channel(0).0;
            let control =
                tauri::async_runtime::block_on(control::start(desktop.clone(), raise.subscribe()))?;
            app.manage(WindowProcess::new(desktop.clone(), control, raise));
            tray::create(app.handle())?;
            if !minimized {
                app.state::<WindowProcess>().show();
            }
            Ok(())
        })
        .build(context);
    let app = match app {
        Ok(app) => app,
        Err(error) => {
            eprintln!("error: the desktop app could not start: {error}");
            return ExitCode::FAILURE;
        }
    };
    app.run(|_, event| {
        // The tray process has no window of its own; only Quit (an explicit exit code) ends it.
        if let RunEvent::ExitRequested {
            api, code: None, ..
        } = event
        {
            api.prevent_exit();
        }
    });
    ExitCode::SUCCESS
}

/// The window process: one web view; it ends when the window is closed.
fn run_window(window: WindowArgs, context: tauri::Context) -> ExitCode {
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(tauri::generate_handler![
            commands::window_shows,
            commands::raise_window,
            commands::open_meeting,
            commands::copy_text,
        ])
        .setup(move |app| Ok(window::create(app.handle(), &window)?))
        .build(context);
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

/// Shuts the server down cleanly (peers told, LAN goodbye), closes the window, then exits 0.
pub fn quit(app: AppHandle) {
    app.state::<WindowProcess>().close();
    tauri::async_runtime::spawn(async move {
        app.state::<Arc<Desktop>>().inner().clone().stop().await;
        app.exit(0);
    });
}
