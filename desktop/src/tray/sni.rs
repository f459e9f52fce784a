//! The tray as a StatusNotifierItem (ksni, over the session bus): the desktop's host draws the
//! icon and the menu, so this process draws nothing.

use ksni::TrayMethods;
use ksni::menu::{CheckmarkItem, MenuItem, StandardItem};
use tokio::sync::{mpsc, watch};

use super::icon::ICON;
use super::{Action, Entry, TrayView, menu};

pub type Handle = ksni::Handle<Item>;

/// The item the host asks about.
pub struct Item {
    view: TrayView,
    actions: mpsc::UnboundedSender<Action>,
}

/// Registers the item with the session's StatusNotifierWatcher and keeps it current with
/// `view`; fails when no watcher or host answers.
pub async fn show(
    mut view: watch::Receiver<TrayView>,
    actions: mpsc::UnboundedSender<Action>,
) -> Result<Handle, ksni::Error> {
    let item = Item {
        view: view.borrow_and_update().clone(),
        actions,
    };
    let handle = item.spawn().await?;
    let updates = handle.clone();
    tokio::spawn(async move {
        while view.changed().await.is_ok() {
            let now = view.borrow_and_update().clone();
            if updates.update(|item| item.view = now).await.is_none() {
                break;
            }
        }
    });
    Ok(handle)
}

impl ksni::Tray for Item {
    fn id(&self) -> String {
        "free-meetings".into()
    }

    fn title(&self) -> String {
        "Free Meetings".into()
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        // ARGB32 in network byte order, from RGBA.
        let data = ICON
            .rgba
            .chunks_exact(4)
            .flat_map(|p| [p[3], p[0], p[1], p[2]])
            .collect();
        vec![ksni::Icon {
            width: ICON.width as i32,
            height: ICON.height as i32,
            data,
        }]
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip {
            title: "Free Meetings".into(),
            // The description may carry markup: the status is text.
            description: self
                .view
                .status
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;"),
            ..Default::default()
        }
    }

    /// A left click (where the host sends one rather than showing the menu) opens the window.
    fn activate(&mut self, _x: i32, _y: i32) {
        let _ = self.actions.send(Action::Open);
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        menu(&self.view)
            .into_iter()
            .map(|entry| match entry {
                Entry::Status(status) => StandardItem {
                    label: status,
                    enabled: false,
                    ..Default::default()
                }
                .into(),
                Entry::Separator => MenuItem::Separator,
                Entry::Command(label, action) => StandardItem {
                    label,
                    activate: Box::new(move |item: &mut Self| {
                        let _ = item.actions.send(action);
                    }),
                    ..Default::default()
                }
                .into(),
                Entry::Toggle(label, checked, action) => CheckmarkItem {
                    label,
                    checked,
                    activate: Box::new(move |item: &mut Self| {
                        let _ = item.actions.send(action);
                    }),
                    ..Default::default()
                }
                .into(),
            })
            .collect()
    }
}
