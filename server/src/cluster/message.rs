//! What travels between nodes on Redis channels, as JSON: joins and leaves (written by the Lua
//! scripts, numbered per room), and chat, states and signals (written here). Everything read is
//! validated again as if a client had sent it: a node trusts Redis no more than a socket.

use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::namespace::Namespace;
use crate::hub::cluster::{
    CrossSfuReply, CrossSfuRequest, CrossSignal, Effect, MediaReply, NodeId, Remote, RemoteMember,
    RoomChat, RoomState,
};
use crate::wire::{
    ChatText, ClientEvent, ErrorReply, PeerId, RoomId, SfuReply, SfuRequest, UserName,
    names as client_names,
};

/// What this node writes. (Read back through `Incoming`: serde cannot buffer a raw JSON value
/// inside an internally tagged enum.)
#[derive(Serialize)]
#[serde(tag = "t", rename_all = "kebab-case")]
enum Message {
    Chat {
        room: String,
        from: String,
        name: String,
        text: String,
        at: u64,
    },
    State {
        room: String,
        from: String,
        state: Box<RawValue>,
    },
    Signal {
        room: String,
        to: String,
        from: String,
        name: String,
        signal: Box<RawValue>,
    },
    /// A page's `sfu-offer`, `sfu-answer` or `sfu-want`, as the page sent it.
    SfuRequest {
        room: String,
        from: String,
        event: &'static str,
        data: Box<RawValue>,
    },
    /// The forwarder's event to a page, as the page will get it.
    SfuReply {
        room: String,
        to: String,
        event: &'static str,
        data: Box<RawValue>,
    },
}

/// Any message, as read: the fields its kind `t` needs are checked by `decode`.
#[derive(Deserialize)]
struct Incoming<'a> {
    t: &'a str,
    room: String,
    peer: Option<String>,
    name: Option<String>,
    node: Option<String>,
    /// Lua's cjson writes numbers as floats.
    seq: Option<f64>,
    from: Option<String>,
    to: Option<String>,
    text: Option<String>,
    at: Option<u64>,
    #[serde(borrow)]
    state: Option<&'a RawValue>,
    #[serde(borrow)]
    signal: Option<&'a RawValue>,
    /// Lua's cjson writes an empty list as `{}`.
    peers: Option<serde_json::Value>,
    home: Option<String>,
    sfu: Option<bool>,
    event: Option<&'a str>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// Why a message from another node was not used.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("not a cluster message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a field did not validate: {0}")]
    Invalid(String),
}

fn invalid(what: impl std::fmt::Display) -> MessageError {
    MessageError::Invalid(what.to_string())
}

fn peer(raw: &str) -> Result<PeerId, MessageError> {
    PeerId::from_str(raw).map_err(invalid)
}

fn room(raw: &str) -> Result<RoomId, MessageError> {
    RoomId::parse(raw).map_err(invalid)
}

fn name(raw: &str) -> Result<UserName, MessageError> {
    UserName::parse(raw).map_err(invalid)
}

/// Reads one message from another node.
pub fn decode(payload: &[u8]) -> Result<Remote, MessageError> {
    let m: Incoming = serde_json::from_slice(payload)?;
    let need =
        |field: Option<String>, what: &str| field.ok_or_else(|| invalid(format!("no {what}")));
    let room = room(&m.room)?;
    Ok(match m.t {
        "joined" => Remote::Joined {
            room,
            member: RemoteMember {
                peer: peer(&need(m.peer, "peer")?)?,
                name: name(&need(m.name, "name")?)?,
                node: NodeId::from(need(m.node, "node")?),
                sfu: m.sfu.unwrap_or(false),
            },
            seq: m.seq.ok_or_else(|| invalid("no seq"))? as u64,
        },
        "media" => Remote::MediaHome {
            room,
            home: NodeId::from(need(m.home, "home")?),
            seq: m.seq.ok_or_else(|| invalid("no seq"))? as u64,
        },
        "sfu-request" => {
            let event = m.event.ok_or_else(|| invalid("no event"))?;
            let Ok(Some(ClientEvent::Sfu(request))) = ClientEvent::decode(event, m.data) else {
                return Err(invalid("media request"));
            };
            Remote::SfuRequest(CrossSfuRequest {
                room,
                from: peer(&need(m.from, "from")?)?,
                request,
            })
        }
        "sfu-reply" => Remote::SfuReply(CrossSfuReply {
            room,
            to: peer(&need(m.to, "to")?)?,
            reply: media_reply(
                m.event.ok_or_else(|| invalid("no event"))?,
                m.data.ok_or_else(|| invalid("no data"))?,
            )?,
        }),
        "left" => Remote::Left {
            room,
            peer: peer(&need(m.peer, "peer")?)?,
            seq: m.seq.ok_or_else(|| invalid("no seq"))? as u64,
        },
        "chat" => Remote::Chat(RoomChat {
            room,
            from: peer(&need(m.from, "from")?)?,
            user_name: name(&need(m.name, "name")?)?,
            text: ChatText::parse(&need(m.text, "text")?).map_err(invalid)?,
            at: m.at.ok_or_else(|| invalid("no at"))?,
        }),
        "state" => {
            let Ok(Some(ClientEvent::State(state))) = ClientEvent::decode("state", m.state) else {
                return Err(invalid("state"));
            };
            Remote::State(RoomState {
                room,
                from: peer(&need(m.from, "from")?)?,
                state,
            })
        }
        "signal" => Remote::Signal(CrossSignal {
            room,
            to: peer(&need(m.to, "to")?)?,
            from: peer(&need(m.from, "from")?)?,
            user_name: name(&need(m.name, "name")?)?,
            signal: Arc::from(
                RawValue::from_string(
                    m.signal
                        .ok_or_else(|| invalid("no signal"))?
                        .get()
                        .to_owned(),
                )
                .map_err(MessageError::Json)?,
            ),
        }),
        "members" => Remote::Members {
            room,
            node: NodeId::from(need(m.node, "node")?),
            peers: match m.peers {
                Some(serde_json::Value::Array(list)) => list
                    .iter()
                    .map(|p| p.as_str().map(peer).unwrap_or_else(|| Err(invalid("peer"))))
                    .collect::<Result<_, _>>()?,
                _ => Vec::new(),
            },
            seq: m.seq.ok_or_else(|| invalid("no seq"))? as u64,
        },
        other => return Err(invalid(format!("unknown kind {other:?}"))),
    })
}

