//! What both binaries (`free-meetings` and the desktop app) do first: parse arguments with
//! one-line errors, set up logging, and lift the open-file limit.

use std::io::IsTerminal;
use std::process::ExitCode;

/// Usage errors and start-up failures exit with this code.
pub const EXIT_USAGE: u8 = 2;

/// Parses the command line; on a usage error prints one line and returns the exit code to use
/// (0 after `--help`/`--version`, 2 otherwise).
pub fn parse_args<T: clap::Parser>() -> Result<T, ExitCode> {
    T::try_parse().map_err(|error| report(&error, ""))
}

/// Prints a parse error as one line (`--help` and `--version` print in full) and returns the
/// exit code: 0 after `--help`/`--version`, 2 otherwise. `context` goes before the message
/// ("in /etc/free-meetings/config.toml: ").
pub fn report(error: &clap::Error, context: &str) -> ExitCode {
    if !error.use_stderr() {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    let line = one_line(&error.to_string());
    match line.strip_prefix("error: ") {
        Some(rest) if !context.is_empty() => eprintln!("error: {context}{rest} (see --help)"),
        _ => eprintln!("{line} (see --help)"),
    }
    ExitCode::from(EXIT_USAGE)
}

/// clap's message in one line: its first line, plus the indented lines that complete it when
/// that first line ends with a colon (as "required arguments were not provided:" does).
fn one_line(text: &str) -> String {
    let mut lines = text.lines();
    let mut line = lines
        .next()
        .unwrap_or("error: invalid arguments")
        .to_owned();
    if line.ends_with(':') {
        let rest: Vec<&str> = lines
            .take_while(|l| l.starts_with(' ') && !l.trim().is_empty())
            .map(str::trim)
            .collect();
        line = format!("{} {}", line, rest.join(", "));
    }
    line
}

/// Crates whose debug and trace output carries whole client messages (invitation keys, SDP,
/// chat): kept at warn unless `RUST_LOG` names them itself, so that `RUST_LOG=debug` for our
/// own logs does not write people's secrets to disk.
const VERBATIM: [&str; 4] = [
    "socketioxide",
    "engineioxide",
    "tungstenite",
    "tokio_tungstenite",
];

/// The log filter for a `RUST_LOG` value (default: info, quiet Socket.IO internals).
fn log_filter(rust_log: Option<&str>) -> String {
    let asked = rust_log
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("info");
    let mut directives = vec![asked.to_owned()];
    for target in VERBATIM {
        let named = asked
            .split(',')
            .any(|d| d.trim().split(['=', '[']).next() == Some(target));
        if !named {
            directives.push(format!("{target}=warn"));
        }
    }
    directives.join(",")
}

/// How log lines are written (`--log-format`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// journald's when stderr is the journal (systemd's `JOURNAL_STREAM` names it), else text.
    #[default]
    Auto,
    /// One line per event with its time and level, coloured on a terminal.
    Text,
    /// One JSON object per line (timestamp, level, target, fields), for a log collector.
    Json,
    /// No time of our own (the journal stamps each line) and a `<N>` syslog priority prefix,
    /// so that `journalctl -p warning` finds our warnings.
    Journald,
}

/// Logs to stderr in `format`, filtered by `RUST_LOG` (see `log_filter`).
pub fn init_logging(format: LogFormat) {
    let asked = std::env::var("RUST_LOG").ok();
    let filter = tracing_subscriber::EnvFilter::try_new(log_filter(asked.as_deref()))
        .unwrap_or_else(|_| log_filter(None).into());
    let journal = std::env::var("JOURNAL_STREAM").ok();
    let format = match format {
        LogFormat::Auto if stderr_is(journal.as_deref()) => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Text,
        chosen => chosen,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Journald => builder
            .with_ansi(false)
            .event_format(WithPriority(
                tracing_subscriber::fmt::format()
                    .without_time()
                    .with_level(false)
                    .with_ansi(false),
            ))
            .init(),
        LogFormat::Text | LogFormat::Auto => {
            builder.with_ansi(std::io::stderr().is_terminal()).init()
        }
    }
}

/// Whether stderr is the stream systemd's `JOURNAL_STREAM` ("device:inode") names: a program
/// started by the unit but with stderr redirected elsewhere must not write journald's format.
fn stderr_is(journal_stream: Option<&str>) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some((device, inode)) = journal_stream.and_then(|s| s.split_once(':')) else {
        return false;
    };
    std::fs::metadata("/proc/self/fd/2")
        .is_ok_and(|stderr| device.parse() == Ok(stderr.dev()) && inode.parse() == Ok(stderr.ino()))
}

/// An event format with journald's `<N>` priority in front (sd-daemon(3)).
struct WithPriority<F>(F);

/// The syslog priority of a level: error 3, warning 4, info 6, debug and trace 7.
fn priority(level: tracing::Level) -> u8 {
    match level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for WithPriority<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        context: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        self.0.format_event(context, writer, event)
    }
}

/// Every peer is a socket: lifts the soft open-file limit (often 1,024) to the hard one.
pub fn raise_open_file_limit() {
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%error, "could not raise the open-file limit; large meetings may be refused");
    }
}

/// Registers the SIGTERM and SIGINT handlers now and returns a future that resolves on either,
/// so a signal sent right after start-up is not lost. Call it inside a Tokio runtime.
pub fn termination_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, int) {
                (Some(mut term), Some(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                (Some(mut one), None) | (None, Some(mut one)) => {
                    one.recv().await;
                }
                (None, None) => std::future::pending().await,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// SIGHUP, registered at once (its default action ends the process): `systemctl reload` and
/// `kill -HUP` ask a running `serve` to check its certificate now.
pub struct ReloadSignal {
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
}

impl ReloadSignal {
    /// Registers the handler. Call it inside a Tokio runtime.
    pub fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                hangup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Resolves at each SIGHUP; never where there is none.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(hangup) = &mut self.hangup
            && hangup.recv().await.is_some()
        {
            return;
        }
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journald_priorities_follow_syslog_and_only_our_own_stream_counts() {
        let levels = [
            tracing::Level::ERROR,
            tracing::Level::WARN,
            tracing::Level::INFO,
            tracing::Level::DEBUG,
        ];
        assert_eq!(levels.map(priority), [3, 4, 6, 7]);
        assert!(!stderr_is(None));
        assert!(!stderr_is(Some("not a stream")));
        assert!(!stderr_is(Some("1:1")));
    }

    #[test]
    fn verbose_logging_keeps_the_message_carrying_crates_quiet_unless_named() {
        assert_eq!(
            log_filter(None),
            "info,socketioxide=warn,engineioxide=warn,tungstenite=warn,tokio_tungstenite=warn"
        );
        assert_eq!(
            log_filter(Some("debug")),
            "debug,socketioxide=warn,engineioxide=warn,tungstenite=warn,tokio_tungstenite=warn"
        );
        assert_eq!(
            log_filter(Some("debug,socketioxide=trace")),
            "debug,socketioxide=trace,engineioxide=warn,tungstenite=warn,tokio_tungstenite=warn"
        );
    }
}
