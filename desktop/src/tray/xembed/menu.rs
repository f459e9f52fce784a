//! The tray icon's popup menu: its layout, how the keys move in it, and its drawing. The X
//! server's core fonts are Latin-1 only, so the labels are rasterised here, with a font in the
//! binary (`desktop/fonts/menu-sans.ttf`, DejaVu Sans cut down to Latin and Cyrillic) and
//! fontdue, and sent as images: a menu in Russian or Uzbek reads as it should, on a bare Xvfb
//! too. Pure layout and key logic are unit-tested here; the window and its input grabs are the
//! icon's (`mod.rs`).

use x11rb::COPY_DEPTH_FROM_PARENT;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ChangeGCAux, ConnectionExt as _, CoordMode, CreateGCAux, CreateWindowAux, EventMask,
    ImageFormat, ImageOrder, Point, PropMode, Rectangle, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use super::{Atoms, XembedError};
use crate::tray::Entry;

/// The font the menu is written in, and how to put its pixels on this display.
pub(super) struct Font {
    face: fontdue::Font,
    gc: u32,
    /// Pixels from a line's top to its baseline.
    ascent: f32,
    line: u16,
    depth: u8,
}

/// The menu's font (see the module doc; its licence is beside it).
const MENU_FONT: &[u8] = include_bytes!("../../../fonts/menu-sans.ttf");
/// The text size, in pixels per em: GTK's default 10 pt at 96 dpi, rounded up.
const TEXT_PX: f32 = 14.0;
/// The widest a label may be drawn; longer ones end in "…" (a long problem message).
const MAX_LABEL_WIDTH: u16 = 560;

const MENU_BACKGROUND: u32 = 0xf6f5f4;
const MENU_BORDER: u32 = 0xb0aca8;
const MENU_TEXT: u32 = 0x241f31;
const MENU_DISABLED: u32 = 0x77767b;
const MENU_HIGHLIGHT: u32 = 0x3584e4;
const MENU_HIGHLIGHT_TEXT: u32 = 0xffffff;
/// Left margin of the labels; the check mark sits in it.
const CHECK_COLUMN: u16 = 22;

