//! What a participant tells the others about their own media: muted, camera on, and which of
//! their streams is a shared screen. The server keeps the last one per peer so a late joiner
//! learns it; it never looks at media itself.

use serde::Serialize;

use super::ProtocolError;

/// Longest stream id accepted, in characters (browsers use 36-38).
pub const STREAM_ID_MAX_CHARS: usize = 64;

/// The id of a `MediaStream` as WebRTC carries it (`msid`), so receivers can tell which of a
/// peer's streams is the screen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct StreamId(Box<str>);

impl StreamId {
    /// Checks a client-supplied stream id: 1-64 characters, no control characters.
    pub fn parse(raw: &str) -> Result<Self, ProtocolError> {
        let chars = raw.chars().count();
        if chars == 0 || chars > STREAM_ID_MAX_CHARS || raw.chars().any(char::is_control) {
            return Err(ProtocolError::BadState);
        }
        Ok(Self(raw.into()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A participant's media state, as the `state` event carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerState {
    /// The microphone is muted (or there is none).
    pub muted: bool,
    /// The camera is sending (false when turned off or missing).
    pub camera: bool,
    /// The stream carrying a shared screen, while one is shared.
    pub screen: Option<StreamId>,
    /// A raised hand (lowered by its owner; a host can ask for it, as for muting).
    pub hand: bool,
}
