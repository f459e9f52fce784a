//! Identifiers and names, validated once at the edge so the core never sees a bad one.

use std::fmt;
use std::str::FromStr;

use rand::RngExt;

use super::ProtocolError;

/// Characters of a peer id.
const PEER_ID_LEN: usize = 16;
/// URL-safe base64's alphabet: a peer id is 16 of these, 96 random bits.
const PEER_ID_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A connected peer. Socket.IO peers keep the socket id their client library shows as
/// `socket.id` (the front-ends address signals with it); `/ws` peers get a random id of the same
/// format, so an id never tells which transport a peer uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId([u8; PEER_ID_LEN]);

/// A text that is not 16 URL-safe base64 characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a peer id is 16 characters of A-Z, a-z, 0-9, - and _")]
pub struct BadPeerId;

impl PeerId {
    /// A fresh random id.
    pub fn random() -> Self {
        let mut bytes = [0u8; PEER_ID_LEN];
        rand::rng().fill(&mut bytes);
        Self(bytes.map(|b| PEER_ID_ALPHABET[usize::from(b & 63)]))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only alphabet bytes (ASCII) ever get in: `random` and `from_str` check.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl FromStr for PeerId {
    type Err = BadPeerId;
    fn from_str(s: &str) -> Result<Self, BadPeerId> {
        let bytes: [u8; PEER_ID_LEN] = s.as_bytes().try_into().map_err(|_| BadPeerId)?;
        if bytes.iter().all(|b| PEER_ID_ALPHABET.contains(b)) {
            Ok(Self(bytes))
        } else {
            Err(BadPeerId)
        }
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for PeerId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `raw` trimmed, if it has 1 to `max_chars` characters then: the rule every client text shares.
pub(super) fn trimmed_within(raw: &str, max_chars: usize) -> Option<&str> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    (chars > 0 && chars <= max_chars).then_some(trimmed)
}

/// Longest room id accepted, in characters.
pub const ROOM_ID_MAX_CHARS: usize = 128;
/// Longest user name accepted, in characters.
pub const USER_NAME_MAX_CHARS: usize = 64;

/// A room name: 1-128 characters after trimming.
#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct RoomId(Box<str>);

impl RoomId {
    /// Trims and checks a client-supplied room id.
    pub fn parse(raw: &str) -> Result<Self, ProtocolError> {
        let trimmed = trimmed_within(raw, ROOM_ID_MAX_CHARS).ok_or(ProtocolError::BadRoomId)?;
        Ok(Self(trimmed.into()))
    }

    /// The room id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name: 1-64 characters after trimming, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct UserName(Box<str>);

impl UserName {
    /// Trims and checks a client-supplied user name.
    pub fn parse(raw: &str) -> Result<Self, ProtocolError> {
        let trimmed = trimmed_within(raw, USER_NAME_MAX_CHARS)
            .filter(|name| !name.chars().any(char::is_control))
            .ok_or(ProtocolError::BadUserName)?;
        Ok(Self(trimmed.into()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for UserName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_are_trimmed_and_bounded() {
        assert_eq!(RoomId::parse("  standup ").unwrap().as_str(), "standup");
        assert!(RoomId::parse("   ").is_err());
        assert!(RoomId::parse(&"é".repeat(128)).is_ok());
        assert!(RoomId::parse(&"é".repeat(129)).is_err());
    }

    #[test]
    fn user_names_reject_control_characters() {
        assert_eq!(UserName::parse(" Ann ").unwrap().as_str(), "Ann");
        assert!(UserName::parse("A\u{7}nn").is_err());
        assert!(UserName::parse("Ann\nBob").is_err());
        assert!(UserName::parse(&"x".repeat(65)).is_err());
        assert!(UserName::parse("").is_err());
    }

    #[test]
    fn peer_ids_round_trip_and_reject_garbage() {
        let id = PeerId::random();
        assert_eq!(id.as_str().len(), 16);
        assert_eq!(id.to_string().parse::<PeerId>(), Ok(id));
        assert_ne!(PeerId::random(), id);
        for bad in [
            "not an id",
            "AAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAA+",
            "AAAAAAAAAAAAAAé",
        ] {
            assert_eq!(bad.parse::<PeerId>(), Err(BadPeerId), "{bad}");
        }
    }
}
