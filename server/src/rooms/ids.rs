//! Identifiers and names, validated once at the edge so the core never sees a bad one.

use std::fmt;
use std::str::FromStr;

use socketioxide::socket::Sid;

use crate::protocol::ProtocolError;

/// A connected peer: the Socket.IO socket id, or an id of the same format for `/ws` peers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(Sid);

impl PeerId {
    /// A fresh random id, for peers that do not come with a Socket.IO socket id.
    pub fn random() -> Self {
        Self(Sid::new())
    }
}

impl From<Sid> for PeerId {
    fn from(sid: Sid) -> Self {
        Self(sid)
    }
}

impl FromStr for PeerId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Sid::from_str(s).map(Self).map_err(|_| ())
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl serde::Serialize for PeerId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
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
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > ROOM_ID_MAX_CHARS {
            return Err(ProtocolError::BadRoomId);
        }
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
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > USER_NAME_MAX_CHARS || trimmed.chars().any(char::is_control) {
            return Err(ProtocolError::BadUserName);
        }
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
        assert_eq!(id.to_string().parse::<PeerId>(), Ok(id));
        assert!("not an id".parse::<PeerId>().is_err());
    }
}
