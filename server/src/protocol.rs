//! Wire types of the signaling protocol, shared by both transports.
//!
//! Client events arrive as a name plus an optional raw JSON payload; they are decoded here into
//! [`ClientEvent`] so the core only ever sees validated values. Server events are serialised
//! from [`ServerEvent`]; a relayed `signal` payload stays the raw JSON text it came in as.

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::rooms::{PeerId, RoomId, UserName};

/// Why a client event was refused; its `Display` text is what the client receives in `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// `join-room` payload was not an object with `roomId` and `userName` strings.
    #[error("join-room needs {{roomId, userName}}: roomId and userName are required strings")]
    BadJoin,
    /// The room id was empty or too long.
    #[error("roomId must be a string of 1-128 characters")]
    BadRoomId,
    /// The user name was empty, too long or contained control characters.
    #[error("userName must be a string of 1-64 characters without control characters")]
    BadUserName,
    /// `signal` payload was not an object with `to` and `signal`.
    #[error("signal needs {{to, signal}}: to is a peer id string, signal any JSON value")]
    BadSignal,
    /// Binary attachments are not part of this protocol.
    #[error("binary payloads are not supported")]
    Binary,
    /// A `/ws` frame that is not `{"event": NAME, "data": PAYLOAD}` JSON text.
    #[error("frames must be JSON text {{\"event\": NAME, \"data\": PAYLOAD}}")]
    BadFrame,
}

/// An event a client may send, decoded and validated.
#[derive(Debug)]
pub enum ClientEvent {
    /// Enter a room (moving out of any other) under a display name.
    JoinRoom {
        /// The room to enter.
        room: RoomId,
        /// The name others will see.
        name: UserName,
    },
    /// Leave the current room and stay connected.
    LeaveRoom,
    /// Relay an opaque WebRTC signal to a peer of the same room.
    Signal {
        /// The target, `None` when the id was not even well-formed (it can match nobody).
        to: Option<PeerId>,
        /// The SDP or ICE payload, kept as the exact JSON text received.
        signal: Box<RawValue>,
    },
}

/// Client event names this server knows.
pub mod names {
    /// Client: enter a room.
    pub const JOIN_ROOM: &str = "join-room";
    /// Client: leave the current room.
    pub const LEAVE_ROOM: &str = "leave-room";
    /// Both ways: a WebRTC signal.
    pub const SIGNAL: &str = "signal";
}

#[derive(Deserialize)]
struct JoinPayload<'a> {
    #[serde(rename = "roomId", borrow)]
    room_id: &'a RawValue,
    #[serde(rename = "userName", borrow)]
    user_name: &'a RawValue,
}

#[derive(Deserialize)]
struct SignalPayload<'a> {
    #[serde(borrow)]
    to: &'a RawValue,
    signal: Box<RawValue>,
}

/// Reads a JSON string value, `None` for any other JSON type.
fn json_string(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get()).ok()
}

impl ClientEvent {
    /// Decodes one event; `Ok(None)` for an event name this server does not handle
    /// (ignored, as the original server did, so front-ends with extra events keep working).
    pub fn decode(name: &str, data: Option<&RawValue>) -> Result<Option<Self>, ProtocolError> {
        let event = match name {
            names::JOIN_ROOM => {
                let payload = data
                    .and_then(|d| serde_json::from_str::<JoinPayload>(d.get()).ok())
                    .ok_or(ProtocolError::BadJoin)?;
                Self::join(payload)?
            }
            names::LEAVE_ROOM => ClientEvent::LeaveRoom,
            names::SIGNAL => {
                let payload = data
                    .and_then(|d| serde_json::from_str::<SignalPayload>(d.get()).ok())
                    .ok_or(ProtocolError::BadSignal)?;
                Self::signal(payload)?
            }
            _ => return Ok(None),
        };
        Ok(Some(event))
    }

