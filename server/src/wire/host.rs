//! What a private meeting's host may ask (`host`), and what the server tells a meeting's
//! members about how it is run (`meeting`, `waiting`, `removed`, `mute-request`,
//! `meeting-link`). Additive: the original front-ends never send or receive any of it.

use serde::{Deserialize, Serialize};

use super::{Member, PeerId, ProtocolError, RoomKey};

/// One thing a host asks, from `host`'s `{action, peer?, on?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAction {
    /// With the lobby on, a guest with the link waits until a host admits them.
    Lobby(bool),
    /// Nobody new gets in (hosts coming back with the host link still do).
    Lock(bool),
    /// Lets a waiting guest in.
    Admit(PeerId),
    /// Turns a waiting guest away.
    Decline(PeerId),
    /// Takes a member out of the meeting at once.
    Remove(PeerId),
    /// Asks a member to mute their microphone (their page mutes it; nobody can unmute anyone).
    Mute(PeerId),
    /// Lowers a member's raised hand (their page lowers it, as for muting).
    LowerHand(PeerId),
    /// Ends the meeting for everyone in it.
    End,
    /// A new guest key: the old guest link stops opening the meeting (people inside stay).
    NewLink,
}

#[derive(Deserialize)]
struct HostPayload {
    action: String,
    #[serde(default)]
    peer: Option<String>,
    #[serde(default)]
    on: Option<bool>,
}

impl HostAction {
    /// Decodes `host`'s payload.
    pub(super) fn decode(json: &str) -> Result<Self, ProtocolError> {
        let payload: HostPayload =
            serde_json::from_str(json).map_err(|_| ProtocolError::BadHost)?;
        let peer = || {
            payload
                .peer
                .as_deref()
                .and_then(|p| p.parse::<PeerId>().ok())
                .ok_or(ProtocolError::BadHost)
        };
        let on = || payload.on.ok_or(ProtocolError::BadHost);
        Ok(match payload.action.as_str() {
            "lobby" => HostAction::Lobby(on()?),
            "lock" => HostAction::Lock(on()?),
            "admit" => HostAction::Admit(peer()?),
            "decline" => HostAction::Decline(peer()?),
            "remove" => HostAction::Remove(peer()?),
            "mute" => HostAction::Mute(peer()?),
            "lower-hand" => HostAction::LowerHand(peer()?),
            "end" => HostAction::End,
            "new-link" => HostAction::NewLink,
            _ => return Err(ProtocolError::BadHost),
        })
    }
}

/// How a private meeting is run, as its members see it (`meeting`): sent to each member when
/// they enter and whenever it changes. Only hosts get `waiting`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MeetingView {
    /// The members who hold the host key, in join order.
    pub hosts: Vec<PeerId>,
    pub lobby: bool,
    pub locked: bool,
    /// Who waits in the lobby, in arrival order (hosts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Vec<Member>>,
}

/// Why someone is out of a meeting (`removed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// A host turned them away from the lobby.
    Declined,
    /// A host took them out.
    Removed,
    /// A host ended the meeting for everyone.
    Ended,
}

impl Removal {
    pub fn as_str(self) -> &'static str {
        match self {
            Removal::Declined => "declined",
            Removal::Removed => "removed",
            Removal::Ended => "ended",
        }
    }

    /// What the person is told.
    pub fn message(self) -> &'static str {
        match self {
            Removal::Declined => "the host did not let you in",
            Removal::Removed => "the host removed you from the meeting",
            Removal::Ended => "the host ended the meeting for everyone",
        }
    }
}

/// The new guest key, to hosts only after `new-link`.
#[derive(Debug, Clone)]
pub struct NewGuestKey(pub RoomKey);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_actions_decode_or_say_what_is_expected() {
        let id = "AAAAAAAAAAAAAAAA";
        let cases = [
            (
                r#"{"action":"lobby","on":true}"#,
                Some(HostAction::Lobby(true)),
            ),
            (
                r#"{"action":"lock","on":false}"#,
                Some(HostAction::Lock(false)),
            ),
            (r#"{"action":"end"}"#, Some(HostAction::End)),
            (r#"{"action":"new-link"}"#, Some(HostAction::NewLink)),
            (r#"{"action":"lock"}"#, None),
            (r#"{"action":"remove","peer":"nope"}"#, None),
            (r#"{"action":"fly"}"#, None),
            (r#"[1]"#, None),
        ];
        for (json, expected) in cases {
            assert_eq!(HostAction::decode(json).ok(), expected, "{json}");
        }
        let remove = format!(r#"{{"action":"remove","peer":"{id}"}}"#);
        assert_eq!(
            HostAction::decode(&remove),
            Ok(HostAction::Remove(id.parse().unwrap()))
        );
    }
}
