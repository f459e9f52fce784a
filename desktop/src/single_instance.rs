//! One app per session: the first launch holds a D-Bus name; a later launch asks it to open its
//! window and exits 0. Without a session bus every launch runs on its own (said in the log). The
//! name, path and method are those the Tauri single-instance plugin used before, so a running
//! older version still answers a newer launch and the other way round.

use tokio::sync::mpsc;
use zbus::blocking::Connection;

const NAME: &str = "org.freemeetings.desktop.SingleInstance";
const PATH: &str = "/org/freemeetings/desktop/SingleInstance";
const INTERFACE: &str = "org.SingleInstance.DBus";

/// What this launch is.
pub enum Instance {
    /// The first: it holds the name while `Claim` lives; asks to open arrive on `opens`.
    First {
        claim: Claim,
        opens: mpsc::UnboundedReceiver<()>,
    },
    /// Another one runs, and has been asked to open its window.
    HandedOver,
}

/// The held name (none without a session bus): released when dropped.
pub struct Claim {
    _bus: Option<Connection>,
}

#[derive(Debug, thiserror::Error)]
#[error("another Free Meetings runs but did not answer: {0}")]
pub struct HandoverError(zbus::Error);

struct Listener(mpsc::UnboundedSender<()>);

#[zbus::interface(name = "org.SingleInstance.DBus")]
impl Listener {
    fn execute_callback(&mut self, _argv: Vec<String>, _cwd: String) {
        let _ = self.0.send(());
    }
}

/// Claims the name, or hands over to the instance that holds it.
pub fn claim() -> Result<Instance, HandoverError> {
    let (tell, opens) = mpsc::unbounded_channel();
    let built = zbus::blocking::connection::Builder::session().and_then(|builder| {
        builder
            .name(NAME)?
            .replace_existing_names(false)
            .allow_name_replacements(false)
            .serve_at(PATH, Listener(tell))?
            .build()
    });
    match built {
        Ok(connection) => Ok(Instance::First {
            claim: Claim {
                _bus: Some(connection),
            },
            opens,
        }),
        Err(zbus::Error::NameTaken) => {
            let argv: Vec<String> = std::env::args().collect();
            let cwd = std::env::current_dir().unwrap_or_default();
            Connection::session()
                .and_then(|bus| {
                    bus.call_method(
                        Some(NAME),
                        PATH,
                        Some(INTERFACE),
                        "ExecuteCallback",
                        &(argv, cwd.to_string_lossy().as_ref()),
                    )
                })
                .map_err(HandoverError)?;
            Ok(Instance::HandedOver)
        }
        Err(error) => {
            tracing::warn!(%error, "no D-Bus session: another launch will start a second app");
            Ok(Instance::First {
                claim: Claim { _bus: None },
                opens,
            })
        }
    }
}
