//! `free-meetings`: the headless signaling server.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use free_meetings::ServerConfig;
use free_meetings::meeting::IceServer;
use free_meetings::rooms::{Limits, RateLimit};
use free_meetings::tls::{CertSource, DEFAULT_TLS_PORT, TlsConfig};
use free_meetings::transport::origin::OriginPolicy;
use free_meetings::{discovery, startup};

/// Free Meetings: the signaling hub for browser video meetings on your local network.
///
/// Front-ends written for the original Node/Socket.IO server connect unchanged
/// (Socket.IO v4 at /socket.io); other clients can use plain WebSocket JSON at /ws.
/// Settings can also come from the environment or a .env file in the working directory.
#[derive(Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the signaling server (Ctrl+C or SIGTERM stops it cleanly).
    Serve(Box<ServeArgs>),
    /// List the Free Meetings servers on the LAN (found by mDNS); exits 1 when none answers.
    Discover(DiscoverArgs),
}

#[derive(Args)]
struct DiscoverArgs {
    /// How long to listen for answers, in seconds.
    #[arg(long, default_value_t = 3.0, value_parser = seconds)]
    timeout: f64,

    /// Print the servers as a JSON array (instance, hostname, addresses, port, version, url...).
    #[arg(long)]
    json: bool,
}

fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value > 0.0 && value <= 3600.0 => Ok(value),
        _ => Err("expected a number of seconds between 0 and 3600, e.g. 3 or 0.5".into()),
    }
}

#[derive(Args)]
struct ServeArgs {
    /// TCP port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 5000)]
    port: u16,

    /// Address or host name to listen on; 0.0.0.0 means every IPv4 interface.
    #[arg(long, env = "HOST", default_value = "0.0.0.0", value_name = "ADDR")]
    bind: String,

    /// A web origin whose pages may connect (repeatable, or comma-separated in CLIENT_ORIGIN),
    /// e.g. http://localhost:3000. Pages served from this server itself are always allowed,
    /// and so are native clients (no Origin header). `*` allows any origin.
    #[arg(
        long = "allowed-origin",
        env = "CLIENT_ORIGIN",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    allowed_origins: Vec<String>,

    /// Most people in one room; a join past it gets an `error` event.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    max_peers_per_room: u32,

    /// Most connections at once (both transports); past it handshakes get HTTP 503.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,

    /// Most connections from one IP address, so one host on the LAN cannot starve the rest;
    /// past it that address's handshakes get HTTP 503. The address is the TCP peer's:
    /// headers such as X-Forwarded-For are never trusted.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections_per_address: u32,

    /// How long a client may take to send a request's headers before it is cut off
    /// (slow or silent connections), e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = duration)]
    header_timeout: Duration,

    /// How often the server pings each peer, e.g. 25s or 500ms.
    #[arg(long, default_value = "25s", value_parser = duration)]
    ping_interval: Duration,

    /// How long a ping may go unanswered before the peer is dropped, e.g. 20s.
    #[arg(long, default_value = "20s", value_parser = duration)]
    ping_timeout: Duration,

    /// Largest `signal` payload relayed (e.g. 64KiB); bigger ones get an `error` and are dropped.
    #[arg(long, default_value = "64KiB", value_parser = size)]
    max_signal_size: usize,

    /// Largest incoming message on any transport (e.g. 256KiB); a bigger one closes that connection.
    #[arg(long, default_value = "256KiB", value_parser = size)]
    max_message_size: usize,

    /// Events per second one connection may send, sustained; the excess is dropped with an `error`.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    event_rate: u32,

    /// Events one connection may send in a burst before the rate applies. Keep it below
    /// --peer-queue, so that one sender's burst cannot overflow a room mate's queue.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    event_burst: u32,

    /// Events queued for one peer; a peer that falls this far behind is disconnected.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    peer_queue: u32,

    /// Do not announce the server on the LAN with mDNS.
    #[arg(long)]
    no_mdns: bool,

    /// Name shown to people browsing the LAN [default: "Free Meetings on <hostname>"].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    /// Also answer for NAME.local, so people can open http://NAME.local:<port> (e.g. meet).
    #[arg(long, value_name = "NAME")]
    mdns_hostname: Option<String>,

    /// Also serve HTTPS and WSS (on --tls-port), so people at other desks can use the meeting
    /// page with camera and microphone. A self-signed certificate is generated on first start
    /// (see --tls-dir) unless --tls-cert/--tls-key give one.
    #[arg(long)]
    tls: bool,

    /// HTTPS port (turns TLS on) [default: 5443].
    #[arg(long, value_name = "PORT")]
    tls_port: Option<u16>,

    /// Your own certificate chain, PEM (with --tls-key; turns TLS on).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,

    /// The private key of --tls-cert, PEM.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,

    /// Where the generated certificate is kept [default: ~/.config/free-meetings/tls].
    #[arg(long, value_name = "DIR", conflicts_with = "tls_cert")]
    tls_dir: Option<std::path::PathBuf>,

    /// A STUN or TURN server for the meeting page (repeatable), e.g. stun:10.0.0.2:3478 or
    /// turn:user:password@10.0.0.2:3478. None by default: on a LAN none is needed.
    #[arg(long = "ice-server", value_name = "URL")]
    ice_servers: Vec<String>,

    /// Serve this folder (another front-end build) at / instead of the built-in meeting page;
    /// unknown paths get its index.html.
    #[arg(long, value_name = "DIR")]
    static_dir: Option<std::path::PathBuf>,

