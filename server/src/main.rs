//! `free-meetings`: the headless signaling server.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use free_meetings::{ServerOptions, discovery, startup};

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
    #[command(flatten)]
    options: ServerOptions,
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
    let config = match args.options.into_config(false) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
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
