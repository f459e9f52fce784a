//! The tray: one menu, drawn by whichever tray the desktop has. A StatusNotifierItem over D-Bus
//! (`sni.rs`: KDE, GNOME with the AppIndicator extension, XFCE, most panels today) when a
//! StatusNotifierWatcher answers; else an XEmbed icon (`xembed.rs`: trayer, stalonetray, older
//! panels) drawn with the X protocol itself. Neither links a GUI toolkit, so the tray process
//! never maps GTK or WebKit. Both render `TrayView` through `menu()` and report what the user
//! picked as an `Action`; the app decides what an action does (`main.rs`).

mod icon;
mod sni;
mod xembed;

use std::sync::Arc;

use free_meetings::catalogue::Catalogue;
use free_meetings::dashboard::summary_of;
use tokio::sync::{mpsc, watch};

use crate::desktop::Desktop;

/// What the tray shows.
#[derive(Debug, Clone, PartialEq)]
pub struct TrayView {
    /// The live status line ("1 meeting, 2 people", or the problem to fix), already worded.
    pub status: String,
    pub announcing: bool,
    pub start_at_login: bool,
    /// The language the menu speaks.
    pub catalogue: Catalogue,
}

/// What the user picked in the tray.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Open,
    CopyLink,
    Announce(bool),
    StartAtLogin(bool),
    Quit,
}

/// One line of the menu. Linux tray click events are unreliable, so everything is in the menu,
/// and its first (disabled) line carries the live status that a tooltip would elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Status(String),
    Separator,
    Command(String, Action),
    /// A check item: its state, and the action that sets the other state.
    Toggle(String, bool, Action),
}

impl Entry {
    /// What picking this entry does; `None` for lines that cannot be picked.
    pub fn action(&self) -> Option<Action> {
        match self {
            Entry::Command(_, action) | Entry::Toggle(_, _, action) => Some(*action),
            Entry::Status(_) | Entry::Separator => None,
        }
    }
}

/// The menu for what the tray shows, top to bottom.
pub fn menu(view: &TrayView) -> Vec<Entry> {
    let word = |key: &str| view.catalogue.text(key, &[]);
    vec![
        Entry::Status(view.status.clone()),
        Entry::Separator,
        Entry::Command(word("tray.open"), Action::Open),
        Entry::Command(word("tray.copy-link"), Action::CopyLink),
        Entry::Toggle(
            word("tray.announce"),
            view.announcing,
            Action::Announce(!view.announcing),
        ),
        Entry::Toggle(
            word("tray.start-at-login"),
            view.start_at_login,
            Action::StartAtLogin(!view.start_at_login),
        ),
        Entry::Separator,
        Entry::Command(word("tray.quit"), Action::Quit),
    ]
}

/// The tray that is showing, kept for as long as the app runs.
pub enum Tray {
    Sni(sni::Handle),
    Xembed(xembed::Handle),
    /// Neither a StatusNotifierWatcher nor an X display: the window is the way in.
    None,
}

impl Tray {
    /// Shows the tray on the first host that answers; picked actions arrive on `actions`.
    pub async fn show(
        view: watch::Receiver<TrayView>,
        actions: mpsc::UnboundedSender<Action>,
    ) -> Tray {
        let sni_error = match sni::show(view.clone(), actions.clone()).await {
            Ok(handle) => {
                tracing::info!("tray: StatusNotifierItem");
                return Tray::Sni(handle);
            }
            Err(error) => error,
        };
        match xembed::show(view, actions) {
            Ok(handle) => {
                tracing::info!(sni = %sni_error, "tray: XEmbed (no StatusNotifierItem host)");
                Tray::Xembed(handle)
            }
            Err(error) => {
                tracing::warn!(sni = %sni_error, xembed = %error, "no tray to show: the window stays the way in");
                Tray::None
            }
        }
    }

    pub fn is_shown(&self) -> bool {
        !matches!(self, Tray::None)
    }

    /// Takes the icon out of the tray.
    pub async fn close(self) {
        match self {
            // A bus that does not answer must not hold Quit up.
            Tray::Sni(handle) => {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), handle.shutdown())
                    .await;
            }
            Tray::Xembed(handle) => handle.close(),
            Tray::None => {}
        }
    }
}

