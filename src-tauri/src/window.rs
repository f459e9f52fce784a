//! The dashboard window, in its own process: this binary started again with `--window`. Closing
//! it ends that process and WebKit's helper processes with it, so nothing of the web view stays
//! in memory while the app sits in the tray. The tray process starts it (Open, a second launch,
//! a start without `--minimized`), raises it through the control API when it already runs (the
//! page waits on `/raise`; a signal would not do: WebKit uses SIGUSR1 itself), and ends it on
//! Quit. The window reaches the tray process's control API (`control.rs`) with a token passed in
//! its environment, never on its command line (which other users can read).

use std::sync::{Arc, Mutex};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tauri::{AppHandle, WebviewUrl, WebviewWindowBuilder};
use tokio::sync::watch;

use crate::control::Control;
use crate::desktop::Desktop;

const CONTROL_URL: &str = "FM_CONTROL_URL";
const CONTROL_TOKEN: &str = "FM_CONTROL_TOKEN";
const API_PORT: &str = "FM_API_PORT";

/// Tray side: how to start the window, and the window process while it runs. Plain threads and
/// no Tauri: the tray process is meant to need none of it.
pub struct WindowProcess {
    desktop: Arc<Desktop>,
    control: Control,
    running: Arc<Mutex<Option<Pid>>>,
    /// Counts the asks to raise the window; the control API's `/raise` answers each.
    raise: watch::Sender<u64>,
}

impl WindowProcess {
    pub fn new(desktop: Arc<Desktop>, control: Control, raise: watch::Sender<u64>) -> Self {
        Self {
            desktop,
            control,
            running: Arc::default(),
            raise,
        }
    }

    /// Raises the window, starting its process if none runs.
    pub fn show(&self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.is_some() {
            self.raise.send_modify(|asks| *asks += 1);
            return;
        }
        let port = self
            .desktop
            .status()
            .borrow()
            .port
            .unwrap_or(self.desktop.loaded().settings.port);
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(error) => {
                tracing::error!(%error, "could not open the window: this program's path is unknown");
                return;
            }
        };
        let spawned = std::process::Command::new(exe)
            .arg("--window")
            .env(CONTROL_URL, &self.control.url)
            .env(CONTROL_TOKEN, &self.control.token)
            .env(API_PORT, port.to_string())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(%error, "could not open the window");
                return;
            }
        };
        let pid = Pid::from_raw(child.id() as i32);
        *running = Some(pid);
        tracing::info!(pid = pid.as_raw(), "window opened");
        let slot = self.running.clone();
        // Callers are GUI threads or async tasks: a thread of its own waits for the window.
        std::thread::spawn(move || {
            let status = child.wait();
            let mut running = slot.lock().unwrap_or_else(|e| e.into_inner());
            if *running == Some(pid) {
                *running = None;
            }
            match status {
                Ok(status) if status.success() => tracing::info!("window closed"),
                Ok(status) => tracing::warn!(%status, "the window process ended abnormally"),
                Err(error) => tracing::warn!(%error, "could not wait for the window process"),
            }
        });
    }

    /// Ends the window process, if one runs (on Quit).
    pub fn close(&self) {
        if let Some(pid) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = kill(pid, Signal::SIGTERM);
        }
    }
}

/// Window side: what the tray process passed in the environment.
pub struct WindowArgs {
    control: Control,
    api_port: u16,
}

impl WindowArgs {
    /// Reads (and removes, so the web view's helpers do not inherit the token) the environment
    /// the tray process set; `None` when this process was not started by it.
    pub fn from_env() -> Option<Self> {
        let url = std::env::var(CONTROL_URL).ok()?;
        let token = std::env::var(CONTROL_TOKEN).ok()?;
        let api_port = std::env::var(API_PORT).ok()?.parse().ok()?;
        // SAFETY: called at start, before any other thread exists.
        unsafe {
            std::env::remove_var(CONTROL_TOKEN);
        }
        Some(Self {
            control: Control { url, token },
            api_port,
        })
    }
}

/// Window side: creates the window.
pub fn create(app: &AppHandle, args: &WindowArgs) -> tauri::Result<()> {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("api", &format!("http://127.0.0.1:{}", args.api_port))
        .append_pair("control", &args.control.url)
        .append_pair("controlToken", &args.control.token)
        .finish();
    let url = format!("index.html?{query}");
    WebviewWindowBuilder::new(app, "main", WebviewUrl::App(url.into()))
        .title("Free Meetings")
        .inner_size(980.0, 760.0)
        .min_inner_size(520.0, 400.0)
        .build()?;
    Ok(())
}
