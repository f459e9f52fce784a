//! What both binaries (`free-meetings` and the desktop app) do first: parse arguments with
//! one-line errors, set up logging, and lift the open-file limit.

use std::io::IsTerminal;
use std::process::ExitCode;

/// Usage errors and start-up failures exit with this code.
pub const EXIT_USAGE: u8 = 2;

/// Parses the command line; on a usage error prints one line and returns the exit code to use
/// (0 after `--help`/`--version`, 2 otherwise).
pub fn parse_args<T: clap::Parser>() -> Result<T, ExitCode> {
    match T::try_parse() {
        Ok(args) => Ok(args),
        Err(error) if !error.use_stderr() => {
            let _ = error.print();
            Err(ExitCode::SUCCESS)
        }
        Err(error) => {
            let text = error.to_string();
            let first = text.lines().next().unwrap_or("error: invalid arguments");
            eprintln!("{first} (see --help)");
            Err(ExitCode::from(EXIT_USAGE))
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default: info, quiet Socket.IO internals).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,socketioxide=warn,engineioxide=warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Every peer is a socket: lifts the soft open-file limit (often 1,024) to the hard one.
pub fn raise_open_file_limit() {
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%error, "could not raise the open-file limit; large meetings may be refused");
    }
}
