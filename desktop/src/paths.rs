//! Where the app keeps its files, the freedesktop way: under `$XDG_CONFIG_HOME` (an absolute
//! path), else `~/.config`.

use std::path::{Path, PathBuf};

/// The directory Tauri used for the app's config before the tray process left Tauri (its
/// bundle identifier): settings saved by earlier versions are found where they were.
const APP_DIR: &str = "org.freemeetings.desktop";

/// The user's config directory; `None` when neither variable says where it is.
pub fn config_home() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| Path::new(dir).is_absolute())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))
}

/// The settings file used when `--settings` does not name one.
pub fn settings_file() -> Option<PathBuf> {
    Some(config_home()?.join(APP_DIR).join("settings.json"))
}