impl Font {
    /// The font, once the display is one whose pixels this drawing writes (32 bits per pixel,
    /// least significant byte first: every X server on today's PCs).
    pub(super) fn open(conn: &RustConnection, window: Window) -> Result<Self, XembedError> {
        let setup = conn.setup();
        let depth = setup.roots[0].root_depth;
        let bits = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == depth)
            .map(|f| f.bits_per_pixel);
        if bits != Some(32) || setup.image_byte_order != ImageOrder::LSB_FIRST {
            return Err(XembedError::Drawing(format!(
                "{bits:?} bits per pixel at depth {depth}"
            )));
        }
        let face = fontdue::Font::from_bytes(MENU_FONT, fontdue::FontSettings::default())
            .map_err(|e| XembedError::Drawing(e.to_owned()))?;
        let metrics = face
            .horizontal_line_metrics(TEXT_PX)
            .ok_or_else(|| XembedError::Drawing("the font has no line metrics".into()))?;
        let gc = conn.generate_id()?;
        conn.create_gc(gc, window, &CreateGCAux::new().graphics_exposures(0))?;
        Ok(Self {
            face,
            gc,
            ascent: metrics.ascent.ceil(),
            line: (metrics.ascent - metrics.descent).ceil().max(1.0) as u16,
            depth,
        })
    }

    /// Where each character of `text` goes (its x from the text's start), and the text's width;
    /// cut short with "…" when it would be wider than `MAX_LABEL_WIDTH`.
    fn layout(&self, text: &str) -> (Vec<(char, f32)>, u16) {
        let advance = |c: char| self.face.metrics(c, TEXT_PX).advance_width;
        let mut placed: Vec<(char, f32)> = Vec::with_capacity(text.len());
        let mut x = 0f32;
        for c in text.chars().filter(|c| !c.is_control()) {
            if let Some(&(previous, _)) = placed.last() {
                x += self
                    .face
                    .horizontal_kern(previous, c, TEXT_PX)
                    .unwrap_or(0.0);
            }
            placed.push((c, x));
            x += advance(c);
        }
        if x > MAX_LABEL_WIDTH as f32 {
            let room = MAX_LABEL_WIDTH as f32 - advance('…');
            let keep = placed
                .iter()
                .take_while(|(c, at)| at + advance(*c) <= room)
                .count();
            placed.truncate(keep);
            x = placed.last().map_or(0.0, |&(c, at)| at + advance(c));
            placed.push(('…', x));
            x += advance('…');
        }
        (placed, x.ceil() as u16)
    }

    /// The width `text` takes.
    fn width(&self, text: &str) -> u16 {
        self.layout(text).1
    }

    /// `text` drawn in `ink` over `background` into a `width` x `height` image (32-bit pixels,
    /// blue first), its line centred in the height and starting at `left`.
    fn render(
        &self,
        text: &str,
        (width, height): (u16, u16),
        left: u16,
        ink: u32,
        background: u32,
    ) -> Vec<u8> {
        let (w, h) = (width as usize, height as usize);
        let bgra = |c: u32| [c as u8, (c >> 8) as u8, (c >> 16) as u8, 0];
        let (under, over) = (bgra(background), bgra(ink));
        let mut pixels: Vec<u8> = under.iter().copied().cycle().take(w * h * 4).collect();
        let baseline = (height as f32 - self.line as f32) / 2.0 + self.ascent;
        for (c, x) in self.layout(text).0 {
            let (metrics, coverage) = self.face.rasterize(c, TEXT_PX);
            let left = left as i32 + x.round() as i32 + metrics.xmin;
            let top = baseline.round() as i32 - metrics.ymin - metrics.height as i32;
            for (row, line) in coverage.chunks(metrics.width.max(1)).enumerate() {
                for (column, &alpha) in line.iter().enumerate() {
                    let (px, py) = (left + column as i32, top + row as i32);
                    if alpha == 0 || px < 0 || py < 0 || px as usize >= w || py as usize >= h {
                        continue;
                    }
                    let at = (py as usize * w + px as usize) * 4;
                    for channel in 0..3 {
                        let blend = over[channel] as u32 * alpha as u32
                            + under[channel] as u32 * (255 - alpha as u32);
                        pixels[at + channel] = (blend / 255) as u8;
                    }
                }
            }
        }
        pixels
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
            let (label, checked): (&str, bool) = match entry {
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
                Entry::Status(text) => (text, false),
                Entry::Command(label, _) => (label, false),
                Entry::Toggle(label, on, _) => (label, *on),
            };
            let ink = match (entry, lit) {
                (Entry::Status(_), _) => MENU_DISABLED,
                (_, true) => MENU_HIGHLIGHT_TEXT,
                (_, false) => MENU_TEXT,
            };
            let image = font.render(label, (self.width, height), CHECK_COLUMN, ink, background);
            conn.put_image(
                ImageFormat::Z_PIXMAP,
                self.window,
                font.gc,
                self.width,
                height,
                0,
                y,
                0,
                font.depth,
                &image,
            )?;
            conn.change_gc(font.gc, &ChangeGCAux::new().foreground(ink))?;
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
                Entry::Status(text) => font.width(text),
                Entry::Command(label, _) | Entry::Toggle(label, _, _) => font.width(label),
                Entry::Separator => 0,
            })
            .max()
            .unwrap_or(0);
        let width = (CHECK_COLUMN + longest + 16).max(180);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tray::{TrayView, menu};

    fn entries() -> Vec<Entry> {
        menu(&TrayView {
            status: "Starting…".into(),
            announcing: true,
            start_at_login: false,
            catalogue: free_meetings::catalogue::Catalogue::for_language("en"),
        })
    }

    #[test]
    fn keys_move_as_in_a_gtk_menu_skipping_what_cannot_be_picked() {
        let e = entries();
        let label = |row: Option<usize>| match row.map(|r| &e[r]) {
            Some(Entry::Command(l, _) | Entry::Toggle(l, _, _)) => l.as_str(),
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
    fn long_labels_are_cut_short_with_an_ellipsis() {
        let face = fontdue::Font::from_bytes(MENU_FONT, fontdue::FontSettings::default())
            .expect("the menu font parses");
        let font = Font {
            face,
            gc: 0,
            ascent: 11.0,
            line: 17,
            depth: 24,
        };
        let (short, width) = font.layout("Выйти");
        assert_eq!(short.len(), 5);
        assert!((30..60).contains(&width), "{width}");
        let long = "Сервер не смог запуститься: ".repeat(10);
        let (placed, width) = font.layout(&long);
        assert!(width <= MAX_LABEL_WIDTH, "{width}");
        assert_eq!(placed.last().map(|(c, _)| *c), Some('…'));
        // Every character the catalogues use has a glyph in the cut-down font.
        for (code, json) in free_meetings::catalogue::CATALOGUES {
            let missing: String = json
                .chars()
                .filter(|c| !c.is_control() && font.face.lookup_glyph_index(*c) == 0)
                .collect();
            assert!(missing.is_empty(), "{code}.json: no glyph for {missing:?}");
        }
        let image = font.render("Ўзбек", (100, 27), 22, 0x000000, 0xffffff);
        assert_eq!(image.len(), 100 * 27 * 4);
        assert!(image.chunks(4).any(|p| p[0] < 128), "some ink was drawn");
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
}
