//! The server's options, declared once for both command lines (`free-meetings serve` and the
//! desktop app flatten [`ServerOptions`] into theirs), and the one builder that validates them
//! into a [`ServerConfig`]. Every default lives in the `#[arg]` attributes below: even
//! `ServerConfig::default()` is these options with nothing given.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches};

use crate::cluster::ClusterOptions;
use crate::config::{MediaConfig, ServerConfig};
use crate::discovery::{BadName, host_label, instance_name};
use crate::invitation_file::default_meetings_file;
use crate::meeting::{BadIceServer, IceServer};
use crate::origin::{BadOrigin, OriginPolicy};
use crate::own_names::{BadPublicName, OwnNames};
use crate::rooms::{Limits, MediaPolicy, RateLimit, RoomAccess};
use crate::tls::{CertSource, TlsConfig};

/// The HTTP port when none is given.
pub const DEFAULT_PORT: u16 = 5000;
/// The HTTPS port when TLS is on and none is given.
pub const DEFAULT_TLS_PORT: u16 = 5443;

/// Options of the signaling server, on both command lines.
#[derive(Args, Debug, Clone)]
pub struct ServerOptions {
    /// TCP port to listen on (0 picks a free one) [default: 5000] (free-meetings serve reads it
    /// from FREE_MEETINGS_PORT or PORT too, as the original server did).
    #[arg(long)]
    pub port: Option<u16>,

    /// Address or host name to listen on; 0.0.0.0 means every IPv4 interface (or HOST, as the
    /// original server read it).
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR")]
    pub bind: String,

    /// A web origin whose pages may connect (repeatable, or comma-separated; or CLIENT_ORIGIN,
    /// as the original server read it),
    /// e.g. http://localhost:3000. Pages served from this server itself are always allowed,
    /// and so are native clients (no Origin header). `*` allows any origin.
    #[arg(long = "allowed-origin", value_delimiter = ',', value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,

    /// Most people in one room; a join past it gets an `error` event.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_peers_per_room: u32,

    /// Most connections at once (both transports); past it handshakes get HTTP 503.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Most connections from one IP address, so one host on the LAN cannot starve the rest;
    /// past it that address's handshakes get HTTP 503. The address is the TCP peer's:
    /// headers such as X-Forwarded-For are never trusted.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_address: u32,

    /// How long a client may take to send a request's headers before it is cut off
    /// (slow or silent connections), e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub header_timeout: Duration,

    /// How often the server pings each peer, e.g. 25s or 500ms.
    #[arg(long, default_value = "25s", value_parser = duration)]
    pub ping_interval: Duration,

    /// How long a ping may go unanswered before the peer is dropped, e.g. 20s.
    #[arg(long, default_value = "20s", value_parser = duration)]
    pub ping_timeout: Duration,

    /// Largest `signal` payload relayed (e.g. 64KiB); bigger ones get an `error` and are dropped.
    #[arg(long, default_value = "64KiB", value_parser = size)]
    pub max_signal_size: usize,

    /// Largest incoming message on any transport (e.g. 256KiB); a bigger one closes that connection.
    #[arg(long, default_value = "256KiB", value_parser = size)]
    pub max_message_size: usize,

    /// Events per second one connection may send, sustained; the excess is dropped with an `error`.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub event_rate: u32,

    /// Events one connection may send in a burst before the rate applies. Keep it below
    /// --peer-queue, so that one sender's burst cannot overflow a room mate's queue.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub event_burst: u32,

    /// Events queued for one peer; a peer that falls this far behind is disconnected.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub peer_queue: u32,

    /// Do not announce the server on the LAN with mDNS.
    #[arg(long)]
    pub no_mdns: bool,

    /// Name shown to people browsing the LAN [default: "Free Meetings on <hostname>"].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Also answer for NAME.local, so people can open http://NAME.local:<port> (e.g. meet).
    #[arg(long, value_name = "NAME")]
    pub mdns_hostname: Option<String>,

    /// Serve HTTPS and WSS too (on --tls-port), so people at other desks can use the meeting
    /// page with camera and microphone. A self-signed certificate is generated on first start
    /// (see --tls-dir) unless --tls-cert/--tls-key give one, and made again 30 days before it
    /// expires (checked hourly and on SIGHUP; no restart). On by default in the desktop app.
    #[arg(long, overrides_with = "no_tls")]
    pub tls: bool,

