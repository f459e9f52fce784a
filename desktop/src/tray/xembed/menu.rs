//! The tray icon's popup menu: its layout, how the keys move in it, and its drawing in the X
//! server's core "fixed" font (always there, even on a bare Xvfb). Pure layout and key logic are
//! unit-tested here; the window and its input grabs are the icon's (`mod.rs`).

use x11rb::COPY_DEPTH_FROM_PARENT;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ChangeGCAux, ConnectionExt as _, CoordMode, CreateGCAux, CreateWindowAux, EventMask,
    Point, PropMode, Rectangle, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use super::{Atoms, XembedError};
use crate::tray::Entry;

/// The core font the menu is written in (monospaced, so a label's width is its length).
pub(super) struct Font {
    gc: u32,
    char_width: u16,
    ascent: i16,
    line: u16,
}

const MENU_BACKGROUND: u32 = 0xf6f5f4;
const MENU_BORDER: u32 = 0xb0aca8;
const MENU_TEXT: u32 = 0x241f31;
const MENU_DISABLED: u32 = 0x77767b;
const MENU_HIGHLIGHT: u32 = 0x3584e4;
const MENU_HIGHLIGHT_TEXT: u32 = 0xffffff;
/// Left margin of the labels; the check mark sits in it.
const CHECK_COLUMN: u16 = 22;

impl Font {
    pub(super) fn open(conn: &RustConnection, window: Window) -> Result<Self, XembedError> {
        let id = conn.generate_id()?;
        conn.open_font(id, b"fixed")?.check()?;
        let info = conn.query_font(id)?.reply()?;
        let gc = conn.generate_id()?;
        conn.create_gc(
            gc,
            window,
            &CreateGCAux::new().font(id).graphics_exposures(0),
        )?;
        Ok(Self {
            gc,
            char_width: info.max_bounds.character_width.max(1) as u16,
            ascent: info.font_ascent,
            line: (info.font_ascent + info.font_descent).max(1) as u16,
        })
    }
}

/// The open menu.
pub(super) struct Menu {
    pub(super) window: Window,
    pub(super) left: i16,
    pub(super) top: i16,
    pub(super) width: u16,
    pub(super) entries: Vec<Entry>,
    pub(super) highlighted: Option<usize>,
    /// A button went down inside the menu: its release picks (not the release of the click
    /// that opened the menu).
    pub(super) pressed: bool,
    pub(super) line: u16,
}

fn row_height(entry: &Entry, line: u16) -> u16 {
    match entry {
        Entry::Separator => 7,
        _ => line + 10,
    }
}

impl Menu {
    /// Creates the menu's window under the pointer at (x, y) of the screen, not yet shown.
    pub(super) fn create(
        conn: &RustConnection,
        root: Window,
        atoms: &Atoms,
        font: &Font,
        entries: Vec<Entry>,
        x: i16,
        y: i16,
    ) -> Result<Self, XembedError> {
        let (width, height) = Menu::size(&entries, font);
        let screen = &conn.setup().roots[0];
        let (sw, sh) = (
            screen.width_in_pixels as i16,
            screen.height_in_pixels as i16,
        );
        // Below and right of the pointer, or above/left of it where the screen ends.
        let left = if x + width as i16 > sw {
            (x - width as i16).max(0)
        } else {
            x
        };
        let top = if y + 1 + height as i16 > sh {
            (y - height as i16).max(0)
        } else {
            y + 1
        };
        let window = conn.generate_id()?;
        conn.create_window(
            COPY_DEPTH_FROM_PARENT,
            window,
            root,
            left,
            top,
            width,
            height,
            1,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new()
                .background_pixel(MENU_BACKGROUND)
                .border_pixel(MENU_BORDER)
                .override_redirect(1)
                .event_mask(EventMask::EXPOSURE),
        )?;
        conn.change_property8(
            PropMode::REPLACE,
            window,
            AtomEnum::WM_CLASS,
            AtomEnum::STRING,
            b"free-meetings\0Free-meetings\0",
        )?;
        conn.change_property8(
            PropMode::REPLACE,
            window,
            atoms._NET_WM_NAME,
            atoms.UTF8_STRING,
            b"Tray menu",
        )?;
        conn.change_property32(
            PropMode::REPLACE,
            window,
            atoms._NET_WM_WINDOW_TYPE,
            AtomEnum::ATOM,
            &[atoms._NET_WM_WINDOW_TYPE_POPUP_MENU],
        )?;
        Ok(Self {
            window,
            left,
            top,
            width,
            entries,
            highlighted: None,
            pressed: false,
            line: font.line,
        })
    }

