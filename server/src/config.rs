//! What a server is started with, validated: `options` builds one from a command line (its
//! `Default` is the command line with nothing given), tests build their own.

use std::time::Duration;

use crate::meeting::IceServer;
use crate::origin::OriginPolicy;
use crate::rooms::Limits;
use crate::tls::TlsConfig;

/// Everything [`crate::start`] needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address or host name to listen on.
    pub bind: String,
    /// TCP port; 0 picks a free one.
    pub port: u16,
    /// Web origins allowed besides the server's own.
    pub origins: OriginPolicy,
    /// Room, rate and size limits, enforced by the core.
    pub limits: Limits,
    /// Most transport connections at once, lowered at start to fit the open-file limit.
    pub max_connections: usize,
    /// Most transport connections from one IP address (the TCP peer's, never a header's).
    pub max_connections_per_address: usize,
    /// How long a client may take to send a request's headers (slowloris, idle sockets).
    pub header_timeout: Duration,
    /// How often peers are pinged.
    pub ping_interval: Duration,
    /// How long a ping may go unanswered before the peer is dropped.
    pub ping_timeout: Duration,
    /// Largest incoming frame or polling payload; a bigger one closes that connection.
    pub max_message_bytes: usize,
    /// Events queued for one peer before it is considered stuck and dropped.
    pub peer_queue: usize,
    /// Whether to announce the server on the LAN with mDNS.
    pub mdns: bool,
    /// Human instance name on the LAN; `None` means "Free Meetings on <hostname>".
    pub instance_name: Option<String>,
    /// An extra `.local` label to answer for (e.g. `meet` for `meet.local`).
    pub mdns_alias: Option<String>,
    /// When set, the dashboard answers anyone presenting this token (else loopback only).
    pub dashboard_token: Option<String>,
    /// With TLS on, plain-HTTP page navigations go to HTTPS (`http/https_first.rs`).
    pub https_redirect: bool,
    /// `/metrics` for whoever presents it; `None`: this machine only.
    pub metrics_token: Option<String>,
    /// Web origins of the desktop app's own window, let into the dashboard API (none headless).
    pub window_origins: Vec<String>,
    /// HTTPS and WSS beside plain HTTP, when set.
    pub tls: Option<TlsConfig>,
    /// STUN/TURN servers handed to the meeting page (none by default: a LAN needs none).
    pub ice_servers: Vec<IceServer>,
    /// Serve this front-end build at `/` instead of the built-in meeting page.
    pub static_dir: Option<std::path::PathBuf>,
    /// The Content-Security-Policy sent with `static_dir`'s files (checked to be a header value).
    pub static_csp: Option<String>,
    /// The names browsers may reach the server by (the `Host` check against DNS rebinding).
    pub own_names: crate::own_names::OwnNames,
    /// Where private meetings' invitations are kept across restarts (`None`: in memory only).
    pub meetings_file: Option<std::path::PathBuf>,
    /// The media forwarder (SFU), unless media always goes browser to browser.
    pub media: Option<MediaConfig>,
    /// Cluster mode: the Redis shared with the other nodes.
    pub cluster: Option<crate::cluster::ClusterOptions>,
}

/// The media forwarder's socket and budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// UDP port for every participant's media (0 picks a free one).
    pub port: u16,
    /// Most bits per second forwarded in total.
    pub max_bitrate: u64,
    /// Pages may also reach the forwarder over TCP, on the HTTPS port (ICE over TCP), for
    /// networks that block UDP. Needs HTTPS.
    pub tcp: bool,
    /// Most tracks one page may send (m-lines it sends on).
    pub max_tracks_in: usize,
    /// Most bits per second one page may send; past it, its frames are not forwarded until the
    /// next second.
    pub max_bitrate_in: u64,
    /// Estimate each receiver's bandwidth (str0m's TWCC estimator, which also paces what is
    /// sent to it) and give it only the layers that fit. Off: every receiver gets the layers
    /// its page asks for, at once and unpaced (a wired LAN).
    pub estimate: bool,
    /// Worker threads forwarding media; each room is carried by one.
    pub threads: usize,
    /// The address pages beyond a NAT dial to reach the forwarder (`--media-public-address`):
    /// offered beside the addresses it listens on, to which the NAT maps it, port for port.
    pub public_address: Option<std::net::IpAddr>,
}
