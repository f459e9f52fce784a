//! The app's state: the settings, the embedded server (started, restarted, stopped through the
//! `free-meetings` library), and the problem to show when it cannot run.

use std::path::PathBuf;
use std::sync::Mutex;

use free_meetings::catalogue::{self, Catalogue};
use free_meetings::desktop::settings::{self, Loaded, Settings};
use free_meetings::server::StartError;
use free_meetings::{RunningServer, ServerConfig, ServerOptions};
use serde::Serialize;
use tokio::sync::watch;

/// Something the user must see: the window's banner and the tray's status line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppStatus {
    /// What is wrong, if anything.
    pub problem: Option<Problem>,
    /// A free port to switch to with one click, when the problem is a busy port.
    pub suggested_port: Option<u16>,
    /// The port the server listens on, when it runs.
    pub port: Option<u16>,
}

/// Why the server does not run. Kept as what happened, and worded when shown, in the language
/// chosen at that moment.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The settings do not make a valid configuration (the builder's message).
    Settings(String),
    /// The port is taken by another program.
    PortBusy(u16),
    /// Anything else that kept the server from starting.
    CouldNotStart(String),
}

impl Problem {
    /// The problem in `catalogue`'s language; the detail (a system message) stays as it came.
    pub fn words(&self, catalogue: Catalogue) -> String {
        match self {
            Problem::Settings(message) => {
                catalogue.text("app.settings-problem", &[("message", message)])
            }
            Problem::PortBusy(port) => catalogue.text("app.port-busy", &[("port", port)]),
            Problem::CouldNotStart(error) => {
                catalogue.text("app.could-not-start", &[("error", error)])
            }
        }
    }
}

/// What the window shows of the app's status, worded in the app's language.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppStatusView {
    /// "Port 5000 is busy ...", if anything is wrong.
    pub problem: Option<String>,
    pub suggested_port: Option<u16>,
    pub port: Option<u16>,
    /// The language the app speaks (the settings' choice, else the system's): the window's too,
    /// since a web view does not reliably report the session's language.
    pub language: &'static str,
}

/// Origins of the app's own window (Linux/macOS, and Windows), let into the dashboard API.
pub const WINDOW_ORIGINS: [&str; 2] = ["tauri://localhost", "http://tauri.localhost"];

/// Shared app state: one per tray process, shared by the tray, the control API and signals.
pub struct Desktop {
    /// This run's command line; its `--port` is forgotten once the user picks a port in the
    /// window (their choice then wins).
    options: Mutex<ServerOptions>,
    settings_path: PathBuf,
    loaded: Mutex<Loaded>,
    server: tokio::sync::Mutex<Option<RunningServer>>,
    status: watch::Sender<AppStatus>,
    /// The language the tray and the window speak: the settings' choice, else the system's.
    language: watch::Sender<Catalogue>,
}

impl Desktop {
    /// Loads the settings; the server is started separately.
    pub fn new(options: ServerOptions, settings_path: PathBuf) -> Self {
        let loaded = settings::load(&settings_path);
        if let Some(warning) = &loaded.warning {
            tracing::warn!("{warning}");
        }
        let language = language_of(&loaded.settings);
        Self {
            options: Mutex::new(options),
            settings_path,
            loaded: Mutex::new(loaded),
            server: tokio::sync::Mutex::new(None),
            status: watch::channel(AppStatus::default()).0,
            language: watch::channel(language).0,
        }
    }

    /// The language now, observable (the tray words its menu again on a change).
    pub fn language(&self) -> watch::Receiver<Catalogue> {
        self.language.subscribe()
    }

    /// The status as the window shows it.
    pub fn status_view(&self) -> AppStatusView {
        let status = self.status.borrow().clone();
        let catalogue = *self.language.borrow();
        AppStatusView {
            problem: status.problem.map(|p| p.words(catalogue)),
            suggested_port: status.suggested_port,
            port: status.port,
            language: catalogue.code(),
        }
    }