    /// Paints the whole menu (it is small: no partial redraws).
    pub(super) fn draw(&self, conn: &RustConnection, font: &Font) -> Result<(), XembedError> {
        let fill = |colour: u32, rect: Rectangle| -> Result<(), XembedError> {
            conn.change_gc(font.gc, &ChangeGCAux::new().foreground(colour))?;
            conn.poly_fill_rectangle(self.window, font.gc, &[rect])?;
            Ok(())
        };
        let mut y = 0i16;
        for (row, entry) in self.entries.iter().enumerate() {
            let height = row_height(entry, font.line);
            let lit = self.highlighted == Some(row);
            let background = if lit { MENU_HIGHLIGHT } else { MENU_BACKGROUND };
            fill(
                background,
                Rectangle {
                    x: 0,
                    y,
                    width: self.width,
                    height,
                },
            )?;
            let (label, checked) = match entry {
                Entry::Separator => {
                    fill(
                        MENU_BORDER,
                        Rectangle {
                            x: 4,
                            y: y + height as i16 / 2,
                            width: self.width - 8,
                            height: 1,
                        },
                    )?;
                    y += height as i16;
                    continue;
                }
                Entry::Status(text) => (latin1(text), false),
                Entry::Command(label, _) => (latin1(label), false),
                Entry::Toggle(label, on, _) => (latin1(label), *on),
            };
            let ink = match (entry, lit) {
                (Entry::Status(_), _) => MENU_DISABLED,
                (_, true) => MENU_HIGHLIGHT_TEXT,
                (_, false) => MENU_TEXT,
            };
            conn.change_gc(
                font.gc,
                &ChangeGCAux::new().foreground(ink).background(background),
            )?;
            let baseline = y + (height as i16 - font.line as i16) / 2 + font.ascent;
            conn.image_text8(self.window, font.gc, CHECK_COLUMN as i16, baseline, &label)?;
            if checked {
                let mid = y + height as i16 / 2;
                conn.change_gc(font.gc, &ChangeGCAux::new().line_width(2))?;
                conn.poly_line(
                    CoordMode::ORIGIN,
                    self.window,
                    font.gc,
                    &[
                        Point { x: 6, y: mid },
                        Point { x: 9, y: mid + 3 },
                        Point { x: 15, y: mid - 4 },
                    ],
                )?;
                conn.change_gc(font.gc, &ChangeGCAux::new().line_width(0))?;
            }
            y += height as i16;
        }
        conn.flush()?;
        Ok(())
    }

    fn size(entries: &[Entry], font: &Font) -> (u16, u16) {
        let longest = entries
            .iter()
            .map(|e| match e {
                Entry::Status(text) => latin1(text).len(),
                Entry::Command(label, _) | Entry::Toggle(label, _, _) => label.len(),
                Entry::Separator => 0,
            })
            .max()
            .unwrap_or(0) as u16;
        let width = (CHECK_COLUMN + longest * font.char_width + 16).max(180);
        let height = entries.iter().map(|e| row_height(e, font.line)).sum();
        (width, height)
    }

    /// The row under a point of the screen, if the point is on the menu.
    pub(super) fn row_at(&self, x: i16, y: i16) -> Option<usize> {
        if x < self.left || x >= self.left + self.width as i16 || y < self.top {
            return None;
        }
        let mut bottom = self.top;
        for (row, entry) in self.entries.iter().enumerate() {
            bottom += row_height(entry, self.line) as i16;
            if y < bottom {
                return Some(row);
            }
        }
        None
    }
}

/// The next pickable row going down (or up) from `from`, wrapping; from nothing, the first (or
/// last) one.
pub(super) fn step(entries: &[Entry], from: Option<usize>, down: bool) -> Option<usize> {
    let n = entries.len();
    let mut row = from;
    for _ in 0..n {
        let next = match (row, down) {
            (None, true) => 0,
            (None, false) => n - 1,
            (Some(r), true) => (r + 1) % n,
            (Some(r), false) => (r + n - 1) % n,
        };
        if entries[next].action().is_some() {
            return Some(next);
        }
        row = Some(next);
    }
    from
}

/// Text for a core font (ISO 8859-1): typographic marks spelled plainly, the rest as '?'.
fn latin1(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '…' => out.extend_from_slice(b"..."),
            '—' | '–' => out.push(b'-'),
            '‘' | '’' => out.push(b'\''),
            '“' | '”' => out.push(b'"'),
            c if (c as u32) < 0x100 && !c.is_control() => out.push(c as u8),
            _ => out.push(b'?'),
        }
    }
    // ImageText8 draws at most 255 characters.
    out.truncate(255);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tray::{TrayView, menu};

    fn entries() -> Vec<Entry> {
        menu(&TrayView {
            status: "Starting…".into(),
            announcing: true,
            start_at_login: false,
        })
    }

    #[test]
    fn keys_move_as_in_a_gtk_menu_skipping_what_cannot_be_picked() {
        let e = entries();
        let label = |row: Option<usize>| match row.map(|r| &e[r]) {
            Some(Entry::Command(l, _) | Entry::Toggle(l, _, _)) => *l,
            other => panic!("not a pickable row: {other:?}"),
        };
        assert_eq!(label(step(&e, None, true)), "Open Free Meetings");
        assert_eq!(label(step(&e, None, false)), "Quit");
        let login = step(
            &e,
            step(&e, step(&e, step(&e, None, true), true), true),
            true,
        );
        assert_eq!(label(login), "Start at login");
        assert_eq!(
            label(step(&e, login, true)),
            "Quit",
            "the separator is skipped"
        );
        assert_eq!(
            label(step(&e, step(&e, login, true), true)),
            "Open Free Meetings",
            "wraps"
        );
    }

    #[test]
    fn rows_are_found_by_screen_position() {
        let menu = Menu {
            window: 0,
            left: 100,
            top: 50,
            width: 200,
            entries: entries(),
            highlighted: None,
            pressed: false,
            line: 13,
        };
        assert_eq!(menu.row_at(150, 50), Some(0), "the status line, 23 px high");
        assert_eq!(menu.row_at(150, 73), Some(1), "then a 7 px separator");
        assert_eq!(menu.row_at(150, 80), Some(2));
        assert_eq!(menu.row_at(99, 80), None, "left of the menu");
        assert_eq!(menu.row_at(150, 49), None, "above it");
        assert_eq!(menu.row_at(150, 50 + 6 * 23 + 2 * 7), None, "below it");
    }

    #[test]
    fn labels_become_core_font_text() {
        assert_eq!(latin1("Starting…"), b"Starting...");
        assert_eq!(
            latin1("Port 5000 is busy — café ✓"),
            b"Port 5000 is busy - caf\xe9 ?"
        );
    }
}
