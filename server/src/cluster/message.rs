//! What travels between nodes on Redis channels, as JSON: joins and leaves (written by the Lua
//! scripts, numbered per room), and chat, states and signals (written here). Everything read is
//! validated again as if a client had sent it: a node trusts Redis no more than a socket.

use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::namespace::Namespace;
use crate::hub::cluster::{CrossSignal, Effect, NodeId, Remote, RemoteMember, RoomChat, RoomState};
use crate::wire::{ChatText, ClientEvent, PeerId, RoomId, UserName};

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
            },
            seq: m.seq.ok_or_else(|| invalid("no seq"))? as u64,
        },
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
    };
    Some((channel, serde_json::to_string(&message).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
