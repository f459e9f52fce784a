//! The tray as an XEmbed icon (the freedesktop System Tray protocol), for trays that do not host
//! StatusNotifierItems (trayer, stalonetray, older panels). Written on the X protocol directly
//! (x11rb, pure Rust) because the one maintained crate that speaks XEmbed, tray-icon, does it
//! through GTK: 117 MB RSS for an icon, measured here, where this whole process is a few MB.
//!
//! The icon is a window the tray reparents into its panel; the menu (`menu.rs`) is an
//! override-redirect window whose labels are drawn with a font in the binary, driven by a pointer and
//! keyboard grab on the icon (taken before the menu maps, so no key typed as it appears is
//! lost). It answers the keys a GTK menu does: Up/Down (from nothing selected, Down picks the
//! first item and Up the last), Return or space to pick, Escape or a click elsewhere to close.
//! One thread owns the connection's events; the async side wakes it with a client message when
//! the view changes.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use x11rb::connection::Connection;
use x11rb::errors::{ConnectError, ConnectionError, ReplyError, ReplyOrIdError};
use x11rb::properties::WmSizeHints;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    BackPixmap, ButtonPressEvent, ChangeWindowAttributesAux, ClientMessageEvent,
    ConfigureWindowAux, ConnectionExt as _, CreateGCAux, CreateWindowAux, EventMask, GrabMode,
    GrabStatus, ImageFormat, ImageOrder, PropMode, StackMode, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::{COPY_DEPTH_FROM_PARENT, CURRENT_TIME, NONE};

mod menu;

use self::menu::{Font, Menu, step};
use super::icon::ICON;
use super::{Action, Entry, TrayView};