    /// Serve plain HTTP only (other machines' browsers then cannot use camera and microphone).
    /// The headless server's default.
    #[arg(long, overrides_with = "tls")]
    pub no_tls: bool,

    /// HTTPS port (turns TLS on; 0 picks a free one) [default: 5443].
    #[arg(long, value_name = "PORT")]
    pub tls_port: Option<u16>,

    /// Your own certificate chain, PEM (with --tls-key; turns TLS on). Read again when it
    /// changes on disk: hourly, or at once on SIGHUP (`systemctl reload`).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert, PEM.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// With TLS on, send a browser that asks for a page over plain HTTP to the same page over
    /// HTTPS (a page over plain HTTP gets no camera). `off` where a proxy in front serves the
    /// pages itself; the transports stay on HTTP either way.
    #[arg(long, value_enum, default_value_t = Switch::On, value_name = "on|off")]
    pub https_redirect: Switch,

    /// Where the generated certificate is kept [default: ~/.config/free-meetings/tls; as a
    /// systemd service, tls/ in its state directory].
    #[arg(long, value_name = "DIR", conflicts_with = "tls_cert")]
    pub tls_dir: Option<PathBuf>,

    /// A STUN or TURN server for the meeting page (repeatable), e.g. stun:10.0.0.2:3478 or
    /// turn:user:password@10.0.0.2:3478. None by default: on a LAN none is needed.
    #[arg(long = "ice-server", value_name = "URL")]
    pub ice_servers: Vec<String>,

    /// Serve this folder (another front-end build) at / instead of the built-in meeting page;
    /// unknown paths get its index.html.
    #[arg(long, value_name = "DIR")]
    pub static_dir: Option<PathBuf>,

    /// The Content-Security-Policy header sent with the files of --static-dir (none unless
    /// given: the server cannot know what that front-end loads), e.g. "default-src 'self'".
    #[arg(long, value_name = "POLICY", requires = "static_dir")]
    pub static_csp: Option<String>,

    /// A name people (or a load balancer in front) reach this server by, such as
    /// meet.example.org (repeatable, or comma-separated in PUBLIC_NAME). Browsers are answered
    /// only on the server's own names: any address, its host name (plain and .local), its
    /// --mdns-hostname, localhost, and these; a request naming anything else gets 421 (a web
    /// page re-pointing its own name at this server, DNS rebinding, is refused so).
    #[arg(long = "public-name", value_delimiter = ',', value_name = "NAME")]
    pub public_names: Vec<String>,

    /// Who may enter a room: `open` (anyone who knows a room's name, as the original server;
    /// meetings made with New meeting still need their invitation link) or `link` (every room
    /// needs its invitation link: rooms come only from New meeting, and pages written for the
    /// original server are refused with an error saying so).
    #[arg(long, value_enum, default_value_t = AccessArg::Open, value_name = "open|link")]
    pub room_access: AccessArg,

    /// Where private meetings are kept across restarts (room names and the SHA-256 of their
    /// keys, never the keys) [default: <config dir>/free-meetings/meetings.json; as a systemd
    /// service, meetings.json in its state directory]. Unused for 30
    /// days, a meeting's links stop working.
    #[arg(long, value_name = "PATH")]
    pub meetings_file: Option<PathBuf>,

    /// Where meetings send their media: `auto` (browser to browser, through this server's media
    /// forwarder once a room passes --mesh-max people), `mesh` (always browser to browser: no
    /// media port is opened) or `sfu` (through the server from the first person on; what Wi-Fi
    /// that isolates clients needs). Rooms with a page that cannot use the forwarder (the
    /// original front-ends) stay browser to browser.
    #[arg(long, value_enum, default_value_t = MediaArg::Auto, value_name = "MODE")]
    pub media: MediaArg,

    /// With --media auto, the most people in a browser-to-browser room; one more moves it to the
    /// server's media forwarder (browsers struggle beyond 4-6 in a mesh).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub mesh_max: u32,

    /// UDP port of the media forwarder, for every participant [default: the HTTPS port's
    /// number]. Open it in the firewall beside the HTTPS port.
    #[arg(long, value_name = "PORT")]
    pub media_port: Option<u16>,

