//! Events a client may send, decoded from an event name and its JSON payload, whichever framing
//! carried them.

use serde::Deserialize;
use serde_json::value::RawValue;

use std::collections::BTreeMap;

use super::{
    ChatText, HostAction, PeerId, PeerState, ProtocolError, RoomId, RoomKey, SfuRequest, StreamId,
    UserName,
};

/// An event a client may send, decoded and validated.
#[derive(Debug)]
pub enum ClientEvent {
    /// Enter a room (moving out of any other) under a display name.
    JoinRoom {
        /// The room to enter.
        room: RoomId,
        /// The name others will see.
        name: UserName,
        /// The page can send and receive its media through the server (`sfu: true`); the
        /// original front-ends cannot, and do not say so.
        sfu: bool,
        /// The key from the meeting's invitation link (`key`), for a private room: the guest
        /// key, or the host key, which makes its holder the meeting's host.
        key: Option<RoomKey>,
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
    /// Say something to everyone in the room.
    Chat { text: ChatText },
    /// Tell the room about one's own media (muted, camera, shared screen).
    State(PeerState),
    /// Talk to the server's media forwarder.
    Sfu(SfuRequest),
    /// A private meeting's host runs it.
    Host(HostAction),
}

/// Client event names this server knows.
pub mod names {
    /// Client: enter a room.
    pub const JOIN_ROOM: &str = "join-room";
    /// Client: leave the current room.
    pub const LEAVE_ROOM: &str = "leave-room";
    /// Both ways: a WebRTC signal.
    pub const SIGNAL: &str = "signal";
    /// Both ways: a chat message.
    pub const CHAT: &str = "chat";
    /// Both ways: a participant's media state.
    pub const STATE: &str = "state";
    /// Both ways: an SDP offer on a page's connection to the server.
    pub const SFU_OFFER: &str = "sfu-offer";
    /// Both ways: an SDP answer on a page's connection to the server.
    pub const SFU_ANSWER: &str = "sfu-answer";
    /// Client: the quality wanted of each stream received through the server.
    pub const SFU_WANT: &str = "sfu-want";
    /// Client: a private meeting's host runs it.
    pub const HOST: &str = "host";
    /// Every event a client may send: each framing decodes exactly these.
    pub const ALL: [&str; 9] = [
        JOIN_ROOM, LEAVE_ROOM, SIGNAL, CHAT, STATE, SFU_OFFER, SFU_ANSWER, SFU_WANT, HOST,
    ];
}

/// `join-room`'s payload, fields still raw so a wrong type is told apart from a bad value.
#[derive(Deserialize)]
pub(super) struct JoinPayload<'a> {
    #[serde(rename = "roomId", borrow)]
    room_id: &'a RawValue,
    #[serde(rename = "userName", borrow)]
    user_name: &'a RawValue,
    #[serde(default)]
    sfu: Option<bool>,
    #[serde(default)]
    key: Option<String>,
}

/// `signal`'s payload; the signal itself is never parsed, only relayed.
#[derive(Deserialize)]
pub(super) struct SignalPayload<'a> {
    #[serde(borrow)]
    to: &'a RawValue,
    signal: Box<RawValue>,
}

/// `chat`'s payload.
#[derive(Deserialize)]
struct ChatPayload<'a> {
    #[serde(borrow)]
    text: &'a RawValue,
}

/// `sfu-offer` and `sfu-answer`'s payload.
#[derive(Deserialize)]
struct SdpPayload {
    sdp: String,
}

/// `sfu-want`'s payload.
#[derive(Deserialize)]
struct WantPayload {
    streams: BTreeMap<String, String>,
}

