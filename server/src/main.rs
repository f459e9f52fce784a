//! `free-meetings`: the headless signaling server.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use free_meetings::config_file::{self, with_environment};
use free_meetings::tls::Refresh;
use free_meetings::{ServerOptions, discovery, startup};

/// Free Meetings: the signaling hub for browser video meetings on your local network.
///
/// Front-ends written for the original Node/Socket.IO server connect unchanged
/// (Socket.IO v4 at /socket.io); other clients can use plain WebSocket JSON at /ws.
/// Every option of `serve` can also come from the environment (FREE_MEETINGS_<OPTION>, e.g.
/// FREE_MEETINGS_MAX_PEERS_PER_ROOM=20; the original server's PORT, HOST and CLIENT_ORIGIN too),
/// a .env file in the working directory, or a TOML file (--config); the command line wins, then
/// the environment, then the file.
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
    /// Check a configuration without starting a server.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The HTTPS certificate: `tls export` writes it out, for installing on other devices.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Print the shell completion script for bash, zsh or fish (the .deb installs them).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (free-meetings.1 and one per command) into a folder.
    #[command(hide = true)]
    Man {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum TlsCommand {
    /// Write the generated certificate (PEM) to a file or stdout, and its SHA-256 fingerprint to
    /// stderr; devices that install it stop warning (see /trust on a running server).
    Export {
        /// The folder of the generated certificate [default: the server's, as serve uses it].
        #[arg(long, value_name = "DIR")]
        tls_dir: Option<PathBuf>,
        /// Where to write it [default: stdout].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the configuration `serve` would run with these options (every option, its value and
    /// where it comes from: command line, environment, file or default; secrets masked), then
    /// check it; exits 2 when it is not valid.
    Check(Box<ServeArgs>),
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
    /// A TOML file of options, one key per option as named here (port = 5000,
    /// allowed-origin = ["https://app.example"], no-mdns = true); the command line and the
    /// environment win over it. Run as a systemd service, the default is config.toml in the
    /// unit's configuration directory (/etc/free-meetings/), if it exists.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// How log lines are written: auto (journald's under systemd, else text), text, json (one
    /// object per line) or journald. RUST_LOG chooses what is logged (default info; room names
    /// only at debug).
    #[arg(long, value_enum, default_value_t = startup::LogFormat::Auto, value_name = "FORMAT")]
    log_format: startup::LogFormat,

    #[command(flatten)]
    options: ServerOptions,
}

/// The parsed command line, with what `config check` reports beside it.
struct Parsed {
    cli: Cli,
    /// The options' matches after every layer (for `config check`), and the ids taken from the
    /// file.
    layers: Option<(ArgMatches, config_file::Taken, Option<PathBuf>)>,
}

/// Parses the command line with the environment and the configuration file under it
/// (`config_file`); usage errors print one line and give the exit code.
fn parse() -> Result<Parsed, ExitCode> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let command = Cli::command()
        .mut_subcommand("serve", with_environment)
        .mut_subcommand("config", |c| c.mut_subcommand("check", with_environment));
    let first = command
        .clone()
        .try_get_matches_from(&argv)
        .map_err(|e| startup::report(&e, ""))?;
    let options = match first.subcommand() {
        Some(("serve", m)) => Some(("serve", m)),
        Some(("config", m)) => m.subcommand_matches("check").map(|m| ("config", m)),
        _ => None,
    };
    let Some((name, matches)) = options else {
        let cli = Cli::from_arg_matches(&first).map_err(|e| startup::report(&e, ""))?;
        return Ok(Parsed { cli, layers: None });
    };
    let lookup = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let options_command = match command.find_subcommand(name) {
        Some(c) if name == "config" => c.find_subcommand("check").unwrap_or(c),
        Some(c) => c,
        None => &command,
    };
    let given = matches.get_one::<PathBuf>("config").cloned();
    let fail = |error: config_file::ConfigFileError| {
        eprintln!("error: {error}");
        ExitCode::from(startup::EXIT_USAGE)
    };
    let file = config_file::read(given.as_deref(), &lookup).map_err(fail)?;
    let (argv, from_file) = config_file::layered(
        options_command,
        matches,
        argv,
        &lookup,
        file.as_ref()
            .map(|(path, text)| (path.as_path(), text.as_str())),
    )
    .map_err(fail)?;
    let context = file
        .as_ref()
        .map(|(path, _)| format!("with {}: ", path.display()))
        .unwrap_or_default();
    let second = command
        .try_get_matches_from(&argv)
        .map_err(|e| startup::report(&e, &context))?;
    let cli = Cli::from_arg_matches(&second).map_err(|e| startup::report(&e, &context))?;
    let options = match second.subcommand() {
        Some(("config", m)) => m.subcommand_matches("check").cloned(),
        Some((_, m)) => Some(m.clone()),
        None => None,
    };
    Ok(Parsed {
        cli,
        layers: options.map(|m| (m, from_file, file.map(|(path, _)| path))),
    })
}

fn main() -> ExitCode {
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("warning: ignoring .env: {error}");
    }
    let Parsed { cli, layers } = match parse() {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    startup::init_logging(match &cli.command {
        Command::Serve(args) => args.log_format,
        _ => startup::LogFormat::Auto,
    });
    startup::raise_open_file_limit();
    match (cli.command, layers) {
        (Command::Serve(args), _) => serve(*args),
        (Command::Discover(args), _) => discover(args),
        (Command::Config(ConfigCommand::Check(args)), Some((matches, from_file, file))) => {
            check(*args, &matches, &from_file, file)
        }
        (Command::Config(ConfigCommand::Check(_)), None) => ExitCode::from(startup::EXIT_USAGE),
        (Command::Completions { shell }, _) => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "free-meetings", &mut script);
            let mut script = String::from_utf8_lossy(&script).into_owned();
            if shell == clap_complete::Shell::Bash {
                // clap_complete spells a hyphenated program's states two ways in bash, so no
                // option of a command ever completes (clap-rs/clap#6421, fix not released):
                // the case arms are spelled as the loop that reaches them spells them.
                script = script.replace("free__subcmd__meetings", "free__meetings");
            }
            print!("{script}");
            ExitCode::SUCCESS
        }
        (Command::Tls(TlsCommand::Export { tls_dir, out }), _) => export_certificate(
            tls_dir.unwrap_or_else(free_meetings::options::default_tls_dir),
            out,
        ),
        (Command::Man { dir }, _) => match write_man_pages(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!(
                    "error: cannot write the man pages into {}: {error}",
                    dir.display()
                );
                ExitCode::FAILURE
            }
        },
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