/// A forwarder's event to a page, read back from its name and payload.
fn media_reply(event: &str, data: &RawValue) -> Result<MediaReply, MessageError> {
    #[derive(Deserialize)]
    struct Sdp {
        sdp: String,
    }
    #[derive(Deserialize)]
    struct Failed {
        reason: String,
    }
    #[derive(Deserialize)]
    struct Layers {
        stream: String,
        active: Vec<String>,
    }
    let json = data.get();
    Ok(match event {
        client_names::SFU_OFFER => {
            MediaReply::Sfu(SfuReply::Offer(serde_json::from_str::<Sdp>(json)?.sdp))
        }
        client_names::SFU_ANSWER => {
            MediaReply::Sfu(SfuReply::Answer(serde_json::from_str::<Sdp>(json)?.sdp))
        }
        "sfu-failed" => MediaReply::Sfu(SfuReply::Failed(
            serde_json::from_str::<Failed>(json)?.reason,
        )),
        "sfu-layers" => {
            let Layers { stream, active } = serde_json::from_str(json)?;
            MediaReply::Sfu(SfuReply::Layers { stream, active })
        }
        "error" => MediaReply::Error(serde_json::from_str::<ErrorReply>(json)?),
        other => return Err(invalid(format!("unknown media reply {other:?}"))),
    })
}

/// A page's request as the page wrote it: its event name and payload.
fn media_request(request: &SfuRequest) -> Option<(&'static str, Box<RawValue>)> {
    let (event, data) = match request {
        SfuRequest::Offer(sdp) => (client_names::SFU_OFFER, serde_json::json!({ "sdp": sdp })),
        SfuRequest::Answer(sdp) => (client_names::SFU_ANSWER, serde_json::json!({ "sdp": sdp })),
        SfuRequest::Want(streams) => (
            client_names::SFU_WANT,
            serde_json::json!({ "streams": streams }),
        ),
    };
    Some((event, serde_json::value::to_raw_value(&data).ok()?))
}

