//! The secret in a private meeting's link: what a page sends with its `join-room` to prove it
//! was invited. It is validated here like every other field, and never shown: its `Debug` is
//! redacted, it has no `Display`, so no log line or error text can carry it.

use std::fmt;

use super::ProtocolError;

/// Fewest characters of a key: 22 base64url characters are 132 bits, over the 128 the server's
/// own keys carry at least.
pub const ROOM_KEY_MIN_CHARS: usize = 22;
/// Most characters of a key (a longer text is refused before anything is hashed).
pub const ROOM_KEY_MAX_CHARS: usize = 64;

/// A room key as a client sent it: 22 to 64 characters of URL-safe base64.
#[derive(Clone, PartialEq, Eq)]
pub struct RoomKey(String);

impl RoomKey {
    /// Checks a key's form (not whether it opens anything: that is the core's to decide).
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let well_formed = (ROOM_KEY_MIN_CHARS..=ROOM_KEY_MAX_CHARS).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(ProtocolError::BadRoomKey)
        }
    }

    /// The key's text, for hashing or for the link it goes into.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RoomKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_never_printed() {
        let key = RoomKey::parse("abcdefghijklmnopqrstuv").unwrap();
        assert_eq!(format!("{key:?}"), "RoomKey(<redacted>)");
        assert_eq!(key.expose(), "abcdefghijklmnopqrstuv");
        for bad in [
            "short",
            &"x".repeat(65),
            "abcdefghijklmnopqrstu=",
            "abcdefghijklmnopqrst é",
        ] {
            assert_eq!(RoomKey::parse(bad), Err(ProtocolError::BadRoomKey), "{bad}");
        }
    }
}
