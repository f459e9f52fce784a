//! Where `free-meetings serve` takes each option from, highest first: the command line; the
//! environment (`FREE_MEETINGS_<OPTION>` for every option, e.g. `FREE_MEETINGS_MAX_PEERS_PER_ROOM`,
//! and the original server's `PORT`, `HOST` and `CLIENT_ORIGIN` below those); the configuration
//! file (`--config FILE`, TOML, one key per option named as on the command line); the option's
//! default. The file is read against the clap definitions themselves, so it knows every option
//! the command line knows and refuses any other key with its line. It works on a `clap::Command`
//! and the argument list, with no knowledge of what the options mean.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};

/// The prefix of every option's environment variable.
pub const ENV_PREFIX: &str = "FREE_MEETINGS_";

/// The original server's variables, still read by the headless server (below the prefixed ones):
/// (option id, variable).
const SEED_VARIABLES: [(&str, &str); 3] = [
    ("port", "PORT"),
    ("bind", "HOST"),
    ("allowed_origins", "CLIENT_ORIGIN"),
];

/// The file a service run reads when no `--config` is given: systemd's
/// `ConfigurationDirectory=` sets `CONFIGURATION_DIRECTORY` for the unit.
pub fn service_default(lookup: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    lookup("CONFIGURATION_DIRECTORY").and_then(|dirs| {
        dirs.split(':')
            .next()
            .map(|d| Path::new(d).join("config.toml"))
    })
}

/// What went wrong with the configuration file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigFileError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: not TOML: {reason}")]
    Syntax { path: String, reason: String },
    #[error(
        "{path} line {line}: unknown option '{key}' (the options are those of --help, e.g. max-peers-per-room = 20)"
    )]
    UnknownKey {
        path: String,
        line: usize,
        key: String,
    },
    #[error("{path} line {line}: {key} takes {expected}")]
    WrongType {
        path: String,
        line: usize,
        key: String,
        expected: &'static str,
    },
}

/// Gives every argument of `command` its environment variable: `FREE_MEETINGS_` and its long
/// name in capitals (`--max-peers-per-room`: `FREE_MEETINGS_MAX_PEERS_PER_ROOM`).
pub fn with_environment(command: Command) -> Command {
    command.mut_args(|arg| {
        let name = arg
            .get_long()
            .map_or_else(|| arg.get_id().to_string(), str::to_owned);
        let variable = format!(
            "{ENV_PREFIX}{}",
            name.to_ascii_uppercase().replace('-', "_")
        );
        arg.env(variable)
    })
}

/// The options whose values the layers below the command line gave: (option id, where from).
pub type Taken = Vec<(String, String)>;

/// Where an option's value came from, as `config check` says it.
pub fn source_of(matches: &ArgMatches, id: &str, taken: &Taken) -> String {
    if let Some((_, from)) = taken.iter().find(|(taken, _)| taken == id) {
        return from.clone();
    }
    match matches.value_source(id) {
        Some(ValueSource::CommandLine) => "command line",
        Some(ValueSource::EnvVariable) => "environment",
        Some(ValueSource::DefaultValue) => "default",
        _ => "not set",
    }
    .to_owned()
}

/// The arguments to parse again: `argv` with, appended, what the original server's variables
/// and the file `file` (its path and text) give for the options that neither the command line
/// nor a `FREE_MEETINGS_` variable set (`matches`, from parsing `argv` against `command`). Also
/// returns which options those layers gave.
pub fn layered(
    command: &Command,
    matches: &ArgMatches,
    mut argv: Vec<OsString>,
    seed: &dyn Fn(&str) -> Option<String>,
    file: Option<(&Path, &str)>,
) -> Result<(Vec<OsString>, Taken), ConfigFileError> {
    let set = |id: &str| {
        matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let long_of = |id: &str| {
        command
            .get_arguments()
            .find(|a| a.get_id() == id)
            .and_then(|a| a.get_long())
    };
    let mut taken: Taken = Vec::new();
    for (id, variable) in SEED_VARIABLES {
        if let (false, Some(value), Some(long)) = (set(id), seed(variable), long_of(id)) {
            argv.push(format!("--{long}={value}").into());
            taken.push((id.to_owned(), format!("environment ({variable})")));
        }
    }
    let Some((path, text)) = file else {
        return Ok((argv, taken));
    };
    let shown = path.display().to_string();
    let table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| ConfigFileError::Syntax {
                path: shown.clone(),
                reason: e.message().to_owned(),
            })?;
    for (key, value) in &table {
        let line = line_of(text, key);
        let Some(arg) = command.get_arguments().find(|a| {
            a.get_long() == Some(key.as_str()) && !a.is_hide_set() && a.get_id() != "config"
        }) else {
            return Err(ConfigFileError::UnknownKey {
                path: shown,
                line,
                key: key.clone(),
            });
        };
        let id = arg.get_id().as_str();
        let wrong = |expected| ConfigFileError::WrongType {
            path: shown.clone(),
            line,
            key: key.clone(),
            expected,
        };
        let flag = matches!(arg.get_action(), ArgAction::SetTrue);
        let values: Vec<String> = match value {
            toml::Value::Boolean(on) if flag => {
                if *on {
                    vec![String::new()]
                } else {
                    vec![]
                }
            }
            _ if flag => return Err(wrong("true or false")),
            toml::Value::String(s) => vec![s.clone()],
            toml::Value::Integer(n) => vec![n.to_string()],
            toml::Value::Float(x) => vec![x.to_string()],
            toml::Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s.clone()),
                    toml::Value::Integer(n) => Ok(n.to_string()),
                    _ => Err(wrong("a list of strings")),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(wrong("one value (a string or a number)")),
        };
        if set(id) || taken.iter().any(|(t, _)| t == id) {
            continue; // the command line or the environment said otherwise, and wins
        }
        taken.push((id.to_owned(), "file".to_owned()));
        for value in values {
            argv.push(if flag {
                format!("--{key}").into()
            } else {
                format!("--{key}={value}").into()
            });
        }
    }
    Ok((argv, taken))
}

