//! Chat text, validated once at the edge: it is relayed to a room as written, never stored.

use std::fmt;
use std::sync::Arc;

use super::ProtocolError;
use super::ids::trimmed_within;

/// Longest chat message accepted, in characters.
pub const CHAT_MAX_CHARS: usize = 2000;

/// A chat message's text: 1-2,000 characters after trimming. Line breaks are kept (people paste
/// several lines); the page shows it as text, never as HTML. Shared, since every member of the
/// room gets the same one.
#[derive(Clone, PartialEq, Eq)]
pub struct ChatText(Arc<str>);

impl ChatText {
    /// Trims and checks a client-supplied message.
    pub fn parse(raw: &str) -> Result<Self, ProtocolError> {
        let trimmed = trimmed_within(raw, CHAT_MAX_CHARS).ok_or(ProtocolError::BadChat)?;
        Ok(Self(trimmed.into()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Chat contents stay out of logs (`Debug` shows the length only), like signal contents.
impl fmt::Debug for ChatText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChatText({} chars)", self.0.chars().count())
    }
}

impl serde::Serialize for ChatText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_text_is_trimmed_bounded_and_never_shown_in_debug() {
        assert_eq!(
            ChatText::parse("  hi\nthere ").unwrap().as_str(),
            "hi\nthere"
        );
        assert!(ChatText::parse(" \n ").is_err());
        assert!(ChatText::parse(&"é".repeat(2000)).is_ok());
        assert_eq!(
            ChatText::parse(&"é".repeat(2001)),
            Err(ProtocolError::BadChat)
        );
        let secret = ChatText::parse("the password is swordfish").unwrap();
        assert_eq!(format!("{secret:?}"), "ChatText(25 chars)");
    }
}