/// The channel and payload that carry a local effect to the other nodes; `None` for the
/// effects the Lua scripts publish themselves (leaves).
pub fn encode(effect: &Effect, ns: &Namespace) -> Option<(String, String)> {
    let (channel, message) = match effect {
        Effect::Left { .. } => return None,
        Effect::Chat(RoomChat {
            room,
            from,
            user_name,
            text,
            at,
        }) => (
            ns.room_channel(room),
            Message::Chat {
                room: room.to_string(),
                from: from.to_string(),
                name: user_name.as_str().to_owned(),
                text: text.as_str().to_owned(),
                at: *at,
            },
        ),
        Effect::State(RoomState { room, from, state }) => (
            ns.room_channel(room),
            Message::State {
                room: room.to_string(),
                from: from.to_string(),
                state: serde_json::value::to_raw_value(state).ok()?,
            },
        ),
        Effect::Signal {
            node,
            signal:
                CrossSignal {
                    room,
                    to,
                    from,
                    user_name,
                    signal,
                },
        } => (
            ns.node_channel(node),
            Message::Signal {
                room: room.to_string(),
                to: to.to_string(),
                from: from.to_string(),
                name: user_name.as_str().to_owned(),
                signal: RawValue::from_string(signal.get().to_owned()).ok()?,
            },
        ),
        Effect::SfuRequest {
            node,
            request:
                CrossSfuRequest {
                    room,
                    from,
                    request,
                },
        } => {
            let (event, data) = media_request(request)?;
            (
                ns.node_channel(node),
                Message::SfuRequest {
                    room: room.to_string(),
                    from: from.to_string(),
                    event,
                    data,
                },
            )
        }
        Effect::SfuReply {
            node,
            reply: CrossSfuReply { room, to, reply },
        } => {
            let event = reply.clone().event();
            // An error crosses with its code: `{text, code}`, not the page's payload.
            let data = match reply {
                MediaReply::Error(error) => serde_json::value::to_raw_value(error),
                MediaReply::Sfu(_) => serde_json::value::to_raw_value(&event.data()),
            };
            (
                ns.node_channel(node),
                Message::SfuReply {
                    room: room.to_string(),
                    to: to.to_string(),
                    event: event.name(),
                    data: data.ok()?,
                },
            )
        }
    };
    Some((channel, serde_json::to_string(&message).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ErrorCode;

    #[test]
    fn what_the_lua_scripts_publish_decodes() {
        let peer = PeerId::random();
        let joined = format!(
            r#"{{"t":"joined","room":"standup","peer":"{peer}","name":"Ann","node":"n1","seq":7}}"#
        );
        match decode(joined.as_bytes()).unwrap() {
            Remote::Joined { room, member, seq } => {
                assert_eq!(
                    (room.as_str(), member.name.as_str(), &*member.node, seq),
                    ("standup", "Ann", "n1", 7)
                );
                assert_eq!(member.peer, peer);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_signal_round_trips_and_bad_fields_are_refused() {
        let signal: Box<RawValue> = RawValue::from_string(r#"{"sdp":"v=0"}"#.into()).unwrap();
        let effect = Effect::Signal {
            node: "n3".into(),
            signal: CrossSignal {
                room: RoomId::parse("standup").unwrap(),
                to: PeerId::random(),
                from: PeerId::random(),
                user_name: UserName::parse("Bob").unwrap(),
                signal: Arc::from(signal),
            },
        };
        let (channel, payload) = encode(&effect, &Namespace::new("fm", 0)).unwrap();
        assert_eq!(channel, "fm:0:node:n3");
        assert!(matches!(
            decode(payload.as_bytes()).unwrap(),
            Remote::Signal { .. }
        ));
        let forged = payload.replace("standup", "");
        assert!(
            decode(forged.as_bytes()).is_err(),
            "an empty room id is refused"
        );
        assert!(decode(b"{\"t\":\"nonsense\"}").is_err());
    }

    #[test]
    fn media_requests_and_replies_round_trip_and_are_validated_as_a_page_s() {
        let room = RoomId::parse("standup").unwrap();
        let (from, to) = (PeerId::random(), PeerId::random());
        let ns = Namespace::new("fm", 0);
        let streams: std::collections::BTreeMap<_, _> = [(
            crate::wire::StreamId::parse("abc~1").unwrap(),
            crate::wire::Quality::Low,
        )]
        .into();
        for request in [
            SfuRequest::Offer("v=0".into()),
            SfuRequest::Answer("v=0".into()),
            SfuRequest::Want(streams),
        ] {
            let effect = Effect::SfuRequest {
                node: "n2".into(),
                request: CrossSfuRequest {
                    room: room.clone(),
                    from,
                    request: request.clone(),
                },
            };
            let (channel, payload) = encode(&effect, &ns).unwrap();
            assert_eq!(channel, "fm:0:node:n2");
            match decode(payload.as_bytes()).unwrap() {
                Remote::SfuRequest(r) => assert_eq!((r.from, r.request), (from, request)),
                other => panic!("{other:?}"),
            }
        }
        for reply in [
            MediaReply::Sfu(SfuReply::Offer("v=0".into())),
            MediaReply::Sfu(SfuReply::Answer("v=0".into())),
            MediaReply::Sfu(SfuReply::Failed("why".into())),
            MediaReply::Sfu(SfuReply::Layers {
                stream: "s".into(),
                active: vec!["l".into()],
            }),
            MediaReply::Error(ErrorReply::new(ErrorCode::MediaRefused, "too many tracks")),
        ] {
            let effect = Effect::SfuReply {
                node: "n1".into(),
                reply: CrossSfuReply {
                    room: room.clone(),
                    to,
                    reply: reply.clone(),
                },
            };
            let (_, payload) = encode(&effect, &ns).unwrap();
            match decode(payload.as_bytes()).unwrap() {
                Remote::SfuReply(r) => assert_eq!((r.to, r.reply), (to, reply)),
                other => panic!("{other:?}"),
            }
        }
        let forged = format!(
            r#"{{"t":"sfu-request","room":"standup","from":"{from}","event":"sfu-want","data":{{"streams":{{"x":"ultra"}}}}}}"#
        );
        assert!(decode(forged.as_bytes()).is_err(), "checked as a page's");
        let other = format!(
            r#"{{"t":"sfu-request","room":"standup","from":"{from}","event":"join-room","data":{{"roomId":"x","userName":"y"}}}}"#
        );
        assert!(decode(other.as_bytes()).is_err(), "only media requests");
        let home = r#"{"t":"media","room":"standup","home":"n3","seq":9}"#;
        assert!(matches!(
            decode(home.as_bytes()).unwrap(),
            Remote::MediaHome { seq: 9, .. }
        ));
    }
}
