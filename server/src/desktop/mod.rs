//! What only the desktop app needs from the library: the settings the user saves in the window,
//! how they combine with the command line, and what its tray process tells its window
//! process. The headless server never reads them.

pub mod settings;
pub mod window_link;

pub use settings::{Loaded, Settings};
pub use window_link::WindowLink;
