//! Free Meetings: a LAN signaling server for browser video meetings, wire-compatible with the
//! original Node/Socket.IO server.
//!
//! - [`rooms`]: the core, which holds rooms and peers and decides everything, with no I/O;
//! - [`protocol`]: the events on the wire, decoded and validated;
//! - [`hub`]: routes what the core decides to each peer's outbox;
//! - [`metrics`]: the Prometheus counters the hub and the guard keep;
//! - [`transport`]: Socket.IO and plain WebSocket adapters, plus the handshake guard;
//! - [`discovery`]: mDNS announcement and browsing on the LAN;
//! - [`dashboard`]: the UI at `/dashboard` and its read-only API;
//! - [`meeting`]: the built-in meeting page at `/`;
//! - [`tls`]: HTTPS with a generated or given certificate;
//! - [`server`]: the HTTP server that puts it all together;
//! - [`settings`]: the desktop app's settings file.

pub mod config;
pub mod connections;
pub mod dashboard;
pub mod discovery;
pub mod http;
pub mod hub;
pub mod meeting;
pub mod metrics;
pub mod protocol;
pub mod rooms;
pub mod server;
pub mod settings;
pub mod startup;
pub mod tls;
pub mod transport;

pub use config::ServerConfig;
pub use server::{RunningServer, StartError, start};