/// The line (from 1) where `key` is set (or a table of that name opens) in a TOML file; 0 when
/// it cannot be found.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let rest = line
                .strip_prefix(key)
                .or_else(|| line.strip_prefix(&format!("\"{key}\"")));
            rest.is_some_and(|r| r.trim_start().starts_with('='))
                || line.starts_with(&format!("[{key}]"))
        })
        .map_or(0, |i| i + 1)
}

/// Reads the configuration file, if one is given or the service's default exists.
pub fn read(
    given: Option<&Path>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(PathBuf, String)>, ConfigFileError> {
    let path = match given {
        Some(path) => path.to_owned(),
        None => match service_default(lookup) {
            Some(path) if path.exists() => path,
            _ => return Ok(None),
        },
    };
    std::fs::read_to_string(&path)
        .map(|text| Some((path.clone(), text)))
        .map_err(|e| ConfigFileError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use clap::{Arg, ArgAction, Command};

    use super::*;

    fn command() -> Command {
        Command::new("serve")
            .arg(Arg::new("port").long("port"))
            .arg(Arg::new("bind").long("bind").default_value("0.0.0.0"))
            .arg(
                Arg::new("allowed_origins")
                    .long("allowed-origin")
                    .action(ArgAction::Append)
                    .value_delimiter(','),
            )
            .arg(
                Arg::new("no_mdns")
                    .long("no-mdns")
                    .action(ArgAction::SetTrue),
            )
            .arg(Arg::new("name").long("name"))
    }

    /// What `argv` and the layers make: (option, values, source) for the options that are set.
    fn effective(
        argv: &[&str],
        seed: &[(&str, &str)],
        file: &str,
    ) -> Result<Vec<String>, ConfigFileError> {
        let command = command();
        let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
        let first = command.clone().try_get_matches_from(&argv).unwrap();
        let lookup = |name: &str| {
            seed.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let (argv, taken) = layered(
            &command,
            &first,
            argv,
            &lookup,
            Some((Path::new("config.toml"), file)),
        )?;
        let second = command.try_get_matches_from(&argv).unwrap();
        Ok(["port", "bind", "allowed_origins", "no_mdns", "name"]
            .iter()
            .filter_map(|id| {
                let values: Vec<String> = second
                    .get_raw(id)?
                    .map(|v| v.to_string_lossy().into_owned())
                    .collect();
                Some(format!(
                    "{id}={} ({})",
                    values.join("|"),
                    source_of(&second, id, &taken)
                ))
            })
            .collect())
    }

    #[test]
    fn the_command_line_wins_then_the_seed_variables_then_the_file() {
        let file = "port = 6000\nbind = \"127.0.0.1\"\nallowed-origin = [\"https://a\", \"https://b\"]\nno-mdns = true\nname = \"Desk\"\n";
        assert_eq!(
            effective(&["serve", "--name", "Given"], &[("HOST", "10.0.0.1")], file).unwrap(),
            [
                "port=6000 (file)",
                "bind=10.0.0.1 (environment (HOST))",
                "allowed_origins=https://a|https://b (file)",
                "no_mdns=true (file)",
                "name=Given (command line)",
            ]
        );
        assert_eq!(
            effective(
                &["serve"],
                &[("CLIENT_ORIGIN", "https://c,https://d")],
                "no-mdns = false\n"
            )
            .unwrap(),
            [
                "bind=0.0.0.0 (default)",
                "allowed_origins=https://c|https://d (environment (CLIENT_ORIGIN))",
                "no_mdns=false (file)",
            ]
        );
    }

    #[test]
    fn a_key_that_is_no_option_or_of_the_wrong_type_is_refused_with_its_line() {
        let refused = |file: &str| effective(&["serve"], &[], file).unwrap_err().to_string();
        assert_eq!(
            refused("port = 6000\n\n  prot = 6001\n"),
            "config.toml line 3: unknown option 'prot' (the options are those of --help, e.g. max-peers-per-room = 20)"
        );
        assert_eq!(
            refused("no-mdns = \"yes\"\n"),
            "config.toml line 1: no-mdns takes true or false"
        );
        assert_eq!(
            refused("port = [1, 2]\n"),
            "config.toml line 1: port takes one value (a string or a number)"
        );
        assert_eq!(
            refused("[server]\nport = 1\n"),
            "config.toml line 1: unknown option 'server' (the options are those of --help, e.g. max-peers-per-room = 20)"
        );
        assert!(refused("port = \n").starts_with("config.toml: not TOML: "));
    }

    #[test]
    fn every_option_gets_its_variable_and_the_service_its_default_file() {
        let command = with_environment(command());
        let port = command
            .get_arguments()
            .find(|a| a.get_id() == "port")
            .unwrap();
        assert_eq!(
            port.get_env().and_then(|e| e.to_str()),
            Some("FREE_MEETINGS_PORT")
        );
        let no_mdns = command
            .get_arguments()
            .find(|a| a.get_id() == "no_mdns")
            .unwrap();
        assert_eq!(
            no_mdns.get_env().and_then(|e| e.to_str()),
            Some("FREE_MEETINGS_NO_MDNS")
        );
        assert_eq!(
            service_default(&|name| (name == "CONFIGURATION_DIRECTORY")
                .then(|| "/etc/free-meetings".to_owned())),
            Some(PathBuf::from("/etc/free-meetings/config.toml"))
        );
        assert_eq!(service_default(&|_| None), None);
    }
}
