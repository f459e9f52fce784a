//! The desktop app's settings file: what the user chose in the window, kept across restarts.
//! A missing or unreadable file gives the defaults plus a warning to show; never a crash.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::options::{DEFAULT_PORT, ServerOptions};

/// User settings, as stored (JSON) and as edited in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// HTTP port.
    pub port: u16,
    /// Name shown on the LAN; `None` for "Free Meetings on <hostname>".
    pub instance_name: Option<String>,
    /// Extra `.local` name, e.g. `meet`.
    pub mdns_hostname: Option<String>,
    /// Web origins allowed to connect besides the server's own.
    pub allowed_origins: Vec<String>,
    /// Launch the app when the user logs in.
    pub start_at_login: bool,
    /// The window's and the tray's language (a catalogue's code); `None` for the system's.
    pub language: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            port: DEFAULT_PORT,
            instance_name: None,
            mdns_hostname: None,
            allowed_origins: Vec::new(),
            start_at_login: false,
            language: None,
        }
    }
}

/// The settings read from disk, and what to tell the user if they could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// Settings to use.
    pub settings: Settings,
    /// Why defaults are used instead of the file, if they are.
    pub warning: Option<String>,
}

/// Reads settings; a missing file is silently the defaults, a broken one the defaults plus a warning.
pub fn load(path: &Path) -> Loaded {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Loaded {
                settings: Settings::default(),
                warning: None,
            };
        }
        Err(error) => return broken(path, &error.to_string()),
    };
    match serde_json::from_str::<Settings>(&text) {
        Ok(settings) => match settings.validate() {
            Ok(()) => Loaded {
                settings,
                warning: None,
            },
            Err(error) => broken(path, &error),
        },
        Err(error) => broken(path, &error.to_string()),
    }
}

fn broken(path: &Path, why: &str) -> Loaded {
    Loaded {
        settings: Settings::default(),
        warning: Some(format!(
            "Settings file {} could not be used ({why}); using defaults. Saving settings will replace it.",
            path.display()
        )),
    }
}

/// Writes settings atomically (a crash mid-write leaves the old file).
pub fn save(path: &Path, settings: &Settings) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(settings).map_err(io::Error::other)?;
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

impl Settings {
    /// Fills in what the command line did not give: the command line wins for this run, the
    /// saved settings are the rest.
    pub fn under(&self, mut options: ServerOptions) -> ServerOptions {
        options.port = options.port.or(Some(self.port));
        options.name = options.name.or_else(|| self.instance_name.clone());
        options.mdns_hostname = options.mdns_hostname.or_else(|| self.mdns_hostname.clone());
        if options.allowed_origins.is_empty() {
            options.allowed_origins = self.allowed_origins.clone();
        }
        options
    }

    /// Checks every field, with a message for the user, through the same builder the command
    /// line goes through.
    pub fn validate(&self) -> Result<(), String> {
        if self.port == 0 {
            return Err("port must be 1-65535".into());
        }
        if let Some(code) = &self.language
            && !crate::catalogue::is_known(code)
        {
            let known: Vec<&str> = crate::catalogue::CATALOGUES
                .iter()
                .map(|(c, _)| *c)
                .collect();
            return Err(format!(
                "no language {code:?}: choose one of {}",
                known.join(", ")
            ));
        }
        self.under(ServerOptions::defaults())
            .into_config(true)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fm-settings-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("settings.json")
    }

    #[test]
    fn a_missing_file_gives_defaults_quietly() {
        let loaded = load(&temp("missing"));
        assert_eq!(
            loaded,
            Loaded {
                settings: Settings::default(),
                warning: None
            }
        );
    }

    #[test]
    fn a_corrupt_file_gives_defaults_and_a_warning() {
        let path = temp("corrupt");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        for text in [
            "{not json",
            r#"{"port": "five thousand"}"#,
            r#"{"port": 0}"#,
            r#"{"mdnsHostname": "bad name"}"#,
        ] {
            std::fs::write(&path, text).unwrap();
            let loaded = load(&path);
            assert_eq!(loaded.settings, Settings::default(), "{text}");
            assert!(
                loaded
                    .warning
                    .as_deref()
                    .unwrap()
                    .contains("using defaults"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_valid_file_round_trips_and_unknown_fields_default() {
        let path = temp("valid");
        let settings = Settings {
            port: 6000,
            instance_name: Some("Reception".into()),
            mdns_hostname: Some("meet".into()),
            allowed_origins: vec!["http://localhost:3000".into()],
            start_at_login: true,
            language: Some("uz".into()),
        };
        save(&path, &settings).unwrap();
        assert_eq!(
            load(&path),
            Loaded {
                settings: settings.clone(),
                warning: None
            }
        );
        std::fs::write(&path, r#"{"port": 6001}"#).unwrap();
        assert_eq!(
            load(&path).settings,
            Settings {
                port: 6001,
                ..Settings::default()
            }
        );
        let config = settings
            .under(ServerOptions::defaults())
            .into_config(true)
            .unwrap();
        assert_eq!(
            (config.port, config.mdns_alias.as_deref()),
            (6000, Some("meet"))
        );
    }

    #[test]
    fn a_language_without_a_catalogue_is_refused_with_the_choices() {
        let settings = Settings {
            language: Some("pt".into()),
            ..Settings::default()
        };
        assert_eq!(
            settings.validate(),
            Err(r#"no language "pt": choose one of en, uz, ru, de, fr, es"#.into())
        );
    }

    #[test]
    fn the_command_line_wins_over_the_settings_for_this_run() {
        let settings = Settings {
            port: 6000,
            instance_name: Some("Reception".into()),
            mdns_hostname: Some("meet".into()),
            allowed_origins: vec!["http://localhost:3000".into()],
            start_at_login: false,
            language: None,
        };
        let mut given = ServerOptions::defaults();
        given.port = Some(7000);
        given.allowed_origins = vec!["http://localhost:4000".into()];
        let merged = settings.under(given);
        assert_eq!(merged.port, Some(7000));
        assert_eq!(merged.allowed_origins, ["http://localhost:4000"]);
        assert_eq!(merged.name.as_deref(), Some("Reception"));
        assert_eq!(merged.mdns_hostname.as_deref(), Some("meet"));
        let config = merged.into_config(true).unwrap();
        assert!(
            config.tls.is_some(),
            "the desktop app serves HTTPS unless told not to"
        );
    }
}