x11rb::atom_manager! {
    Atoms: AtomsCookie {
        _NET_SYSTEM_TRAY_OPCODE,
        _XEMBED_INFO,
        MANAGER,
        UTF8_STRING,
        _NET_WM_NAME,
        _NET_WM_WINDOW_TYPE,
        _NET_WM_WINDOW_TYPE_POPUP_MENU,
        WAKE: b"_FREE_MEETINGS_TRAY_WAKE",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum XembedError {
    #[error("no X display: {0}")]
    Connect(#[from] ConnectError),
    #[error("the X connection failed: {0}")]
    Connection(#[from] ConnectionError),
    #[error("the X server refused a request: {0}")]
    Reply(#[from] ReplyError),
    #[error("the X server refused a request: {0}")]
    ReplyOrId(#[from] ReplyOrIdError),
    #[error("the tray menu cannot draw on this display: {0}")]
    Drawing(String),
    #[error("could not start the tray's thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// The running icon; `close` takes it out of the tray.
pub struct Handle {
    conn: Arc<RustConnection>,
    window: Window,
    wake: u32,
}

impl Handle {
    /// Removes the icon from the tray at once (the process may take a moment more to end).
    pub fn close(self) {
        let _ = wake(&self.conn, self.window, self.wake, WAKE_CLOSE);
    }
}

/// What a wake message asks of the event thread (its first data word).
const WAKE_VIEW: u32 = 0;
const WAKE_CLOSE: u32 = 1;

fn wake(conn: &RustConnection, window: Window, wake: u32, what: u32) -> Result<(), XembedError> {
    let event = ClientMessageEvent::new(32, window, wake, [what, 0, 0, 0, 0]);
    conn.send_event(false, window, EventMask::NO_EVENT, event)?;
    conn.flush()?;
    Ok(())
}

/// The icon's size until the tray gives it another.
const ICON_SIZE: u16 = 24;
// XEmbed and System Tray protocol numbers.
const SYSTEM_TRAY_REQUEST_DOCK: u32 = 0;
const XEMBED_MAPPED: u32 = 1;
// Keysyms (X11/keysymdef.h).
const XK_UP: u32 = 0xff52;
const XK_DOWN: u32 = 0xff54;
const XK_RETURN: u32 = 0xff0d;
const XK_KP_ENTER: u32 = 0xff8d;
const XK_SPACE: u32 = 0x20;
const XK_ESCAPE: u32 = 0xff1b;

/// Starts the icon: docked now if a tray runs, else as soon as one announces itself.
pub fn show(
    mut view: watch::Receiver<TrayView>,
    actions: mpsc::UnboundedSender<Action>,
) -> Result<Handle, XembedError> {
    let (conn, screen) = x11rb::connect(None)?;
    let conn = Arc::new(conn);
    let icon = Icon::create(conn.clone(), screen, view.clone(), actions)?;
    let handle = Handle {
        conn: conn.clone(),
        window: icon.window,
        wake: icon.atoms.WAKE,
    };
    let (window, atom) = (handle.window, handle.wake);
    tokio::spawn(async move {
        while view.changed().await.is_ok() {
            if wake(&conn, window, atom, WAKE_VIEW).is_err() {
                break;
            }
        }
    });
    std::thread::Builder::new()
        .name("xembed-tray".into())
        .spawn(move || {
            if let Err(error) = icon.run() {
                tracing::warn!(%error, "the XEmbed tray icon stopped");
            }
        })?;
    Ok(handle)
}

struct Icon {
    conn: Arc<RustConnection>,
    atoms: Atoms,
    root: Window,
    tray_selection: u32,
    window: Window,
    size: (u16, u16),
    view: watch::Receiver<TrayView>,
    actions: mpsc::UnboundedSender<Action>,
    keys: Keymap,
    font: Option<Font>,
    menu: Option<Menu>,
}

impl Icon {
    fn create(
        conn: Arc<RustConnection>,
        screen_num: usize,
        view: watch::Receiver<TrayView>,
        actions: mpsc::UnboundedSender<Action>,
    ) -> Result<Self, XembedError> {
        let atoms = Atoms::new(&*conn)?.reply()?;
        let tray_selection = conn
            .intern_atom(false, format!("_NET_SYSTEM_TRAY_S{screen_num}").as_bytes())?
            .reply()?
            .atom;
        let screen = &conn.setup().roots[screen_num];
        let root = screen.root;
        // Trays announce themselves to the root window with a MANAGER message.
        conn.change_window_attributes(
            root,
            &ChangeWindowAttributesAux::new().event_mask(EventMask::STRUCTURE_NOTIFY),
        )?;
        let window = conn.generate_id()?;
        conn.create_window(
            COPY_DEPTH_FROM_PARENT,
            window,
            root,
            0,
            0,
            ICON_SIZE,
            ICON_SIZE,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new()
                .background_pixmap(BackPixmap::PARENT_RELATIVE)
                .event_mask(
                    EventMask::EXPOSURE | EventMask::STRUCTURE_NOTIFY | EventMask::BUTTON_PRESS,
                ),
        )?;
        // Named for what it is, not "Free Meetings": that is the window's title.
        conn.change_property8(
            PropMode::REPLACE,
            window,
            atoms._NET_WM_NAME,
            atoms.UTF8_STRING,
            b"Tray icon of Free Meetings",
        )?;
        // Trays size an icon by its minimum size (GtkSocket-based ones give it 1 pixel without).
        let mut hints = WmSizeHints::new();
        hints.min_size = Some((ICON_SIZE as i32, ICON_SIZE as i32));
        hints.base_size = hints.min_size;
        hints.set_normal_hints(&*conn, window)?;
        conn.change_property32(
            PropMode::REPLACE,
            window,
            atoms._XEMBED_INFO,
            atoms._XEMBED_INFO,
            &[0, XEMBED_MAPPED],
        )?;
        let keys = Keymap::read(&conn)?;
        let font = Font::open(&conn, window)
            .inspect_err(
                |error| tracing::warn!(%error, "no menu: the tray icon opens the window instead"),
            )
            .ok();
        let icon = Self {
            conn,
            atoms,
            root,
            tray_selection,
            window,
            size: (ICON_SIZE, ICON_SIZE),
            view,
            actions,
            keys,
            font,
            menu: None,
        };
        let manager = icon
            .conn
            .get_selection_owner(tray_selection)?
            .reply()?
            .owner;
        if manager == NONE {
            tracing::info!("no system tray yet: the icon docks when one starts");
        } else {
            icon.dock(manager)?;
        }
        icon.conn.flush()?;
        Ok(icon)
    }

    fn dock(&self, manager: Window) -> Result<(), XembedError> {
        let request = ClientMessageEvent::new(
            32,
            manager,
            self.atoms._NET_SYSTEM_TRAY_OPCODE,
            [CURRENT_TIME, SYSTEM_TRAY_REQUEST_DOCK, self.window, 0, 0],
        );
        self.conn
            .send_event(false, manager, EventMask::NO_EVENT, request)?;
        self.conn.flush()?;
        tracing::debug!(manager, "asked the system tray to dock the icon");
        Ok(())
    }

    fn run(mut self) -> Result<(), XembedError> {
        loop {
            let event = self.conn.wait_for_event()?;
            match event {
                Event::Expose(e) if e.window == self.window && e.count == 0 => self.draw_icon()?,
                Event::Expose(e)
                    if e.count == 0 && self.menu.as_ref().is_some_and(|m| m.window == e.window) =>
                {
                    self.draw_menu()?
                }
                Event::ConfigureNotify(e) if e.window == self.window => {
                    self.size = (e.width, e.height);
                }
                Event::ClientMessage(e) if e.type_ == self.atoms.MANAGER => {
                    let [_, selection, manager, ..] = e.data.as_data32();
                    if selection == self.tray_selection {
                        self.dock(manager)?;
                    }
                }
                Event::ClientMessage(e) if e.type_ == self.atoms.WAKE => {
                    if e.data.as_data32()[0] == WAKE_CLOSE {
                        self.close_menu()?;
                        self.conn.destroy_window(self.window)?;
                        self.conn.flush()?;
                        return Ok(());
                    }
                    if let Some(menu) = &mut self.menu {
                        menu.entries = menu_of(&self.view);
                        self.draw_menu()?;
                    }
                }
                Event::ButtonPress(e) => self.pressed(&e)?,
                Event::ButtonRelease(e) => {
                    if let Some(menu) = &self.menu
                        && menu.pressed
                        && let Some(row) = menu.row_at(e.root_x, e.root_y)
                    {
                        self.pick(row)?;
                    }
                }
                Event::MotionNotify(e) => {
                    if let Some(menu) = &mut self.menu {
                        let hovered = menu
                            .row_at(e.root_x, e.root_y)
                            .filter(|&r| menu.entries[r].action().is_some());
                        if hovered != menu.highlighted {
                            menu.highlighted = hovered;
                            self.draw_menu()?;
                        }
                    }
                }
                Event::KeyPress(e) if self.menu.is_some() => match self.keys.keysym(e.detail) {
                    key @ (XK_DOWN | XK_UP) => {
                        if let Some(menu) = &mut self.menu {
                            menu.highlighted =
                                step(&menu.entries, menu.highlighted, key == XK_DOWN);
                            self.draw_menu()?;
                        }
                    }
                    XK_RETURN | XK_KP_ENTER | XK_SPACE => {
                        match self.menu.as_ref().and_then(|m| m.highlighted) {
                            Some(row) => self.pick(row)?,
                            None => self.close_menu()?,
                        }
                    }
                    XK_ESCAPE => self.close_menu()?,
                    _ => {}
                },
                Event::Error(error) => tracing::debug!(?error, "X error in the tray icon"),
                _ => {}
            }
        }
    }

    fn pressed(&mut self, e: &ButtonPressEvent) -> Result<(), XembedError> {
        match &mut self.menu {
            Some(menu) if menu.row_at(e.root_x, e.root_y).is_some() => menu.pressed = true,
            Some(_) => self.close_menu()?,
            None if e.event == self.window && self.font.is_some() => {
                self.open_menu(e.root_x, e.root_y)?
            }
            None if e.event == self.window => {
                let _ = self.actions.send(Action::Open);
            }
            None => {}
        }
        Ok(())
    }

    /// Paints the icon over the tray's own background (the window's is the parent's).
    fn draw_icon(&self) -> Result<(), XembedError> {
        let (w, h) = self.size;
        if w == 0 || h == 0 {
            return Ok(());
        }
        self.conn.clear_area(false, self.window, 0, 0, w, h)?;
        let Ok(image) = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, self.window, 0, 0, w, h, !0)?
            .reply()
        else {
            return Ok(()); // not viewable (yet): its Expose will come
        };
        let bits = self
            .conn
            .setup()
            .pixmap_formats
            .iter()
            .find(|f| f.depth == image.depth)
            .map(|f| f.bits_per_pixel);
        if bits != Some(32) || self.conn.setup().image_byte_order != ImageOrder::LSB_FIRST {
            return Ok(()); // a display this drawing does not handle: the tray shows an empty slot
        }
        let mut data = image.data;
        let size = w.min(h) as u32;
        let (left, top) = ((w as u32 - size) / 2, (h as u32 - size) / 2);
        for y in 0..size {
            for x in 0..size {
                let [r, g, b, a] = ICON.sample(x, y, size);
                let at = (((top + y) * w as u32 + left + x) * 4) as usize;
                let blend = |over: u8, under: u8| {
                    ((over as u32 * a as u32 + under as u32 * (255 - a as u32)) / 255) as u8
                };
                // 32-bit pixels, least significant byte first: blue, green, red.
                data[at] = blend(b, data[at]);
                data[at + 1] = blend(g, data[at + 1]);
                data[at + 2] = blend(r, data[at + 2]);
            }
        }
        let gc = self.conn.generate_id()?;
        self.conn.create_gc(gc, self.window, &CreateGCAux::new())?;
        self.conn.put_image(
            ImageFormat::Z_PIXMAP,
            self.window,
            gc,
            w,
            h,
            0,
            0,
            0,
            image.depth,
            &data,
        )?;
        self.conn.free_gc(gc)?;
        self.conn.flush()?;
        Ok(())
    }

    fn open_menu(&mut self, x: i16, y: i16) -> Result<(), XembedError> {
        let Some(font) = &self.font else {
            return Ok(());
        };
        let menu = Menu::create(
            &self.conn,
            self.root,
            &self.atoms,
            font,
            menu_of(&self.view),
            x,
            y,
        )?;
        // Grabs first, on the (viewable) icon: keys typed the moment the menu shows reach it.
        let pointer = self
            .conn
            .grab_pointer(
                false,
                self.window,
                EventMask::BUTTON_PRESS | EventMask::BUTTON_RELEASE | EventMask::POINTER_MOTION,
                GrabMode::ASYNC,
                GrabMode::ASYNC,
                NONE,
                NONE,
                CURRENT_TIME,
            )?
            .reply()?;
        let keyboard = self
            .conn
            .grab_keyboard(
                false,
                self.window,
                CURRENT_TIME,
                GrabMode::ASYNC,
                GrabMode::ASYNC,
            )?
            .reply()?;
        if pointer.status != GrabStatus::SUCCESS || keyboard.status != GrabStatus::SUCCESS {
            tracing::debug!(?pointer.status, ?keyboard.status, "the tray menu could not grab input");
        }
        self.conn.map_window(menu.window)?;
        self.conn.configure_window(
            menu.window,
            &ConfigureWindowAux::new().stack_mode(StackMode::ABOVE),
        )?;
        self.menu = Some(menu);
        self.conn.flush()?;
        Ok(())
    }

    fn draw_menu(&self) -> Result<(), XembedError> {
        match (&self.menu, &self.font) {
            (Some(menu), Some(font)) => menu.draw(&self.conn, font),
            _ => Ok(()),
        }
    }

    fn close_menu(&mut self) -> Result<(), XembedError> {
        if let Some(menu) = self.menu.take() {
            self.conn.ungrab_pointer(CURRENT_TIME)?;
            self.conn.ungrab_keyboard(CURRENT_TIME)?;
            self.conn.destroy_window(menu.window)?;
            self.conn.flush()?;
        }
        Ok(())
    }

    fn pick(&mut self, row: usize) -> Result<(), XembedError> {
        let action = self
            .menu
            .as_ref()
            .and_then(|m| m.entries.get(row))
            .and_then(Entry::action);
        self.close_menu()?;
        if let Some(action) = action {
            let _ = self.actions.send(action);
        }
        Ok(())
    }
}

fn menu_of(view: &watch::Receiver<TrayView>) -> Vec<Entry> {
    super::menu(&view.borrow())
}

/// Keycodes to keysyms, read once (the menu needs only a few unshifted keys).
struct Keymap {
    first: u8,
    per_code: u8,
    syms: Vec<u32>,
}

impl Keymap {
    fn read(conn: &RustConnection) -> Result<Self, XembedError> {
        let setup = conn.setup();
        let (first, last) = (setup.min_keycode, setup.max_keycode);
        let map = conn
            .get_keyboard_mapping(first, last - first + 1)?
            .reply()?;
        Ok(Self {
            first,
            per_code: map.keysyms_per_keycode,
            syms: map.keysyms,
        })
    }

    fn keysym(&self, code: u8) -> u32 {
        let at = (code.saturating_sub(self.first) as usize) * self.per_code as usize;
        self.syms.get(at).copied().unwrap_or(0)
    }
}