    /// Most bitrate the media forwarder sends out in total, e.g. 400Mbit or 50000kbit; past it
    /// receivers get lower simulcast layers.
    #[arg(long, default_value = "400Mbit", value_parser = bitrate, value_name = "RATE")]
    pub media_max_bitrate: u64,

    /// Most tracks one page may send through the media forwarder (a camera, a microphone and a
    /// shared screen with its sound are four); an offer with more is refused with an error.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64), value_name = "COUNT")]
    pub media_max_tracks: u32,

    /// Most bitrate one page may send to the media forwarder, e.g. 10Mbit; past it that page's
    /// frames are not forwarded until the next second, it is told, and it is counted.
    #[arg(long, default_value = "10Mbit", value_parser = bitrate, value_name = "RATE")]
    pub media_max_bitrate_in: u64,

    /// Whether the media forwarder estimates each receiver's bandwidth (str0m's estimator) and
    /// sends only the video layers that fit. Off (the default), each receiver gets the layers its
    /// tiles ask for, a step lower while it reports losing packets. `on` adapts sooner on a weak
    /// link, but paces every packet to the estimate, which on a busy machine can fall below what
    /// its smallest pictures need and stall them.
    #[arg(long, value_enum, default_value_t = Switch::Off, value_name = "on|off")]
    pub media_estimate: Switch,

    /// The address pages dial to reach the media forwarder when a NAT stands between them and
    /// the addresses it listens on (a cloud VM's public IP, a router forwarding to this machine):
    /// offered beside them. The NAT must forward the same port numbers: UDP on the media port,
    /// and TCP on the HTTPS port for networks that block UDP.
    #[arg(long, value_name = "IP")]
    pub media_public_address: Option<std::net::IpAddr>,

    /// Threads forwarding media [default: one per core]. Each room's media is carried whole by
    /// one of them (the least busy when the room starts), so one room uses at most one core.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64), value_name = "COUNT")]
    pub media_threads: Option<u16>,

    /// Serve the same rooms as every other node started with the same Redis (redis://HOST:PORT/,
    /// or rediss:// for TLS; a password as redis://:PASSWORD@HOST:PORT/, never logged; for a
    /// Redis Cluster, one or more of its nodes' addresses, comma-separated): members
    /// of one room may be on different nodes behind a load balancer. A room whose media goes
    /// through a server has it carried by one node (its media home), which the pages reach
    /// directly on its media port, whichever node carries their signaling. See docs/scaling.md.
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,

    /// With --cluster rediss://…: a PEM certificate authority to trust for Redis's certificate
    /// (instead of the system's).
    #[arg(long, value_name = "PATH")]
    pub cluster_ca: Option<PathBuf>,

    /// With --cluster: what this deployment's keys and channels in Redis start with, so that
    /// deployments sharing one Redis (or one per database) never hear each other.
    #[arg(long, default_value = "fm", value_name = "PREFIX")]
    pub cluster_prefix: String,

    /// With --cluster: how long a node may stay silent before the other nodes take its people
    /// out of their rooms.
    #[arg(long, default_value = "10s", value_parser = duration, value_name = "DURATION")]
    pub node_timeout: Duration,

    /// Open the dashboard (/dashboard and /api) to the LAN for whoever presents this token
    /// (?token=... or Authorization: Bearer). Without it the dashboard answers this machine only.
    #[arg(long, value_name = "TOKEN")]
    pub dashboard_token: Option<String>,

    /// --dashboard-token, read from this file's first line instead (a secret on a command line
    /// or in the environment is visible in `ps` and /proc; a file can be readable by the server
    /// alone, e.g. a systemd credential).
    #[arg(long, value_name = "PATH", conflicts_with = "dashboard_token")]
    pub dashboard_token_file: Option<PathBuf>,

    /// Open /metrics to whoever presents this token (Authorization: Bearer, as Prometheus'
    /// `authorization` sends it, or ?token=...). Without it /metrics answers this machine only.
    /// Apart from the dashboard's: monitoring gets counts, not who meets.
    #[arg(long, value_name = "TOKEN")]
    pub metrics_token: Option<String>,

    /// --metrics-token, read from this file's first line instead.
    #[arg(long, value_name = "PATH", conflicts_with = "metrics_token")]
    pub metrics_token_file: Option<PathBuf>,

    /// With --cluster: Redis's password, read from this file's first line instead of the URL.
    #[arg(long, value_name = "PATH", requires = "cluster")]
    pub cluster_password_file: Option<PathBuf>,
}

