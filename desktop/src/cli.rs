//! The desktop app's command line: the server's own options (the same as `free-meetings serve`,
//! from the library), which override the saved settings for one run, plus the app's two.

use clap::Parser;
use free_meetings::ServerOptions;

/// Free Meetings desktop: the LAN signaling server in your tray, with a window showing the live
/// meetings. Options override the saved settings for this run only; HTTPS is on unless
/// --no-tls. On a machine without a display, run the headless `free-meetings serve` instead.
#[derive(Parser, Debug)]
#[command(name = "free-meetings-desktop", version)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerOptions,

    /// Settings file to use instead of the one in the OS config directory.
    #[arg(long, value_name = "PATH")]
    pub settings: Option<std::path::PathBuf>,

    /// Start in the tray without opening the window (used when starting at login).
    #[arg(long)]
    pub minimized: bool,
}
