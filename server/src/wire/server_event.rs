//! Events the server sends, serialised exactly as the original server's JSON; a relayed
//! `signal` payload stays the raw JSON text it came in as.

use std::sync::Arc;

use serde::Serialize;
use serde::ser::SerializeStruct;
use serde_json::value::RawValue;

use super::{
    ChatText, ErrorReply, MediaMode, MeetingView, NewGuestKey, PeerId, PeerState, Removal,
    SfuReply, UserName, names,
};

/// One member of a room as other members see it.
#[derive(Debug, Clone, Serialize, PartialEq)]
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
        /// The payload exactly as the sender wrote it, shared by every copy of the event.
        signal: Arc<RawValue>,
    },
    /// To every member of a room, the sender included: a chat message.
    Chat {
        from: PeerId,
        user_name: UserName,
        text: ChatText,
        /// The server's time when it relayed the message, in milliseconds since the Unix epoch.
        at: u64,
    },
    /// To the other members of a room: a participant's media state (also to a joiner, once
    /// for each member that has one).
    State { from: PeerId, state: PeerState },
    /// To every member of a room when its media moves to the SFU, and to a joiner of such a room
    /// right before its `init-users`: where the room's media goes.
    MediaMode(MediaMode),
    /// From the server's media forwarder to one page.
    Sfu(SfuReply),
    /// To a client whose event was refused: a human-readable message string (the payload, as
    /// the original server sent it) and its code (beside it: see the transports).
    Error(ErrorReply),
    /// To each member of a private meeting: how it is run (on entering, and on every change).
    Meeting(MeetingView),
    /// To a guest placed in a private meeting's lobby: wait for a host.
    Waiting,
    /// To someone a host turned away, removed, or whose meeting a host ended: they are out.
    Removed(Removal),
    /// To a member a host asked to mute.
    MuteRequest { from: PeerId },
    /// To a member whose raised hand a host lowered: their page lowers it.
    LowerHand { from: PeerId },
    /// To the hosts after `new-link`: the new guest key (the old one opens nothing now).
    MeetingLink(NewGuestKey),
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
            ServerEvent::Chat { .. } => names::CHAT,
            ServerEvent::State { .. } => names::STATE,
            ServerEvent::MediaMode(_) => "media-mode",
            ServerEvent::Sfu(SfuReply::Offer(_)) => names::SFU_OFFER,
            ServerEvent::Sfu(SfuReply::Answer(_)) => names::SFU_ANSWER,
            ServerEvent::Sfu(SfuReply::Failed(_)) => "sfu-failed",
            ServerEvent::Sfu(SfuReply::Layers { .. }) => "sfu-layers",
            ServerEvent::Error(_) => "error",
            ServerEvent::Meeting(_) => "meeting",
            ServerEvent::Waiting => "waiting",
            ServerEvent::Removed(_) => "removed",
            ServerEvent::MuteRequest { .. } => "mute-request",
            ServerEvent::LowerHand { .. } => "lower-hand",
            ServerEvent::MeetingLink(_) => "meeting-link",
        }
    }

    /// The event's payload, to be serialised by the framing.
    pub fn data(&self) -> EventData<'_> {
        EventData(self)
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
            ServerEvent::Chat {
                from,
                user_name,
                text,
                at,
            } => {
                let mut st = s.serialize_struct("Chat", 4)?;
                st.serialize_field("from", from)?;
                st.serialize_field("userName", user_name)?;
                st.serialize_field("text", text)?;
                st.serialize_field("at", at)?;
                st.end()
            }
            ServerEvent::State { from, state } => {
                let mut st = s.serialize_struct("State", 5)?;
                st.serialize_field("from", from)?;
                st.serialize_field("muted", &state.muted)?;
                st.serialize_field("camera", &state.camera)?;
                st.serialize_field("screen", &state.screen)?;
                // Only when raised: the payload stays as it was for pages that know no hands.
                if state.hand {
                    st.serialize_field("hand", &true)?;
                } else {
                    st.skip_field("hand")?;
                }
                st.end()
            }
            ServerEvent::MediaMode(mode) => {
                let mut st = s.serialize_struct("MediaMode", 1)?;
                st.serialize_field("mode", mode)?;
                st.end()
            }
            ServerEvent::Sfu(SfuReply::Offer(sdp) | SfuReply::Answer(sdp)) => {
                let mut st = s.serialize_struct("Sdp", 1)?;
                st.serialize_field("sdp", sdp)?;
                st.end()
            }
            ServerEvent::Sfu(SfuReply::Layers { stream, active }) => {
                let mut st = s.serialize_struct("Layers", 2)?;
                st.serialize_field("stream", stream)?;
                st.serialize_field("active", active)?;
                st.end()
            }
            ServerEvent::Sfu(SfuReply::Failed(reason)) => {
                let mut st = s.serialize_struct("Failed", 1)?;
                st.serialize_field("reason", reason)?;
                st.end()
            }
            ServerEvent::Error(reply) => reply.text.serialize(s),
            ServerEvent::Meeting(view) => view.serialize(s),
            ServerEvent::Waiting => {
                let mut st = s.serialize_struct("Waiting", 1)?;
                st.serialize_field("message", "waiting for the host to let you in")?;
                st.end()
            }
            ServerEvent::Removed(removal) => {
                let mut st = s.serialize_struct("Removed", 2)?;
                st.serialize_field("reason", removal.as_str())?;
                st.serialize_field("message", removal.message())?;
                st.end()
            }
            ServerEvent::MuteRequest { from } | ServerEvent::LowerHand { from } => {
                let mut st = s.serialize_struct("HostRequest", 1)?;
                st.serialize_field("from", from)?;
                st.end()
            }
            ServerEvent::MeetingLink(NewGuestKey(key)) => {
                let mut st = s.serialize_struct("MeetingLink", 1)?;
                st.serialize_field("key", key.expose())?;
                st.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_says_hand_only_when_raised() {
        let from = PeerId::random();
        let state = |hand| ServerEvent::State {
            from,
            state: PeerState {
                muted: false,
                camera: true,
                screen: None,
                hand,
            },
        };
        let json = |hand| serde_json::to_value(state(hand).data()).unwrap_or_default();
        assert_eq!(json(false).get("hand"), None);
        assert_eq!(json(true)["hand"], true);
    }

    #[test]
    fn server_events_serialise_like_the_original() {
        let id: PeerId = "AAAAAAAAAAAAAAAA".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&ServerEvent::UserLeft(id).data()).unwrap(),
            r#""AAAAAAAAAAAAAAAA""#
        );
        let signal = ServerEvent::Signal {
            from: id,
            user_name: UserName::parse("Ann").unwrap(),
            signal: RawValue::from_string(r#"{"candidate":"x"}"#.into())
                .unwrap()
                .into(),
        };
        assert_eq!(
            serde_json::to_string(&signal.data()).unwrap(),
            r#"{"from":"AAAAAAAAAAAAAAAA","signal":{"candidate":"x"},"userName":"Ann"}"#
        );
        assert_eq!(
            serde_json::to_string(&ServerEvent::MediaMode(MediaMode::Sfu).data()).unwrap(),
            r#"{"mode":"sfu"}"#
        );
        let member = Member {
            id,
            user_name: UserName::parse("Bob").unwrap(),
        };
        assert_eq!(
            serde_json::to_string(&ServerEvent::InitUsers(vec![member]).data()).unwrap(),
            r#"[{"id":"AAAAAAAAAAAAAAAA","userName":"Bob"}]"#
        );
    }
}
