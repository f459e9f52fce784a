//! The dashboard window, in a process of its own: `free-meetings-window` (the Tauri shell, next to
//! this binary). Closing it ends that process and WebKit's helper processes with it, so nothing of
//! the web view stays in memory while the app sits in the tray. The tray process starts it (Open,
//! a second launch, a start without `--minimized`), raises it through the control API when it
//! already runs (the page waits on `/raise`; a signal would not do: WebKit uses SIGUSR1 itself),
//! and ends it on Quit. What the window needs travels in its environment (`WindowLink`).

use std::sync::{Arc, Mutex};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::sync::watch;

use free_meetings::desktop::WindowLink;

use crate::control::Control;
use crate::desktop::Desktop;

/// The window's program, installed beside this one.
const WINDOW_PROGRAM: &str = "free-meetings-window";

/// How to start the window, and the window process while it runs.
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
        let program = match std::env::current_exe() {
            Ok(exe) => exe.with_file_name(WINDOW_PROGRAM),
            Err(error) => {
                tracing::error!(%error, "could not open the window: this program's path is unknown");
                return;
            }
        };
        let link = WindowLink {
            control_url: self.control.url.clone(),
            control_token: self.control.token.clone(),
            api_port: port,
        };
        let spawned = std::process::Command::new(&program)
            .envs(link.env())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(%error, program = %program.display(), "could not open the window");
                return;
            }
        };
        let pid = Pid::from_raw(child.id() as i32);
        *running = Some(pid);
        tracing::info!(pid = pid.as_raw(), "window opened");
        let slot = self.running.clone();
        // Callers are async tasks and the tray's own thread: a thread of its own waits.
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
