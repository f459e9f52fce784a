//! The tray's clipboard (Copy meeting link). On X11 the copied text is served by the process that
//! owns the selection, for as long as it does, so one clipboard lives as long as the app (arboard
//! answers other programs from its own thread). Opened at the first copy: no X connection for
//! people who never copy.

use std::sync::Mutex;

#[derive(Default)]
pub struct Clipboard(Mutex<Option<arboard::Clipboard>>);

impl Clipboard {
    pub fn set_text(&self, text: String) -> Result<(), arboard::Error> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let clipboard = match &mut *slot {
            Some(clipboard) => clipboard,
            empty => empty.insert(arboard::Clipboard::new()?),
        };
        clipboard.set_text(text)
    }
}