    /// Saves the language chosen in the window (`None`: the system's), without restarting the
    /// server.
    pub fn set_language(&self, code: Option<String>) -> Result<(), String> {
        let settings = Settings {
            language: code,
            ..self.loaded().settings
        };
        self.persist(&settings)?;
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.settings = settings;
        }
        Ok(())
    }

    /// The current settings and any warning about the file.
    pub fn loaded(&self) -> Loaded {
        self.loaded
            .lock()
            .map(|l| l.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The app status, observable.
    pub fn status(&self) -> watch::Receiver<AppStatus> {
        self.status.subscribe()
    }

    /// The server configuration: this run's command line over the saved settings.
    fn config(&self, settings: &Settings) -> Result<ServerConfig, String> {
        let options = self
            .options
            .lock()
            .map(|o| o.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        let mut config = settings
            .under(options)
            .into_config(true)
            .map_err(|e| e.to_string())?;
        config.window_origins = WINDOW_ORIGINS.map(String::from).to_vec();
        Ok(config)
    }

    /// (Re)starts the embedded server with the current settings; failures become the status.
    pub async fn start(&self) {
        let settings = self.loaded().settings;
        let mut server = self.server.lock().await;
        if let Some(old) = server.take() {
            old.shutdown().await;
        }
        let config = match self.config(&settings) {
            Ok(config) => config,
            Err(message) => {
                self.set_problem(Problem::Settings(message), None);
                return;
            }
        };
        let port = config.port;
        match free_meetings::start(config).await {
            Ok(running) => {
                let port = running.local_addr().port();
                self.status.send_replace(AppStatus {
                    problem: None,
                    suggested_port: None,
                    port: Some(port),
                });
                *server = Some(running);
            }
            Err(StartError::PortInUse { port, .. }) => {
                let free = next_free_port(port);
                tracing::warn!(port, suggested = ?free, "port is busy");
                self.set_problem(Problem::PortBusy(port), free);
            }
            Err(error) => {
                tracing::warn!(%error, port, "server could not start");
                self.set_problem(Problem::CouldNotStart(error.to_string()), None);
            }
        }
    }

    fn set_problem(&self, problem: Problem, suggested_port: Option<u16>) {
        self.status.send_replace(AppStatus {
            problem: Some(problem),
            suggested_port,
            port: None,
        });
    }

    /// Checks `settings`, writes them to the file and moves the language to theirs: what both
    /// ways of saving share.
    fn persist(&self, settings: &Settings) -> Result<(), String> {
        settings.validate()?;
        settings::save(&self.settings_path, settings)
            .map_err(|e| format!("cannot save settings: {e}"))?;
        self.language.send_replace(language_of(settings));
        Ok(())
    }

    /// Saves new settings and applies them (restarting the server); returns the port in use.
    pub async fn save(&self, settings: Settings) -> Result<Option<u16>, String> {
        self.persist(&settings)?;
        if let Ok(mut options) = self.options.lock() {
            options.port = None;
        }
        if let Ok(mut loaded) = self.loaded.lock() {
            *loaded = Loaded {
                settings,
                warning: None,
            };
        }
        self.start().await;
        let status = self.status_view();
        match status.problem {
            Some(problem) => Err(problem),
            None => Ok(status.port),
        }
    }

    /// Runs `f` with the running server, if any.
    pub async fn with_server<T>(&self, f: impl AsyncFnOnce(&RunningServer) -> T) -> Option<T> {
        let server = self.server.lock().await;
        match server.as_ref() {
            Some(server) => Some(f(server).await),
            None => None,
        }
    }

    /// Stops the server: goodbye on the LAN, peers disconnected.
    pub async fn stop(&self) {
        if let Some(server) = self.server.lock().await.take() {
            server.shutdown().await;
        }
    }
}

/// The settings' language, else the desktop session's (`LANGUAGE`, `LC_ALL`, `LC_MESSAGES`,
/// `LANG`).
fn language_of(settings: &Settings) -> Catalogue {
    match &settings.language {
        Some(code) => Catalogue::for_language(code),
        None => {
            Catalogue::for_language(catalogue::system_language(|name| std::env::var(name).ok()))
        }
    }
}

/// The first port after `busy` that can be bound on every interface.
fn next_free_port(busy: u16) -> Option<u16> {
    (busy.saturating_add(1)..=busy.saturating_add(50))
        .find(|&port| std::net::TcpListener::bind(("0.0.0.0", port)).is_ok())
}
