//! The tray icon and its menu. Linux tray click events are unreliable, so everything is in the
//! menu, and the first (disabled) item carries the live status that a tooltip would elsewhere.

use std::sync::Arc;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

use free_meetings::dashboard::{NewMeeting, summary_of};

use crate::clipboard::Clipboard;
use crate::desktop::Desktop;
use crate::window::WindowProcess;

/// Menu items whose text or check mark changes.
struct Items {
    status: MenuItem<Wry>,
    announce: CheckMenuItem<Wry>,
    login: CheckMenuItem<Wry>,
}

/// Creates the tray icon and starts keeping its status line current.
pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let login_on = crate::autostart::is_enabled();
    let items = Items {
        status: MenuItem::with_id(app, "status", "Starting…", false, None::<&str>)?,
        announce: CheckMenuItem::with_id(
            app,
            "announce",
            "Announce on the LAN",
            true,
            true,
            None::<&str>,
        )?,
        login: CheckMenuItem::with_id(
            app,
            "login",
            "Start at login",
            true,
            login_on,
            None::<&str>,
        )?,
    };
    let open = MenuItem::with_id(app, "open", "Open Free Meetings", true, None::<&str>)?;
    let copy = MenuItem::with_id(app, "copy", "Copy meeting link", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &items.status,
            &PredefinedMenuItem::separator(app)?,
            &open,
            &copy,
            &items.announce,
            &items.login,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let tray = TrayIconBuilder::with_id("main")
        .icon(Image::from_bytes(include_bytes!("../icons/tray.png"))?)
        .tooltip("Free Meetings")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu)
        .build(app)?;
    let status_item = items.status.clone();
    let announce_item = items.announce.clone();
    app.manage(items);

    let desktop = app.state::<Arc<Desktop>>().inner().clone();
    tauri::async_runtime::spawn(async move {
        let mut app_status = desktop.status();
        loop {
            let server = desktop
                .with_server(async |s| (s.hub().clone(), s.mdns().get().enabled))
                .await;
            let _ = announce_item.set_checked(server.as_ref().is_some_and(|(_, on)| *on));
            let hub = server.map(|(hub, _)| hub);
            let text = match (&app_status.borrow_and_update().problem, &hub) {
                (Some(problem), _) => problem.clone(),
                (None, Some(hub)) => summary_of(hub),
                (None, None) => "Starting…".to_owned(),
            };
            let _ = status_item.set_text(&text);
            let _ = tray.set_tooltip(Some(format!("Free Meetings: {text}")));
            let _ = tray.set_title(Some(&text));
            let mut changes = hub.as_ref().map(|h| h.roster_changes());
            tokio::select! {
                changed = app_status.changed() => if changed.is_err() { break },
                Some(Ok(())) = async { match changes.as_mut() { Some(c) => Some(c.changed().await), None => None } } => {}
            }
        }
    });
    Ok(())
}

fn on_menu(app: &AppHandle, event: MenuEvent) {
    let desktop = app.state::<Arc<Desktop>>().inner().clone();
    match event.id().as_ref() {
        "open" => app.state::<WindowProcess>().show(),
        "copy" => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                // A fresh room's link: what people paste into an invitation.
                let link = desktop
                    .with_server(async |s| NewMeeting::at(&s.status().meeting_link).link)
                    .await;
                if let Some(link) = link
                    && let Err(error) = app.state::<Clipboard>().set_text(link)
                {
                    tracing::warn!(%error, "could not copy the meeting link");
                }
            });
        }
        "announce" => {
            let Some(items) = app.try_state::<Items>() else {
                return;
            };
            let on = items.announce.is_checked().unwrap_or(true);
            let item = items.announce.clone();
            tauri::async_runtime::spawn(async move {
                let applied = desktop
                    .with_server(async |s| s.set_announcing(on).await)
                    .await;
                if applied != Some(true) {
                    let _ = item.set_checked(false);
                }
            });
        }
        "login" => {
            if let Some(items) = app.try_state::<Items>() {
                crate::autostart::apply(items.login.is_checked().unwrap_or(false));
            }
        }
        "quit" => crate::quit(app.clone()),
        _ => {}
    }
}
