//! What the tray process hands the window process it starts: where the server's API is, and the
//! loopback control API with its token. Passed in the environment, never on the command line
//! (which other users of the machine can read); both binaries read and write it only here.

const CONTROL_URL: &str = "FM_CONTROL_URL";
const CONTROL_TOKEN: &str = "FM_CONTROL_TOKEN";
const API_PORT: &str = "FM_API_PORT";

/// The link between the two processes of the desktop app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowLink {
    /// The tray process's control API, `http://127.0.0.1:PORT`.
    pub control_url: String,
    /// Bearer token the control API wants.
    pub control_token: String,
    /// The signaling server's HTTP port (the dashboard API).
    pub api_port: u16,
}

impl WindowLink {
    /// The environment to start the window process with.
    pub fn env(&self) -> [(&'static str, String); 3] {
        [
            (CONTROL_URL, self.control_url.clone()),
            (CONTROL_TOKEN, self.control_token.clone()),
            (API_PORT, self.api_port.to_string()),
        ]
    }

    /// Reads the link from this process's environment and removes the token from it, so the
    /// web view's helper processes do not inherit it; `None` when the tray process did not
    /// start this one.
    ///
    /// # Safety
    /// Call before any other thread exists (it changes the environment).
    pub unsafe fn take_from_env() -> Option<Self> {
        let control_url = std::env::var(CONTROL_URL).ok()?;
        let control_token = std::env::var(CONTROL_TOKEN).ok()?;
        let api_port = std::env::var(API_PORT).ok()?.parse().ok()?;
        // SAFETY: the caller promises no other thread runs yet.
        unsafe { std::env::remove_var(CONTROL_TOKEN) };
        Some(Self {
            control_url,
            control_token,
            api_port,
        })
    }
}
