//! Command-line overrides for one run of the desktop app (the tests use them too).

use clap::Parser;

/// Free Meetings desktop: the LAN signaling server in your tray, with a window showing the live
/// meetings. Options override the saved settings for this run only. On a machine without a
/// display, run the headless `free-meetings serve` instead.
#[derive(Parser, Debug, Default)]
#[command(name = "free-meetings-desktop", version)]
pub struct Args {
    /// TCP port for the embedded server (overrides the saved setting).
    #[arg(long)]
    pub port: Option<u16>,

    /// Address to listen on [default: 0.0.0.0].
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,

    /// Name shown to people browsing the LAN.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Also answer for NAME.local (e.g. meet).
    #[arg(long, value_name = "NAME")]
    pub mdns_hostname: Option<String>,

    /// A web origin whose pages may connect (repeatable).
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,

    /// Do not announce the server on the LAN.
    #[arg(long)]
    pub no_mdns: bool,

    /// HTTPS port of the meeting page for other machines [default: 5443; 0 picks a free one].
    #[arg(long, value_name = "PORT")]
    pub tls_port: Option<u16>,

    /// Serve plain HTTP only (other machines' browsers then cannot use camera and microphone).
    #[arg(long, conflicts_with = "tls_port")]
    pub no_tls: bool,

    /// Settings file to use instead of the one in the OS config directory.
    #[arg(long, value_name = "PATH")]
    pub settings: Option<std::path::PathBuf>,

    /// Start in the tray without opening the window (used when starting at login).
    #[arg(long)]
    pub minimized: bool,
}
