//! What only the desktop app needs from the library: the settings the user saves in the window,
//! and how they combine with the command line. The headless server never reads them.

pub mod settings;

pub use settings::{Loaded, Settings};
