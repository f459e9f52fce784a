//! Free Meetings: a LAN signaling server for browser video meetings, wire-compatible with the
//! original Node/Socket.IO server. ARCHITECTURE.md at the repository's root explains how the
//! pieces fit; from the bottom up:
//!
//! - [`wire`]: ids, names and events as they travel, with both framings' codecs;
//! - [`rooms`]: the core, which holds rooms and peers and decides everything, with no I/O;
//! - [`metrics`]: the Prometheus counters that watch the core's outcomes;
//! - [`hub`]: routes what the core decides to each peer's outbox;
//! - [`transport`]: the Socket.IO and `/ws` adapters, and the handshake check in front of them;
//! - [`invitation_file`]: private meetings' invitations kept on disk across restarts;
//! - [`media`]: the media forwarder (SFU) for rooms whose media goes through the server;
//! - [`dashboard`], [`meeting`]: the other HTTP features (observers and the meeting page);
//! - [`http`]: merges every feature's routes and runs the accept loop;
//! - [`server`]: starts and stops it all from a [`ServerConfig`], which [`options`] builds
//!   from a command line;
//! - beside them, leaves with no dependency on the rest: [`origin`], [`discovery`] (mDNS),
//!   [`tls`], [`embedded`]; [`startup`] for both binaries, [`desktop`] for the tray app only.

/// Logs an event whose middle fields (room names, which the dashboard treats as private) are
/// shown only when debug logging is on where it is logged: an info log is often kept and shipped
/// (journald, a collector), and must not say who meets about what. Each group of fields ends
/// with a comma: `log_private!(info, [peer = %peer,], [room = %room,], [], "joined room")`.
macro_rules! log_private {
    ($level:ident, [$($before:tt)*], [$($private:tt)*], [$($after:tt)*], $message:literal) => {
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::$level!($($before)* $($private)* $($after)* $message)
        } else {
            tracing::$level!($($before)* $($after)* $message)
        }
    };
}

pub mod catalogue;
pub mod cluster;
pub mod config;
pub mod config_file;
pub mod dashboard;
pub mod desktop;
pub mod discovery;
pub mod embedded;
pub mod http;
pub mod hub;
pub mod invitation_file;
pub mod media;
pub mod meeting;
pub mod metrics;
pub mod options;
pub mod origin;
pub mod own_names;
pub mod rooms;
pub mod server;
pub mod startup;
pub mod tls;
pub mod transport;
pub mod trust;
pub mod wire;

pub use config::ServerConfig;
pub use options::ServerOptions;
pub use server::{RunningServer, StartError, start};