    /// Decodes a Socket.IO event packet's JSON array `["name", data, ...]`.
    ///
    /// Relaying is the hot path, so a well-formed packet is read in one pass: the payload is
    /// taken apart while the array is scanned, and the signal stays raw text. Only a packet
    /// that fails that pass is read again, element by element, to name exactly what is wrong.
    pub fn decode_packet(text: &str) -> Result<Option<Self>, ProtocolError> {
        match serde_json::from_str::<Packet>(text) {
            Ok(Packet::Join(payload)) => Self::join(payload).map(Some),
            Ok(Packet::Leave) => Ok(Some(ClientEvent::LeaveRoom)),
            Ok(Packet::Signal(payload)) => Self::signal(payload).map(Some),
            Ok(Packet::Unknown) => Ok(None),
            Err(_) => Self::decode_packet_in_two_passes(text),
        }
    }

    /// The plain reading of a packet: split the array, then decode its payload. The one-pass
    /// [`ClientEvent::decode_packet`] must give the same answer for every input (a property test
    /// checks it); it is public for that test and the decode benchmark.
    #[doc(hidden)]
    pub fn decode_packet_in_two_passes(text: &str) -> Result<Option<Self>, ProtocolError> {
        let parts: Vec<&RawValue> =
            serde_json::from_str(text).map_err(|_| ProtocolError::BadFrame)?;
        let name: std::borrow::Cow<str> = parts
            .first()
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .ok_or(ProtocolError::BadFrame)?;
        Self::decode(&name, parts.get(1).copied())
    }

    fn join(payload: JoinPayload) -> Result<Self, ProtocolError> {
        let room = json_string(payload.room_id).ok_or(ProtocolError::BadJoin)?;
        let name = json_string(payload.user_name).ok_or(ProtocolError::BadJoin)?;
        Ok(ClientEvent::JoinRoom {
            room: RoomId::parse(&room)?,
            name: UserName::parse(&name)?,
        })
    }

    fn signal(payload: SignalPayload) -> Result<Self, ProtocolError> {
        let to = json_string(payload.to).ok_or(ProtocolError::BadSignal)?;
        if payload.signal.get() == "null" {
            return Err(ProtocolError::BadSignal);
        }
        Ok(ClientEvent::Signal {
            to: to.parse().ok(),
            signal: payload.signal,
        })
    }
}

/// A Socket.IO event array read in one pass; any shape it does not expect is an error, and
/// the caller falls back to the two-pass reading for the exact message.
enum Packet<'a> {
    Join(JoinPayload<'a>),
    Leave,
    Signal(SignalPayload<'a>),
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
        let name: std::borrow::Cow<'de, str> = seq.next_element()?.ok_or_else(missing)?;
        let packet = match name.as_ref() {
            names::JOIN_ROOM => Packet::Join(seq.next_element()?.ok_or_else(missing)?),
            names::SIGNAL => Packet::Signal(seq.next_element()?.ok_or_else(missing)?),
            names::LEAVE_ROOM => Packet::Leave,
            _ => Packet::Unknown,
        };
        // The rest (acks, extra arguments) is not used, but must still be valid JSON.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(packet)
    }
}

/// One member of a room as other members see it.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    /// The member's peer id.
    pub id: PeerId,
    /// The member's display name.
    #[serde(rename = "userName")]
    pub user_name: UserName,
}

/// An event the server sends to one client.
#[derive(Debug, Clone)]
pub enum ServerEvent {
    /// To a `/ws` client once, right after its connection opens: its own peer id.
    Welcome(PeerId),
    /// To a joiner: the others already in the room, in join order.
    InitUsers(Vec<Member>),
    /// To the members of a room: someone joined.
    UserJoined(Member),
    /// To the members of a room: someone left (bare id string on the wire).
    UserLeft(PeerId),
    /// To a signal's target.
    Signal {
        /// The sender's peer id.
        from: PeerId,
        /// The sender's display name.
        user_name: UserName,
        /// The payload exactly as the sender wrote it.
        signal: std::sync::Arc<RawValue>,
    },
    /// To a client whose event was refused: a human-readable message string.
    Error(String),
}