/// `state`'s payload; other fields are ignored, so pages can grow it.
#[derive(Deserialize)]
struct StatePayload {
    muted: bool,
    camera: bool,
    #[serde(default)]
    screen: Option<String>,
    #[serde(default)]
    hand: bool,
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
            names::CHAT => {
                let text = data
                    .and_then(|d| serde_json::from_str::<ChatPayload>(d.get()).ok())
                    .and_then(|payload| json_string(payload.text))
                    .ok_or(ProtocolError::BadChat)?;
                ClientEvent::Chat {
                    text: ChatText::parse(&text)?,
                }
            }
            names::STATE => {
                let payload = data
                    .and_then(|d| serde_json::from_str::<StatePayload>(d.get()).ok())
                    .ok_or(ProtocolError::BadState)?;
                ClientEvent::State(PeerState {
                    muted: payload.muted,
                    camera: payload.camera,
                    screen: payload.screen.as_deref().map(StreamId::parse).transpose()?,
                    hand: payload.hand,
                })
            }
            names::SFU_OFFER | names::SFU_ANSWER => {
                let sdp = data
                    .and_then(|d| serde_json::from_str::<SdpPayload>(d.get()).ok())
                    .ok_or(ProtocolError::BadSfu)?
                    .sdp;
                ClientEvent::Sfu(if name == names::SFU_OFFER {
                    SfuRequest::Offer(sdp)
                } else {
                    SfuRequest::Answer(sdp)
                })
            }
            names::SFU_WANT => {
                let want = data
                    .and_then(|d| serde_json::from_str::<WantPayload>(d.get()).ok())
                    .ok_or(ProtocolError::BadSfu)?;
                ClientEvent::Sfu(SfuRequest::want(want.streams)?)
            }
            names::HOST => ClientEvent::Host(HostAction::decode(
                data.ok_or(ProtocolError::BadHost)?.get(),
            )?),
            _ => return Ok(None),
        };
        Ok(Some(event))
    }

    pub(super) fn join(payload: JoinPayload) -> Result<Self, ProtocolError> {
        let room = json_string(payload.room_id).ok_or(ProtocolError::BadJoin)?;
        let name = json_string(payload.user_name).ok_or(ProtocolError::BadJoin)?;
        Ok(ClientEvent::JoinRoom {
            room: RoomId::parse(&room)?,
            name: UserName::parse(&name)?,
            sfu: payload.sfu.unwrap_or(false),
            key: payload.key.as_deref().map(RoomKey::parse).transpose()?,
        })
    }

    pub(super) fn signal(payload: SignalPayload) -> Result<Self, ProtocolError> {
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
        assert!(matches!(
            ClientEvent::decode("chat-message", None),
            Ok(None)
        ));
    }

    #[test]
    fn join_says_whether_the_page_can_use_the_sfu() {
        let join = |json: &str| ClientEvent::decode("join-room", Some(&raw(json)));
        assert!(matches!(
            join(r#"{"roomId":"r","userName":"A"}"#),
            Ok(Some(ClientEvent::JoinRoom { sfu: false, .. }))
        ));
        assert!(matches!(
            join(r#"{"roomId":"r","userName":"A","sfu":true}"#),
            Ok(Some(ClientEvent::JoinRoom { sfu: true, .. }))
        ));
        assert_eq!(
            join(r#"{"roomId":"r","userName":"A","sfu":"yes"}"#).unwrap_err(),
            ProtocolError::BadJoin
        );
    }

    #[test]
    fn join_carries_an_invitation_key_when_given() {
        let join = |json: &str| ClientEvent::decode("join-room", Some(&raw(json)));
        let key = "abcdefghijklmnopqrstuvwx";
        assert!(matches!(
            join(&format!(r#"{{"roomId":"r","userName":"A","key":"{key}"}}"#)),
            Ok(Some(ClientEvent::JoinRoom { key: Some(ref k), .. })) if k.expose() == key
        ));
        assert!(matches!(
            join(r#"{"roomId":"r","userName":"A","key":null}"#),
            Ok(Some(ClientEvent::JoinRoom { key: None, .. }))
        ));
        assert_eq!(
            join(r#"{"roomId":"r","userName":"A","key":"too-short"}"#).unwrap_err(),
            ProtocolError::BadRoomKey
        );
        assert_eq!(
            join(r#"{"roomId":"r","userName":"A","key":7}"#).unwrap_err(),
            ProtocolError::BadJoin
        );
    }

    #[test]
    fn sfu_events_are_validated() {
        let sfu = |name: &str, json: &str| ClientEvent::decode(name, Some(&raw(json)));
        assert!(matches!(
            sfu("sfu-offer", r#"{"sdp":"v=0"}"#),
            Ok(Some(ClientEvent::Sfu(SfuRequest::Offer(ref sdp)))) if sdp == "v=0"
        ));
        assert!(matches!(
            sfu("sfu-answer", r#"{"sdp":"v=0"}"#),
            Ok(Some(ClientEvent::Sfu(SfuRequest::Answer(_))))
        ));
        match sfu("sfu-want", r#"{"streams":{"abc~1":"high","abc~2":"off"}}"#) {
            Ok(Some(ClientEvent::Sfu(SfuRequest::Want(want)))) => assert_eq!(want.len(), 2),
            other => panic!("unexpected {other:?}"),
        }
        for (name, bad) in [
            ("sfu-offer", r#"{"sdp":1}"#),
            ("sfu-answer", "{}"),
            ("sfu-want", r#"{"streams":{"x":"ultra"}}"#),
            ("sfu-want", r#"{"streams":{"":"high"}}"#),
            ("sfu-want", r#"{"streams":[]}"#),
        ] {
            assert_eq!(
                sfu(name, bad).unwrap_err(),
                ProtocolError::BadSfu,
                "{name} {bad}"
            );
        }
        let many: Vec<String> = (0..65).map(|i| format!(r#""s{i}":"low""#)).collect();
        let many = format!(r#"{{"streams":{{{}}}}}"#, many.join(","));
        assert_eq!(sfu("sfu-want", &many).unwrap_err(), ProtocolError::BadSfu);
    }

    #[test]
    fn chat_and_state_are_validated() {
        let chat = ClientEvent::decode("chat", Some(&raw(r#"{"text":" hi "}"#)));
        assert!(matches!(chat, Ok(Some(ClientEvent::Chat { ref text })) if text.as_str() == "hi"));
        for bad in [r#"{"text":""}"#, r#"{"text":5}"#, "{}", r#""hi""#, "null"] {
            assert_eq!(
                ClientEvent::decode("chat", Some(&raw(bad))).unwrap_err(),
                ProtocolError::BadChat,
                "{bad}"
            );
        }
        let long = format!(r#"{{"text":"{}"}}"#, "x".repeat(2001));
        assert_eq!(
            ClientEvent::decode("chat", Some(&raw(&long))).unwrap_err(),
            ProtocolError::BadChat
        );
        let state = ClientEvent::decode(
            "state",
            Some(&raw(
                r#"{"muted":true,"camera":false,"screen":"{abc}","extra":1}"#,
            )),
        );
        match state {
            Ok(Some(ClientEvent::State(state))) => {
                assert!(state.muted && !state.camera);
                assert_eq!(state.screen.as_ref().map(StreamId::as_str), Some("{abc}"));
            }
            other => panic!("unexpected {other:?}"),
        }
        for bad in [
            r#"{"muted":1,"camera":false}"#,
            r#"{"camera":false}"#,
            r#"{"muted":true,"camera":false,"screen":""}"#,
            r#"{"muted":true,"camera":false,"screen":7}"#,
            "[]",
        ] {
            assert_eq!(
                ClientEvent::decode("state", Some(&raw(bad))).unwrap_err(),
                ProtocolError::BadState,
                "{bad}"
            );
        }
        let too_long = format!(
            r#"{{"muted":true,"camera":true,"screen":"{}"}}"#,
            "s".repeat(65)
        );
        assert_eq!(
            ClientEvent::decode("state", Some(&raw(&too_long))).unwrap_err(),
            ProtocolError::BadState
        );
    }
}