/// Keeps `view`'s status line, Announce check mark and language current with the app and its
/// server, for as long as the view has a receiver; returns the tray's. It is made before the
/// task starts: a task started first sometimes found no receiver yet and ended at once, leaving
/// the tray's status and language as they were at start.
pub fn keep_current(
    desktop: Arc<Desktop>,
    view: watch::Sender<TrayView>,
) -> watch::Receiver<TrayView> {
    let tray = view.subscribe();
    tokio::spawn(async move {
        let mut app_status = desktop.status();
        let mut language = desktop.language();
        loop {
            let catalogue = *language.borrow_and_update();
            let server = desktop
                .with_server(async |s| (s.hub().clone(), s.mdns().get().enabled))
                .await;
            let announcing = server.as_ref().is_some_and(|(_, on)| *on);
            let hub = server.map(|(hub, _)| hub);
            // Followed from before the summary is read: a join in between wakes the next turn.
            let mut changes = hub.as_ref().map(|h| h.roster_changes());
            let status = match (&app_status.borrow_and_update().problem, &hub) {
                (Some(problem), _) => problem.words(catalogue),
                (None, Some(hub)) => summary_of(hub, catalogue),
                (None, None) => catalogue.text("tray.starting", &[]),
            };
            view.send_if_modified(|v| {
                let new_language = v.catalogue.code() != catalogue.code();
                if new_language {
                    tracing::info!(language = catalogue.code(), "the tray's language changed");
                }
                let changed = v.status != status || v.announcing != announcing || new_language;
                v.status = status;
                v.announcing = announcing;
                v.catalogue = catalogue;
                changed
            });
            tokio::select! {
                changed = app_status.changed() => if changed.is_err() { break },
                changed = language.changed() => if changed.is_err() { break },
                Some(Ok(())) = async { match changes.as_mut() { Some(c) => Some(c.changed().await), None => None } } => {}
                () = view.closed() => break,
            }
        }
    });
    tray
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(announcing: bool, start_at_login: bool) -> TrayView {
        TrayView {
            status: "1 meeting, 2 people".into(),
            announcing,
            start_at_login,
            catalogue: Catalogue::for_language("en"),
        }
    }

    #[test]
    fn the_menu_reads_top_to_bottom_with_the_status_first() {
        let lines: Vec<String> = menu(&view(true, false))
            .iter()
            .map(|e| match e {
                Entry::Status(s) => format!("({s})"),
                Entry::Separator => "--".into(),
                Entry::Command(label, _) => label.clone(),
                Entry::Toggle(label, on, _) => format!("[{}] {label}", if *on { "x" } else { " " }),
            })
            .collect();
        assert_eq!(
            lines.join(" | "),
            "(1 meeting, 2 people) | -- | Open Free Meetings | Copy meeting link | \
             [x] Announce on the LAN | [ ] Start at login | -- | Quit"
        );
    }

    #[test]
    fn the_menu_speaks_the_chosen_language() {
        let ru = TrayView {
            catalogue: Catalogue::for_language("ru"),
            ..view(false, false)
        };
        let labels: Vec<String> = menu(&ru)
            .into_iter()
            .filter_map(|e| match e {
                Entry::Command(label, _) | Entry::Toggle(label, _, _) => Some(label),
                _ => None,
            })
            .collect();
        assert_eq!(labels[0], "Открыть Free Meetings");
        assert_eq!(labels[4], "Выйти");
    }

    #[test]
    fn a_toggle_asks_for_the_state_it_does_not_have() {
        let actions = |v| {
            menu(&v)
                .iter()
                .filter_map(Entry::action)
                .collect::<Vec<_>>()
        };
        assert!(actions(view(true, false)).contains(&Action::Announce(false)));
        assert!(actions(view(false, true)).contains(&Action::Announce(true)));
        assert!(actions(view(false, true)).contains(&Action::StartAtLogin(false)));
        assert_eq!(
            menu(&view(true, true))[0].action(),
            None,
            "the status line is not a command"
        );
    }
}