/// `--room-access`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessArg {
    Open,
    Link,
}

/// `--media`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaArg {
    Auto,
    Mesh,
    Sfu,
}

/// An option that is on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// Why options could not make a configuration; each message names the option to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Origin(#[from] BadOrigin),
    #[error("invalid name on the LAN (--name): {0}")]
    Name(BadName),
    #[error("invalid .local name (--mdns-hostname): {0}")]
    MdnsHostname(BadName),
    #[error(transparent)]
    IceServer(#[from] BadIceServer),
    #[error(transparent)]
    ClusterPrefix(#[from] crate::cluster::namespace::BadPrefix),
    #[error("--node-timeout must be at least 1s (it was {0:?})")]
    NodeTimeout(Duration),
    #[error("--static-dir {0}: no index.html in that folder")]
    StaticDir(PathBuf),
    #[error(transparent)]
    PublicName(#[from] BadPublicName),
    #[error("invalid --static-csp: a header value is visible ASCII text on one line")]
    StaticCsp,
    #[error(
        "--media-public-address {0}: pages cannot dial it; give the unicast address the NAT maps to this machine"
    )]
    MediaPublicAddress(std::net::IpAddr),
    #[error("--{option} {path}: {reason}")]
    SecretFile {
        option: &'static str,
        path: PathBuf,
        reason: String,
    },
}

fn duration(text: &str) -> Result<Duration, String> {
    let value =
        humantime::parse_duration(text).map_err(|e| format!("{e} (use e.g. 25s or 500ms)"))?;
    if value.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(value)
}

/// Bits per second from `400Mbit`, `50000kbit`, `2Gbit` or a plain number of bits.
fn bitrate(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower.trim_end_matches("/s").trim_end_matches("ps");
    let (number, unit) = match lower.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => lower.split_at(i),
        None => (lower, ""),
    };
    let scale = match unit {
        "" | "bit" | "b" => 1.0,
        "k" | "kbit" | "kb" => 1e3,
        "m" | "mbit" | "mb" => 1e6,
        "g" | "gbit" | "gb" => 1e9,
        _ => {
            return Err(format!(
                "unknown unit '{unit}' (use e.g. 400Mbit or 50000kbit)"
            ));
        }
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n > 0.0 && (n * scale) < u64::MAX as f64 => Ok((n * scale) as u64),
        _ => Err("expected a positive bitrate, e.g. 400Mbit or 50000kbit".into()),
    }
}

fn size(text: &str) -> Result<usize, String> {
    let value =
        parse_size::parse_size(text).map_err(|e| format!("{e} (use e.g. 65536 or 64KiB)"))?;
    match usize::try_from(value) {
        Ok(value) if value > 0 => Ok(value),
        _ => Err("must be more than zero".into()),
    }
}

/// Where a systemd service keeps its state (`StateDirectory=` sets `STATE_DIRECTORY`): run as
/// the service, the generated certificate and the meetings file live there by default, since
/// the service's user (`DynamicUser=`) has no home to write to.
fn service_state_dir() -> Option<PathBuf> {
    std::env::var_os("STATE_DIRECTORY")
        .filter(|d| !d.is_empty())
        .and_then(|dirs| std::env::split_paths(&dirs).next())
}

/// Where a generated certificate is kept when --tls-dir does not say: the service's state
/// directory, else the user's configuration directory.
pub fn default_tls_dir() -> PathBuf {
    service_state_dir().map_or_else(CertSource::default_dir, |d| d.join("tls"))
}

/// The first line of a secret's file, without its line end; refused when empty or unreadable.
fn secret_from(path: &std::path::Path, option: &'static str) -> Result<String, ConfigError> {
    let refuse = |reason: String| ConfigError::SecretFile {
        option,
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| refuse(e.to_string()))?;
    let secret = text.lines().next().unwrap_or_default().trim();
    if secret.is_empty() {
        return Err(refuse("the file is empty".into()));
    }
    Ok(secret.to_owned())
}

