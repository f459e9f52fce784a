//! Free Meetings desktop: the signaling server lives in the tray, the live rooms in a window. This
//! is the tray process, the one people start and the one that stays: the server (the
//! `free-meetings` library), the tray icon and its menu, settings, single instance, start at login,
//! and the loopback control API the window talks to. The window is another program
//! (`free-meetings-window`, the Tauri shell at the repository's root) that this one starts when
//! asked and that ends when closed, so that no web view is in memory while the app waits. Nothing
//! here links a GUI toolkit: the tray is a StatusNotifierItem over D-Bus or an XEmbed icon drawn
//! with the X protocol (`tray/`).

mod autostart;
mod cli;
mod clipboard;
mod control;
mod desktop;
mod paths;
mod single_instance;
mod tray;
mod window;

use std::process::ExitCode;
use std::sync::Arc;

use free_meetings::dashboard::NewMeeting;
use free_meetings::startup;
use tokio::sync::{mpsc, watch};

use crate::clipboard::Clipboard;
use crate::desktop::Desktop;
use crate::single_instance::Instance;
use crate::tray::{Action, Tray, TrayView};
use crate::window::WindowProcess;

fn main() -> ExitCode {
    // No option comes from the environment here (the headless server's FREE_MEETINGS_* and
    // PORT/HOST are for services): a variable in the desktop session, set for other software,
    // must not move the app's port or make it a cluster node. Its settings file is its config.
    let args: cli::Args = match startup::parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    startup::init_logging(startup::LogFormat::Auto);
    let Some(settings_file) = args.settings.clone().or_else(paths::settings_file) else {
        eprintln!(
            "error: no config directory (neither XDG_CONFIG_HOME nor HOME is set); pass --settings PATH"
        );
        return ExitCode::from(2);
    };
    let (claim, opens) = match single_instance::claim() {
        Ok(Instance::First { claim, opens }) => (claim, opens),
        Ok(Instance::HandedOver) => return ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    startup::raise_open_file_limit();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(args, settings_file, opens));
    drop(claim);
    code
}

async fn run(
    args: cli::Args,
    settings_file: std::path::PathBuf,
    mut opens: mpsc::UnboundedReceiver<()>,
) -> ExitCode {
    // Before the server starts: a SIGTERM as soon as it answers must already quit cleanly.
    let mut terminated = std::pin::pin!(startup::termination_signal());
    let desktop = Arc::new(Desktop::new(args.server, settings_file));
    desktop.start().await;
    let raise = watch::channel(0).0;
    let control = match control::start(desktop.clone(), raise.subscribe()).await {
        Ok(control) => control,
        Err(error) => {
            eprintln!("error: could not open the window's control port on loopback: {error}");
            desktop.stop().await;
            return ExitCode::FAILURE;
        }
    };
    let window = WindowProcess::new(desktop.clone(), control, raise);

    let catalogue = *desktop.language().borrow();
    let view = watch::Sender::new(TrayView {
        status: catalogue.text("tray.starting", &[]),
        announcing: false,
        start_at_login: autostart::is_enabled(),
        catalogue,
    });
    let tray_view = tray::keep_current(desktop.clone(), view.clone());
    let (actions, mut picked) = mpsc::unbounded_channel();
    let tray = Tray::show(tray_view, actions).await;
    if !args.minimized || !tray.is_shown() {
        window.show();
    }
    let clipboard = Arc::new(Clipboard::default());
    loop {
        tokio::select! {
            () = &mut terminated => {
                tracing::info!("signal received: quitting");
                break;
            }
            Some(()) = opens.recv() => window.show(),
            Some(action) = picked.recv() => match action {
                Action::Open => window.show(),
                Action::CopyLink => copy_link(&desktop, &clipboard).await,
                Action::Announce(on) => {
                    let applied = desktop.with_server(async |s| s.set_announcing(on).await).await;
                    if applied != Some(true) {
                        tracing::warn!(on, "could not change announcing on the LAN");
                    }
                    // The check mark follows what the server does, not what was asked.
                    let announcing = desktop.with_server(async |s| s.mdns().get().enabled).await;
                    view.send_modify(|v| v.announcing = announcing == Some(true));
                }
                Action::StartAtLogin(on) => {
                    autostart::apply(on);
                    view.send_modify(|v| v.start_at_login = autostart::is_enabled());
                }
                Action::Quit => break,
            },
        }
    }
    // Quit: the window and the icon go at once, then the server (peers told, LAN goodbye).
    window.close();
    tray.close().await;
    desktop.stop().await;
    ExitCode::SUCCESS
}

/// Copy meeting link: a fresh private meeting's guest link, what people paste into an
/// invitation (the host link is the window's New meeting's, which opens it).
async fn copy_link(desktop: &Desktop, clipboard: &Clipboard) {
    let made = desktop
        .with_server(async |s| NewMeeting::create(s.hub(), &s.status().meeting_link).await)
        .await;
    match made {
        Some(Ok(meeting)) => {
            if let Err(error) = clipboard.set_text(meeting.link) {
                tracing::warn!(%error, "could not copy the meeting link");
            }
        }
        Some(Err(error)) => tracing::warn!(%error, "could not make a meeting"),
        None => {}
    }
}
