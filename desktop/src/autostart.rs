//! Start at login, the freedesktop way: an entry in `$XDG_CONFIG_HOME/autostart` (else
//! `~/.config/autostart`) that starts the app minimized. Written here rather than through a Tauri
//! plugin: the tray process links no GUI toolkit.

use std::io;
use std::path::{Path, PathBuf};

/// The entry's file name: the app's binary name, as desktops expect.
const FILE: &str = "free-meetings-desktop.desktop";

#[derive(Debug, thiserror::Error)]
pub enum AutostartError {
    #[error("no config directory: neither XDG_CONFIG_HOME nor HOME is set")]
    NoConfigDir,
    #[error("this program's path is unknown: {0}")]
    UnknownProgram(io::Error),
    #[error("could not write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("could not remove {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },
}

/// Whether the app starts at login.
pub fn is_enabled() -> bool {
    entry_path().is_ok_and(|path| path.exists())
}

/// Adds or removes the login entry.
pub fn set(on: bool) -> Result<(), AutostartError> {
    let path = entry_path()?;
    if on {
        let exe = std::env::current_exe().map_err(AutostartError::UnknownProgram)?;
        let write = |path: &Path| {
            std::fs::create_dir_all(path.parent().unwrap_or(path))?;
            std::fs::write(path, entry(&exe))
        };
        write(&path).map_err(|source| AutostartError::Write { path, source })
    } else {
        match std::fs::remove_file(&path) {
            Err(source) if source.kind() != io::ErrorKind::NotFound => {
                Err(AutostartError::Remove { path, source })
            }
            _ => Ok(()),
        }
    }
}

/// Applies the Start at login choice; a failure is logged (the menu and the form show the state).
pub fn apply(on: bool) {
    if let Err(error) = set(on) {
        tracing::warn!(%error, "could not change start at login");
    }
}

fn entry_path() -> Result<PathBuf, AutostartError> {
    let config = crate::paths::config_home().ok_or(AutostartError::NoConfigDir)?;
    Ok(config.join("autostart").join(FILE))
}

/// The entry that starts `exe` minimized. Its icon is the one the .deb installs, which Tauri names
/// after the window's binary (`mainBinaryName` in tauri.conf.json).
fn entry(exe: &Path) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName=Free Meetings\n\
         Comment=LAN signaling hub for browser video meetings\n\
         Exec={} --minimized\nIcon=free-meetings-window\nTerminal=false\n\
         X-GNOME-Autostart-enabled=true\n",
        quote(&exe.to_string_lossy())
    )
}

/// An argument of `Exec=` as the Desktop Entry specification wants it: quoted when it holds a
/// reserved character, with `"`, `` ` ``, `$` and `\` escaped inside quotes, and `%` doubled.
fn quote(arg: &str) -> String {
    let arg = arg.replace('%', "%%");
    let reserved = |c: char| " \t\n\"'\\><~|&;$*?#()`".contains(c);
    if !arg.contains(reserved) {
        return arg;
    }
    let mut quoted = String::from("\"");
    for c in arg.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_starts_the_program_minimized() {
        let text = entry(Path::new("/usr/bin/free-meetings-desktop"));
        assert!(text.starts_with("[Desktop Entry]\n"), "{text}");
        assert!(
            text.contains("\nExec=/usr/bin/free-meetings-desktop --minimized\n"),
            "{text}"
        );
        // The icon the .deb installs (usr/share/icons/hicolor/*/apps/free-meetings-window.png).
        assert!(text.contains("\nIcon=free-meetings-window\n"), "{text}");
    }

    #[test]
    fn paths_with_reserved_characters_are_quoted() {
        assert_eq!(
            quote("/opt/Free Meetings/app"),
            "\"/opt/Free Meetings/app\""
        );
        assert_eq!(quote("/home/a$b/app"), "\"/home/a\\$b/app\"");
        assert_eq!(quote("/tmp/100%/app"), "/tmp/100%%/app");
        assert_eq!(quote("/plain/path"), "/plain/path");
    }
}
