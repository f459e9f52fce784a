//! The Socket.IO framing: an event packet's JSON array `["name", data, ...]`, as socketioxide
//! hands it over (the packet type and namespace already stripped).
//!
//! Relaying is the hot path, so a well-formed packet is read in one pass: the payload is taken
//! apart while the array is scanned, and the signal stays raw text. Only a packet that fails
//! that pass is read again, element by element, to name exactly what is wrong.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::client_event::{JoinPayload, SignalPayload};
use super::{ClientEvent, ProtocolError, names};

/// Decodes an event packet's array; `Ok(None)` for an event this server does not handle.
pub fn decode(text: &str) -> Result<Option<ClientEvent>, ProtocolError> {
    match serde_json::from_str::<Packet>(text) {
        Ok(Packet::Join(payload)) => ClientEvent::join(payload).map(Some),
        Ok(Packet::Leave) => Ok(Some(ClientEvent::LeaveRoom)),
        Ok(Packet::Signal(payload)) => ClientEvent::signal(payload).map(Some),
        Ok(Packet::Unknown) => Ok(None),
        Ok(Packet::Rare) | Err(_) => decode_in_two_passes(text),
    }
}

/// The plain reading of a packet: split the array, then decode its payload. [`decode`] must
/// give the same answer for every input (a property test checks it); it is public for that test
/// and the decode benchmark.
#[doc(hidden)]
pub fn decode_in_two_passes(text: &str) -> Result<Option<ClientEvent>, ProtocolError> {
    let parts: Vec<&RawValue> = serde_json::from_str(text).map_err(|_| ProtocolError::BadFrame)?;
    let name: Cow<str> = parts
        .first()
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .ok_or(ProtocolError::BadFrame)?;
    ClientEvent::decode(&name, parts.get(1).copied())
}

/// An event array read in one pass; any shape it does not expect is an error, and the caller
/// falls back to the two-pass reading for the exact message.
enum Packet<'a> {
    Join(JoinPayload<'a>),
    Leave,
    Signal(SignalPayload<'a>),
    /// A known event that is not on the hot path (chat, state, SFU): read in two passes.
    Rare,
    Unknown,
}

impl<'de> Deserialize<'de> for Packet<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(PacketVisitor)
    }
}

struct PacketVisitor;

impl<'de> serde::de::Visitor<'de> for PacketVisitor {
    type Value = Packet<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an event array [name, data, ...]")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        use serde::de::{Error, IgnoredAny};
        let missing = || A::Error::custom("missing element");
        let name: Cow<'de, str> = seq.next_element()?.ok_or_else(missing)?;
        let packet = match name.as_ref() {
            names::JOIN_ROOM => Packet::Join(seq.next_element()?.ok_or_else(missing)?),
            names::SIGNAL => Packet::Signal(seq.next_element()?.ok_or_else(missing)?),
            names::LEAVE_ROOM => Packet::Leave,
            names::CHAT
            | names::STATE
            | names::SFU_OFFER
            | names::SFU_ANSWER
            | names::SFU_WANT
            | names::HOST => Packet::Rare,
            _ => Packet::Unknown,
        };
        // The rest (acks, extra arguments) is not used, but must still be valid JSON.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_packet_decodes_in_one_pass_with_its_payload_raw() {
        let text = r#"["signal",{"to":"AAAAAAAAAAAAAAAA","signal":{"sdp":"v=0"}},"extra"]"#;
        match decode(text) {
            Ok(Some(ClientEvent::Signal { to, signal })) => {
                assert_eq!(
                    to.map(|t| t.to_string()).as_deref(),
                    Some("AAAAAAAAAAAAAAAA")
                );
                assert_eq!(signal.get(), r#"{"sdp":"v=0"}"#);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn every_client_event_is_decoded_like_the_two_pass_reading_says() {
        for name in names::ALL {
            for data in ["{}", r#"{"action":"end"}"#, r#"{"text":"hi"}"#] {
                let text = format!(r#"["{name}",{data}]"#);
                assert_eq!(
                    format!("{:?}", decode(&text)),
                    format!("{:?}", decode_in_two_passes(&text)),
                    "{text}"
                );
            }
            assert!(
                !matches!(
                    decode_in_two_passes(&format!(r#"["{name}",{{}}]"#)),
                    Ok(None)
                ),
                "{name} is not ignored"
            );
        }
    }

    #[test]
    fn a_broken_packet_is_named_by_the_two_pass_reading() {
        assert_eq!(
            decode(r#"["signal"]"#).unwrap_err(),
            ProtocolError::BadSignal
        );
        assert_eq!(
            decode(r#"["join-room",{"roomId":1}]"#).unwrap_err(),
            ProtocolError::BadJoin
        );
        assert_eq!(decode("[").unwrap_err(), ProtocolError::BadFrame);
        assert_eq!(decode("[7]").unwrap_err(), ProtocolError::BadFrame);
        assert!(matches!(
            decode(r#"["chat-message",{"text":"hi"}]"#),
            Ok(None)
        ));
        assert!(matches!(
            decode(r#"["chat",{"text":"hi"}]"#),
            Ok(Some(ClientEvent::Chat { .. }))
        ));
    }
}