    /// Open the dashboard (/dashboard and /api) to the LAN for whoever presents this token
    /// (?token=... or Authorization: Bearer). Without it the dashboard answers this machine only.
    #[arg(long, env = "DASHBOARD_TOKEN", value_name = "TOKEN")]
    dashboard_token: Option<String>,
}

fn duration(text: &str) -> Result<Duration, String> {
    let value =
        humantime::parse_duration(text).map_err(|e| format!("{e} (use e.g. 25s or 500ms)"))?;
    if value.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(value)
}

fn size(text: &str) -> Result<usize, String> {
    let value =
        parse_size::parse_size(text).map_err(|e| format!("{e} (use e.g. 65536 or 64KiB)"))?;
    match usize::try_from(value) {
        Ok(value) if value > 0 => Ok(value),
        _ => Err("must be more than zero".into()),
    }
}

impl ServeArgs {
    fn into_config(self) -> Result<ServerConfig, String> {
        let origins = OriginPolicy::from_args(&self.allowed_origins).map_err(|e| e.to_string())?;
        let instance_name = self
            .name
            .as_deref()
            .map(discovery::instance_name)
            .transpose()
            .map_err(|e| format!("invalid --name: {e}"))?;
        let mdns_alias = self
            .mdns_hostname
            .as_deref()
            .map(discovery::host_label)
            .transpose()
            .map_err(|e| format!("invalid --mdns-hostname: {e}"))?;
        let ice_servers = self
            .ice_servers
            .iter()
            .map(|s| IceServer::parse(s).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(dir) = &self.static_dir
            && !dir.join("index.html").is_file()
        {
            return Err(format!(
                "--static-dir {}: no index.html in that folder",
                dir.display()
            ));
        }
        let tls_on = self.tls
            || self.tls_port.is_some()
            || self.tls_cert.is_some()
            || self.tls_dir.is_some();
        let tls = tls_on.then(|| TlsConfig {
            port: self.tls_port.unwrap_or(DEFAULT_TLS_PORT),
            source: match (self.tls_cert, self.tls_key) {
                (Some(cert), Some(key)) => CertSource::Files { cert, key },
                _ => CertSource::Generated {
                    dir: self.tls_dir.unwrap_or_else(CertSource::default_dir),
                },
            },
        });
        Ok(ServerConfig {
            tls,
            ice_servers,
            static_dir: self.static_dir,
            bind: self.bind,
            port: self.port,
            origins,
            limits: Limits {
                max_peers_per_room: self.max_peers_per_room as usize,
                max_connections: self.max_connections as usize,
                max_signal_bytes: self.max_signal_size,
                rate: RateLimit {
                    per_second: self.event_rate.into(),
                    burst: self.event_burst.into(),
                },
            },
            max_connections_per_address: self.max_connections_per_address as usize,
            header_timeout: self.header_timeout,
            ping_interval: self.ping_interval,
            ping_timeout: self.ping_timeout,
            max_message_bytes: self.max_message_size,
            peer_queue: self.peer_queue as usize,
            mdns: !self.no_mdns,
            instance_name,
            mdns_alias,
            dashboard_token: self.dashboard_token,
        })
    }
}

fn main() -> ExitCode {
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("warning: ignoring .env: {error}");
    }
    let cli: Cli = match startup::parse_args() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    startup::init_logging();
    startup::raise_open_file_limit();
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Discover(args) => discover(args),
    }
}

/// Exit code of `discover` when no server answered.
const EXIT_NONE_FOUND: u8 = 1;

fn discover(args: DiscoverArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let timeout = Duration::from_secs_f64(args.timeout);
    let found = match runtime.block_on(discovery::discover(timeout)) {
        Ok(found) => found,
        Err(error) => {
            eprintln!(
                "error: {error}; connect by address instead, e.g. http://<server-address>:5000"
            );
            return ExitCode::from(EXIT_NONE_FOUND);
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&found).unwrap_or_else(|_| "[]".into())
        );
    } else {
        for server in &found {
            let addresses: Vec<String> = server.addresses.iter().map(ToString::to_string).collect();
            println!("{}  {}", server.instance, server.url);
            println!(
                "    host {}  addresses {}  port {}  version {} (protocol {})",
                server.hostname,
                addresses.join(", "),
                server.port,
                server.version.as_deref().unwrap_or("?"),
                server.protocol.as_deref().unwrap_or("?"),
            );
            if let Some(fingerprint) = &server.fingerprint {
                println!("    certificate SHA-256 {fingerprint}");
            }
        }
    }
    if found.is_empty() {
        eprintln!(
            "No Free Meetings server answered within {}s. Multicast may be blocked on this network: \
             connect by address instead, e.g. http://<server-address>:5000 (the server logs its addresses when it starts).",
            args.timeout
        );
        return ExitCode::from(EXIT_NONE_FOUND);
    }
    ExitCode::SUCCESS
}

fn serve(args: ServeArgs) -> ExitCode {
    let config = match args.into_config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(startup::EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        // Before anything is printed: a test (or a supervisor) may signal as soon as it reads.
        let stop = startup::termination_signal();
        let server = match free_meetings::start(config).await {
            Ok(server) => server,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(startup::EXIT_USAGE);
            }
        };
        let addr = server.local_addr();
        println!(
            "Free Meetings listening on http://{addr} (Socket.IO at /socket.io, WebSocket at /ws)"
        );
        if let (Some(tls_addr), Some(fingerprint)) = (server.tls_addr(), server.fingerprint()) {
            println!("HTTPS on https://{tls_addr} (certificate SHA-256 {fingerprint})");
        }
        server.run_until(stop).await;
        ExitCode::SUCCESS
    })
}