/// `url` with `password` as its password, kept for every address of a comma-separated list
/// (a Redis Cluster's nodes). The password is percent-encoded, as a URL's userinfo must be.
fn with_password(url: &str, password: &str) -> String {
    let encoded =
        percent_encoding::utf8_percent_encode(password, percent_encoding::NON_ALPHANUMERIC);
    url.split(',')
        .map(|one| match one.trim().split_once("://") {
            Some((scheme, rest)) => {
                let (user, host) = match rest.rsplit_once('@') {
                    Some((credentials, host)) => {
                        (credentials.split(':').next().unwrap_or_default(), host)
                    }
                    None => ("", rest),
                };
                format!("{scheme}://{user}:{encoded}@{host}")
            }
            None => one.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A command holding only the server's options, for [`ServerOptions::defaults`].
#[derive(clap::Parser)]
struct OptionsOnly {
    #[command(flatten)]
    options: ServerOptions,
}

impl ServerOptions {
    /// The options with nothing given, and nothing read from the environment.
    pub fn defaults() -> Self {
        let command = OptionsOnly::command().mut_args(|arg| arg.env(None::<&str>));
        // The declared defaults all parse: the unit tests check it, so this cannot fail.
        let matches = command
            .try_get_matches_from(["defaults"])
            .expect("the declared defaults parse");
        OptionsOnly::from_arg_matches(&matches)
            .expect("the declared defaults parse")
            .options
    }

    /// Checks every option and builds the configuration. `https_by_default` is what a binary
    /// does when neither --tls nor --no-tls is given (the desktop app serves HTTPS, the
    /// headless server does not).
    pub fn into_config(self, https_by_default: bool) -> Result<ServerConfig, ConfigError> {
        let cluster_url = match (&self.cluster, &self.cluster_password_file) {
            (Some(url), Some(path)) => {
                with_password(url, &secret_from(path, "cluster-password-file")?)
            }
            (Some(url), None) => url.clone(),
            (None, _) => String::new(),
        };
        let origins = OriginPolicy::from_args(&self.allowed_origins)?;
        let instance_name = self
            .name
            .as_deref()
            .map(instance_name)
            .transpose()
            .map_err(ConfigError::Name)?;
        let mdns_alias = self
            .mdns_hostname
            .as_deref()
            .map(host_label)
            .transpose()
            .map_err(ConfigError::MdnsHostname)?;
        let ice_servers = self
            .ice_servers
            .iter()
            .map(|s| IceServer::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(dir) = &self.static_dir
            && !dir.join("index.html").is_file()
        {
            return Err(ConfigError::StaticDir(dir.clone()));
        }
        if let Some(csp) = &self.static_csp
            && axum::http::HeaderValue::from_str(csp).is_err()
        {
            return Err(ConfigError::StaticCsp);
        }
        let own_names = OwnNames::new(
            &crate::discovery::machine_hostname(),
            mdns_alias.as_deref(),
            &self.public_names,
        )?;
        let asks_for_tls = self.tls
            || self.tls_port.is_some()
            || self.tls_cert.is_some()
            || self.tls_dir.is_some();
        let tls_on = !self.no_tls && (asks_for_tls || https_by_default);
        crate::cluster::namespace::check_prefix(&self.cluster_prefix)?;
        if self.node_timeout < Duration::from_secs(1) {
            return Err(ConfigError::NodeTimeout(self.node_timeout));
        }
        let media_policy = match self.media {
            MediaArg::Auto => MediaPolicy::Auto {
                mesh_max: self.mesh_max as usize,
            },
            MediaArg::Mesh => MediaPolicy::Mesh,
            MediaArg::Sfu => MediaPolicy::Sfu,
        };
        if let Some(ip) = self.media_public_address
            && (ip.is_unspecified() || ip.is_multicast() || ip == std::net::Ipv4Addr::BROADCAST)
        {
            return Err(ConfigError::MediaPublicAddress(ip));
        }
        let media = (self.media != MediaArg::Mesh).then(|| MediaConfig {
            port: self
                .media_port
                .unwrap_or(self.tls_port.unwrap_or(DEFAULT_TLS_PORT)),
            max_bitrate: self.media_max_bitrate,
            tcp: tls_on,
            max_tracks_in: self.media_max_tracks as usize,
            max_bitrate_in: self.media_max_bitrate_in,
            estimate: self.media_estimate == Switch::On,
            threads: self.media_threads.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                usize::from,
            ),
            public_address: self.media_public_address,
        });
        let tls = tls_on.then(|| TlsConfig {
            port: self.tls_port.unwrap_or(DEFAULT_TLS_PORT),
            source: match (self.tls_cert, self.tls_key) {
                (Some(cert), Some(key)) => CertSource::Files { cert, key },
                _ => CertSource::Generated {
                    dir: self.tls_dir.unwrap_or_else(default_tls_dir),
                },
            },
        });
        let access = match self.room_access {
            AccessArg::Open => RoomAccess::Open,
            AccessArg::Link => RoomAccess::Link,
        };
        Ok(ServerConfig {
            tls,
            ice_servers,
            static_dir: self.static_dir,
            static_csp: self.static_csp,
            own_names,
            bind: self.bind,
            port: self.port.unwrap_or(DEFAULT_PORT),
            origins,
            limits: Limits {
                max_peers_per_room: self.max_peers_per_room as usize,
                max_signal_bytes: self.max_signal_size,
                rate: RateLimit {
                    per_second: self.event_rate.into(),
                    burst: self.event_burst.into(),
                },
                media: media_policy,
                access,
            },
            meetings_file: Some(self.meetings_file.unwrap_or_else(|| {
                service_state_dir().map_or_else(default_meetings_file, |d| d.join("meetings.json"))
            })),
            media,
            max_connections: self.max_connections as usize,
            max_connections_per_address: self.max_connections_per_address as usize,
            header_timeout: self.header_timeout,
            ping_interval: self.ping_interval,
            ping_timeout: self.ping_timeout,
            max_message_bytes: self.max_message_size,
            peer_queue: self.peer_queue as usize,
            mdns: !self.no_mdns,
            instance_name,
            mdns_alias,
            dashboard_token: match &self.dashboard_token_file {
                Some(path) => Some(secret_from(path, "dashboard-token-file")?),
                None => self.dashboard_token,
            },
            https_redirect: self.https_redirect == Switch::On,
            metrics_token: match &self.metrics_token_file {
                Some(path) => Some(secret_from(path, "metrics-token-file")?),
                None => self.metrics_token,
            },
            window_origins: Vec::new(),
            cluster: self.cluster.map(|_| ClusterOptions {
                url: cluster_url,
                node_timeout: self.node_timeout,
                max_peers_per_room: self.max_peers_per_room as usize,
                prefix: self.cluster_prefix,
                ca: self.cluster_ca,
                access,
                media: media_policy,
            }),
        })
    }
}

impl Default for ServerConfig {
    /// What `free-meetings serve` runs with when given no option.
    fn default() -> Self {
        ServerOptions::defaults()
            .into_config(false)
            .expect("the declared defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value for each option that has no default, for the test below.
    const SAMPLES: [(&str, &str); 20] = [
        ("port", "6000"),
        ("allowed-origin", "https://app.example"),
        ("name", "Reception"),
        ("mdns-hostname", "meet"),
        ("tls-port", "6443"),
        ("tls-cert", "/etc/free-meetings/cert.pem"),
        ("tls-key", "/etc/free-meetings/key.pem"),
        ("tls-dir", "/var/lib/free-meetings"),
        ("ice-server", "stun:stun.example:3478"),
        ("static-dir", "/srv/front-end"),
        ("static-csp", "default-src 'self'"),
        ("public-name", "meet.example"),
        ("meetings-file", "/var/lib/free-meetings/meetings.json"),
        ("media-port", "6001"),
        ("media-public-address", "203.0.113.5"),
        ("media-threads", "2"),
        ("cluster", "redis://10.0.0.5:6379/"),
        ("cluster-ca", "/etc/free-meetings/redis-ca.pem"),
        ("dashboard-token", "t0ken"),
        ("metrics-token", "m0nitor"),
    ];

    /// Files and secrets that only some runs have; a file may set them like any other option.
    const SAMPLE_FILES: [(&str, &str); 3] = [
        ("dashboard-token-file", "/run/credentials/token"),
        ("metrics-token-file", "/run/credentials/metrics"),
        ("cluster-password-file", "/run/credentials/redis"),
    ];

    #[test]
    fn a_configuration_file_can_set_every_option_of_the_command_line() {
        let command = OptionsOnly::command();
        let mut file = String::new();
        let mut every = Vec::new();
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            every.push(arg.get_id().to_string());
            let value = if matches!(arg.get_action(), clap::ArgAction::SetTrue) {
                "true".to_owned()
            } else if let Some(default) = arg.get_default_values().first() {
                toml::Value::String(default.to_string_lossy().into_owned()).to_string()
            } else if let Some((_, sample)) = SAMPLES
                .iter()
                .chain(&SAMPLE_FILES)
                .find(|(l, _)| *l == long)
            {
                toml::Value::String((*sample).to_owned()).to_string()
            } else {
                panic!("--{long} has no default and no sample here: add one to SAMPLES");
            };
            file.push_str(&format!("{long} = {value}\n"));
        }
        let matches = command
            .clone()
            .try_get_matches_from(["serve"])
            .expect("nothing given parses");
        let (argv, taken) = crate::config_file::layered(
            &command,
            &matches,
            vec!["serve".into()],
            &|_| None,
            Some((std::path::Path::new("config.toml"), &file)),
        )
        .expect("the generated file is read");
        let mut from_file: Vec<String> = taken.into_iter().map(|(id, _)| id).collect();
        from_file.sort();
        every.sort();
        assert_eq!(from_file, every, "every option comes from the file");
        // Without the options that exclude others, the file makes a valid configuration.
        let apart = [
            "no-tls",
            "dashboard-token-file",
            "metrics-token-file",
            "tls-dir",
        ];
        let argv: Vec<std::ffi::OsString> = argv
            .into_iter()
            .filter(|a| {
                !apart
                    .iter()
                    .any(|o| a.to_string_lossy().starts_with(&format!("--{o}")))
            })
            .collect();
        let parsed =
            <OptionsOnly as clap::Parser>::try_parse_from(argv).expect("the file's options parse");
        assert_eq!(parsed.options.port, Some(6000));
        assert_eq!(parsed.options.public_names, ["meet.example"]);
    }

    #[test]
    fn a_password_file_goes_into_every_cluster_address() {
        assert_eq!(
            with_password("redis://10.0.0.5:6379/2", "p@ss word"),
            "redis://:p%40ss%20word@10.0.0.5:6379/2"
        );
        assert_eq!(
            with_password("rediss://fm:old@a:7000,redis://b:7001", "new"),
            "rediss://fm:new@a:7000,redis://:new@b:7001"
        );
    }

    #[test]
    fn secrets_come_from_the_first_line_of_their_file_and_an_empty_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("fm-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "s3cret\nignored\n").unwrap();
        assert_eq!(
            secret_from(&file, "dashboard-token-file").unwrap(),
            "s3cret"
        );
        std::fs::write(&file, "\n").unwrap();
        assert_eq!(
            secret_from(&file, "dashboard-token-file")
                .unwrap_err()
                .to_string(),
            format!(
                "--dashboard-token-file {}: the file is empty",
                file.display()
            )
        );
        let missing = dir.join("missing");
        assert!(
            secret_from(&missing, "cluster-password-file")
                .unwrap_err()
                .to_string()
                .starts_with(&format!("--cluster-password-file {}: ", missing.display()))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn parse(args: &[&str]) -> ServerOptions {
        let command = OptionsOnly::command().mut_args(|arg| arg.env(None::<&str>));
        let matches = command
            .try_get_matches_from(std::iter::once("test").chain(args.iter().copied()))
            .unwrap();
        OptionsOnly::from_arg_matches(&matches).unwrap().options
    }

    #[test]
    fn the_defaults_make_a_valid_configuration() {
        let config = ServerConfig::default();
        assert_eq!(
            (config.bind.as_str(), config.port),
            ("0.0.0.0", DEFAULT_PORT)
        );
        assert_eq!(config.limits.max_peers_per_room, 50);
        assert_eq!(config.limits.max_signal_bytes, 64 * 1024);
        assert_eq!(config.max_connections, 10_000);
        assert_eq!(config.peer_queue, 1024);
        // One sender's burst alone can never overflow a room mate's queue.
        assert!((config.limits.rate.burst as usize) < config.peer_queue);
        assert!(config.tls.is_none());
        assert!(config.mdns);
    }

    #[test]
    fn https_follows_the_binary_default_unless_told() {
        let tls_of = |args: &[&str], by_default| {
            parse(args)
                .into_config(by_default)
                .unwrap()
                .tls
                .map(|t| t.port)
        };
        assert_eq!(tls_of(&[], false), None);
        assert_eq!(tls_of(&[], true), Some(DEFAULT_TLS_PORT));
        assert_eq!(tls_of(&["--tls"], false), Some(DEFAULT_TLS_PORT));
        assert_eq!(tls_of(&["--tls-port", "0"], false), Some(0));
        assert_eq!(tls_of(&["--no-tls"], true), None);
        // The later of the two wins, so a wrapper's --tls can be turned off by the user's --no-tls.
        assert_eq!(tls_of(&["--tls", "--no-tls"], false), None);
        assert_eq!(
            tls_of(&["--no-tls", "--tls"], false),
            Some(DEFAULT_TLS_PORT)
        );
    }

    #[test]
    fn a_cluster_node_forwards_media_as_a_node_on_its_own_does() {
        let config = parse(&["--cluster", "redis://127.0.0.1:6379/"])
            .into_config(false)
            .unwrap();
        assert_eq!(config.limits.media, MediaPolicy::Auto { mesh_max: 4 });
        assert!(
            config.media.is_some(),
            "each node carries the media of some rooms"
        );
        let cluster = config.cluster.expect("cluster mode");
        assert_eq!(cluster.node_timeout, Duration::from_secs(10));
        assert_eq!(cluster.media, MediaPolicy::Auto { mesh_max: 4 });
        let sfu = parse(&["--cluster", "redis://h/", "--media", "sfu"]).into_config(false);
        assert_eq!(sfu.unwrap().cluster.unwrap().media, MediaPolicy::Sfu);
        let fast =
            parse(&["--cluster", "redis://h/", "--node-timeout", "100ms"]).into_config(false);
        assert!(matches!(fast, Err(ConfigError::NodeTimeout(_))), "{fast:?}");
    }

    #[test]
    fn a_media_public_address_is_kept_and_one_no_page_can_dial_is_refused() {
        let config = parse(&["--media-public-address", "203.0.113.7"])
            .into_config(false)
            .unwrap();
        assert_eq!(
            config.media.unwrap().public_address,
            Some("203.0.113.7".parse().unwrap())
        );
        for bad in ["0.0.0.0", "::", "224.0.0.1", "255.255.255.255"] {
            let refused = parse(&["--media-public-address", bad]).into_config(false);
            assert!(
                matches!(refused, Err(ConfigError::MediaPublicAddress(_))),
                "{bad}: {refused:?}"
            );
        }
        let name = OptionsOnly::command()
            .mut_args(|arg| arg.env(None::<&str>))
            .try_get_matches_from(["test", "--media-public-address", "example.org"]);
        assert!(name.is_err(), "an address, not a name");
    }

    #[test]
    fn media_defaults_to_auto_on_the_https_port_and_mesh_opens_no_port() {
        let config = ServerConfig::default();
        assert_eq!(config.limits.media, MediaPolicy::Auto { mesh_max: 4 });
        let media = config.media.expect("the forwarder runs by default");
        assert_eq!(
            (media.port, media.max_bitrate, media.estimate),
            (DEFAULT_TLS_PORT, 400_000_000, false)
        );
        let config = parse(&["--media", "mesh"]).into_config(false).unwrap();
        assert!(config.media.is_none());
        let config = parse(&[
            "--media",
            "sfu",
            "--tls-port",
            "6443",
            "--media-max-bitrate",
            "50000kbit",
            "--media-estimate",
            "on",
        ])
        .into_config(false)
        .unwrap();
        assert_eq!(config.limits.media, MediaPolicy::Sfu);
        assert_eq!(
            config.media.map(|m| (m.port, m.max_bitrate, m.estimate)),
            Some((6443, 50_000_000, true))
        );
        assert_eq!(bitrate("2Gbit"), Ok(2_000_000_000));
        assert_eq!(bitrate("1500000"), Ok(1_500_000));
        assert!(bitrate("fast").is_err());
        assert!(bitrate("0Mbit").is_err());
    }

    #[test]
    fn bad_values_name_the_option() {
        let error = |args: &[&str]| parse(args).into_config(false).unwrap_err().to_string();
        assert!(error(&["--name", &"x".repeat(64)]).contains("(--name)"));
        assert!(error(&["--mdns-hostname", "meet room"]).contains("(--mdns-hostname)"));
        assert!(error(&["--allowed-origin", "localhost:3000"]).contains("invalid origin"));
        assert!(error(&["--ice-server", "http://x"]).contains("invalid ICE server"));
        assert!(error(&["--static-dir", "/nonexistent"]).contains("no index.html"));
    }
}