/// `tls export`: the generated certificate, checked, to `out` or stdout; its fingerprint to stderr.
fn export_certificate(dir: PathBuf, out: Option<PathBuf>) -> ExitCode {
    let path = dir.join("cert.pem");
    let pem = match std::fs::read_to_string(&path) {
        Ok(pem) => pem,
        Err(error) => {
            eprintln!(
                "error: no certificate at {}: {error}; `free-meetings serve --tls` makes one there (or give --tls-dir)",
                path.display()
            );
            return ExitCode::from(startup::EXIT_USAGE);
        }
    };
    let Some(fingerprint) = free_meetings::tls::fingerprint_of_pem(&pem) else {
        eprintln!("error: {} holds no certificate", path.display());
        return ExitCode::from(startup::EXIT_USAGE);
    };
    let written = match &out {
        Some(file) => std::fs::write(file, &pem),
        None => {
            print!("{pem}");
            Ok(())
        }
    };
    if let Err(error) = written {
        eprintln!("error: cannot write the certificate: {error}");
        return ExitCode::FAILURE;
    }
    eprintln!("certificate SHA-256 {fingerprint}");
    ExitCode::SUCCESS
}

/// free-meetings.1, and free-meetings-<command>.1 for each visible command and subcommand.
fn write_man_pages(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut command = Cli::command();
    command.build();
    let mut pages = vec![("free-meetings".to_owned(), command.clone())];
    let shown = |c: &&clap::Command| !c.is_hide_set() && c.get_name() != "help";
    for sub in command.get_subcommands().filter(shown) {
        let name = format!("free-meetings-{}", sub.get_name());
        for inner in sub.get_subcommands().filter(shown) {
            let inner_name = format!("{name}-{}", inner.get_name());
            pages.push((inner_name.clone(), inner.clone().name(inner_name)));
        }
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, page) in pages {
        let mut roff = Vec::new();
        clap_mangen::Man::new(page).render(&mut roff)?;
        std::fs::write(dir.join(format!("{name}.1")), roff)?;
    }
    Ok(())
}

/// Options whose values are secrets: `config check` shows them as `****`.
const SECRETS: [&str; 2] = ["dashboard_token", "metrics_token"];

/// `config check`: every option as a TOML line with its source, secrets masked; then whether
/// the whole makes a valid configuration.
fn check(
    args: ServeArgs,
    matches: &ArgMatches,
    from_file: &config_file::Taken,
    file: Option<PathBuf>,
) -> ExitCode {
    match &file {
        Some(path) => println!("# configuration file: {}", path.display()),
        None => println!("# no configuration file"),
    }
    let command = ServeArgs::augment_args(clap::Command::new("serve"));
    for arg in command.get_arguments() {
        let (id, Some(long)) = (arg.get_id().as_str(), arg.get_long()) else {
            continue;
        };
        let source = config_file::source_of(matches, id, from_file);
        let values: Vec<String> = matches
            .get_raw(id)
            .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let shown: Vec<String> = values
            .iter()
            .map(|v| match id {
                _ if SECRETS.contains(&id) => "****".to_owned(),
                "cluster" => free_meetings::cluster::shown_url(v),
                _ => v.clone(),
            })
            .collect();
        let flag = matches!(arg.get_action(), clap::ArgAction::SetTrue);
        let line = match (flag, shown.as_slice()) {
            (true, _) => format!("{long} = {}", matches.get_flag(id)),
            (false, []) => format!("# {long} (not set)"),
            (false, [one]) if !matches!(arg.get_action(), clap::ArgAction::Append) => {
                format!("{long} = {}", toml::Value::String(one.clone()))
            }
            (false, many) => format!(
                "{long} = {}",
                toml::Value::Array(many.iter().cloned().map(toml::Value::String).collect())
            ),
        };
        println!("{line:<60} # {source}");
    }
    match args.options.into_config(false) {
        Ok(_) => {
            println!("# valid");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(startup::EXIT_USAGE)
        }
    }
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
        let mut reload = startup::ReloadSignal::register();
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
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                () = reload.recv() => match server.refresh_certificate().await {
                    // Logged by the server, with the new fingerprint; printed here too, beside
                    // the one printed at start.
                    Some(Ok(Refresh::Renewed { .. } | Refresh::Reloaded)) => {
                        if let Some(fingerprint) = server.fingerprint() {
                            println!("HTTPS certificate now SHA-256 {fingerprint}");
                        }
                    }
                    Some(_) => {}
                    None => tracing::info!("SIGHUP: nothing to reload (TLS is off)"),
                },
            }
        }
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}