impl ServerEvent {
    /// The event name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::Welcome(_) => "connect",
            ServerEvent::InitUsers(_) => "init-users",
            ServerEvent::UserJoined(_) => "user-joined",
            ServerEvent::UserLeft(_) => "user-left",
            ServerEvent::Signal { .. } => names::SIGNAL,
            ServerEvent::Error(_) => "error",
        }
    }

    /// The event's payload, to be serialised by the transport.
    pub fn data(&self) -> EventData<'_> {
        EventData(self)
    }

    /// The `/ws` text frame for this event: `{"event": NAME, "data": PAYLOAD}`.
    pub fn to_ws_frame(&self) -> String {
        #[derive(Serialize)]
        struct Frame<'a> {
            event: &'a str,
            data: EventData<'a>,
        }
        let frame = Frame {
            event: self.name(),
            data: self.data(),
        };
        // Serialising these types cannot fail: every map key is a string and no value is a float.
        serde_json::to_string(&frame).unwrap_or_default()
    }
}

/// The payload half of a [`ServerEvent`], serialised as the original server's JSON.
pub struct EventData<'a>(&'a ServerEvent);

impl Serialize for EventData<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ServerEvent::Welcome(id) => {
                let mut st = s.serialize_struct("Welcome", 1)?;
                st.serialize_field("id", id)?;
                st.end()
            }
            ServerEvent::InitUsers(members) => members.serialize(s),
            ServerEvent::UserJoined(member) => member.serialize(s),
            ServerEvent::UserLeft(id) => id.serialize(s),
            ServerEvent::Signal {
                from,
                user_name,
                signal,
            } => {
                let mut st = s.serialize_struct("Signal", 3)?;
                st.serialize_field("from", from)?;
                st.serialize_field("signal", &**signal)?;
                st.serialize_field("userName", user_name)?;
                st.end()
            }
            ServerEvent::Error(message) => message.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn join_is_validated() {
        let ok = ClientEvent::decode(
            "join-room",
            Some(&raw(r#"{"roomId":" a ","userName":"Ann"}"#)),
        );
        assert!(
            matches!(ok, Ok(Some(ClientEvent::JoinRoom { ref room, .. })) if room.as_str() == "a")
        );
        for bad in [
            r#"{"roomId":"a"}"#,
            r#"{"roomId":1,"userName":"Ann"}"#,
            r#"{"roomId":"a","userName":null}"#,
            r#""a""#,
            "[]",
        ] {
            assert_eq!(
                ClientEvent::decode("join-room", Some(&raw(bad))).unwrap_err(),
                ProtocolError::BadJoin,
                "{bad}"
            );
        }
        assert_eq!(
            ClientEvent::decode("join-room", None).unwrap_err(),
            ProtocolError::BadJoin
        );
    }

    #[test]
    fn signal_payload_is_kept_byte_for_byte() {
        let text = r#"{"type":"offer", "sdp":"v=0\r\n"}"#;
        let event = ClientEvent::decode(
            "signal",
            Some(&raw(&format!(
                r#"{{"to":"AAAAAAAAAAAAAAAA","signal":{text}}}"#
            ))),
        );
        match event {
            Ok(Some(ClientEvent::Signal { to, signal })) => {
                assert!(to.is_some());
                assert_eq!(signal.get(), text);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_events_are_ignored() {
        assert!(matches!(ClientEvent::decode("chat", None), Ok(None)));
    }

    #[test]
    fn server_events_serialise_like_the_original() {
        let id: PeerId = "AAAAAAAAAAAAAAAA".parse().unwrap();
        assert_eq!(
            ServerEvent::UserLeft(id).to_ws_frame(),
            r#"{"event":"user-left","data":"AAAAAAAAAAAAAAAA"}"#
        );
        let signal = ServerEvent::Signal {
            from: id,
            user_name: UserName::parse("Ann").unwrap(),
            signal: raw(r#"{"candidate":"x"}"#).into(),
        };
        assert_eq!(
            serde_json::to_string(&signal.data()).unwrap(),
            r#"{"from":"AAAAAAAAAAAAAAAA","signal":{"candidate":"x"},"userName":"Ann"}"#
        );
    }
}
