//! Who may enter a room. A meeting made with New meeting is private: its link carries a guest
//! key, and its host gets a second, host key; the server keeps only their SHA-256 digests, so
//! the registry (in memory, on disk, in Redis) opens nothing if it leaks. A room typed by name
//! stays open, as the original server's contract needs, unless the server is started with
//! `--room-access link`, where every room needs a key.
//!
//! What a refusal says depends only on the policy and on what the client sent, never on which
//! private meetings exist, except that with open rooms a private one says it needs its link.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Refusal;
use crate::wire::{RoomId, RoomKey};

/// `--room-access`: whether a room without an invitation may be entered by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RoomAccess {
    /// Rooms typed by name are open; meetings made with New meeting need their link.
    #[default]
    Open,
    /// Every room needs its invitation link (original front-ends get a clear `error`).
    Link,
}

/// How long an invitation lasts after it was last used to enter its meeting (or made).
pub const INVITATION_IDLE_MS: u64 = 30 * 24 * 3600 * 1000;

/// Random bytes in a key the server makes: 144 bits, 24 characters of base64url.
const KEY_BYTES: usize = 18;

/// What a member is in its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Entered an open room by its name.
    Open,
    /// Entered a private meeting with its guest key.
    Guest,
    /// Entered a private meeting with its host key: runs the meeting.
    Host,
}

impl Role {
    /// As logs and the dashboard say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Open => "open",
            Role::Guest => "guest",
            Role::Host => "host",
        }
    }
}

/// The SHA-256 of a key: all the server keeps of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    /// The digest of `key`.
    pub fn of(key: &RoomKey) -> Self {
        Self(Sha256::digest(key.expose().as_bytes()).into())
    }

    /// Compares in constant time: how long a wrong key takes says nothing about the right one.
    fn opens(&self, other: &KeyDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// The digest as 64 hex digits (the registry file, Redis).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads 64 hex digits back.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl std::fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyDigest({}…)", &self.to_hex()[..8])
    }
}

/// A private meeting's invitation as the server keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invitation {
    pub guest: KeyDigest,
    pub host: KeyDigest,
    /// When it was last used to enter (or made), in milliseconds since the Unix epoch.
    pub last_used_ms: u64,
    /// Guests wait in the lobby until a host lets them in (a host's choice, kept with it).
    pub lobby: bool,
}

/// A new meeting's two keys, in clear: shown once, to whoever asked for the meeting.
#[derive(Debug, Clone)]
pub struct MeetingKeys {
    pub guest: RoomKey,
    pub host: RoomKey,
}

impl MeetingKeys {
    /// Two fresh random keys.
    pub fn random() -> Self {
        Self {
            guest: random_key(),
            host: random_key(),
        }
    }

    /// What the server keeps of them.
    pub fn invitation(&self, now_ms: u64) -> Invitation {
        Invitation {
            guest: KeyDigest::of(&self.guest),
            host: KeyDigest::of(&self.host),
            last_used_ms: now_ms,
            lobby: false,
        }
    }
}

/// A fresh random key (a new guest link).
pub fn random_key() -> RoomKey {
    use rand::RngExt;
    let mut bytes = [0u8; KEY_BYTES];
    rand::rng().fill(&mut bytes);
    // 24 characters of the base64url alphabet: always a well-formed key.
    RoomKey::parse(&URL_SAFE_NO_PAD.encode(bytes)).unwrap_or_else(|_| unreachable!())
}

/// Why an invitation could not be made for a room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    /// The name is in use: by people in it now, or by another private meeting.
    #[error("room '{0}' is already in use")]
    Taken(RoomId),
    /// In cluster mode, Redis did not answer.
    #[error(
        "this server cannot reach the other servers of its cluster right now: try again in a moment"
    )]
    ClusterUnavailable,
    /// The registry is at its cap.
    #[error("this server already keeps {0} private meetings: try again when some have expired")]
    Full(usize),
}

/// Most private meetings kept at once (each is a few hundred bytes).
pub const MAX_INVITATIONS: usize = 10_000;

/// Every private meeting's invitation, and the policy for rooms without one.
#[derive(Debug, Default)]
pub struct Invitations {
    access: RoomAccess,
    by_room: HashMap<RoomId, Invitation>,
}

impl Invitations {
    /// No invitations yet, under `access`.
    pub fn new(access: RoomAccess) -> Self {
        Self {
            access,
            by_room: HashMap::new(),
        }
    }

    /// Adds an invitation (a new meeting, or one loaded back); `in_use` says the room has
    /// people in it now, which an invitation must never turn private under them.
    pub fn insert(
        &mut self,
        room: RoomId,
        invitation: Invitation,
        in_use: bool,
    ) -> Result<(), InviteError> {
        if in_use || self.by_room.contains_key(&room) {
            return Err(InviteError::Taken(room));
        }
        if self.by_room.len() >= MAX_INVITATIONS {
            return Err(InviteError::Full(MAX_INVITATIONS));
        }
        self.by_room.insert(room, invitation);
        Ok(())
    }

    /// Every invitation kept, for saving.
    pub fn iter(&self) -> impl Iterator<Item = (&RoomId, &Invitation)> {
        self.by_room.iter()
    }

    /// Cluster mode: the room's invitation as the cluster's Redis has it now (`None`: not a
    /// private meeting), so that this node decides as the cluster did.
    pub fn set(&mut self, room: &RoomId, invitation: Option<Invitation>) {
        match invitation {
            Some(invitation) => {
                let lobby = self.by_room.get(room).is_some_and(|i| i.lobby);
                self.by_room.insert(
                    room.clone(),
                    Invitation {
                        lobby,
                        ..invitation
                    },
                );
            }
            None => {
                self.by_room.remove(room);
            }
        }
    }

    /// A private meeting's invitation, to change how it is run.
    pub fn get_mut(&mut self, room: &RoomId) -> Option<&mut Invitation> {
        self.by_room.get_mut(room)
    }

    /// A private meeting's invitation.
    pub fn get(&self, room: &RoomId) -> Option<&Invitation> {
        self.by_room.get(room)
    }

    /// Whether `room` is a private meeting.
    pub fn is_private(&self, room: &RoomId) -> bool {
        self.by_room.contains_key(room)
    }

    /// Forgets invitations unused for [`INVITATION_IDLE_MS`], except those of rooms in use.
    pub fn expire(&mut self, now_ms: u64, in_use: impl Fn(&RoomId) -> bool) -> usize {
        let before = self.by_room.len();
        self.by_room.retain(|room, invitation| {
            in_use(room) || now_ms.saturating_sub(invitation.last_used_ms) < INVITATION_IDLE_MS
        });
        before - self.by_room.len()
    }

    /// Decides whether a join with `key` may enter `room`, and as what; a successful entry to
    /// a private meeting counts as a use of its invitation.
    pub fn admit(
        &mut self,
        room: &RoomId,
        key: Option<&RoomKey>,
        now_ms: u64,
    ) -> Result<Role, Refusal> {
        let Some(invitation) = self.by_room.get_mut(room) else {
            return match (key, self.access) {
                (None, RoomAccess::Open) => Ok(Role::Open),
                (None, RoomAccess::Link) => Err(Refusal::NeedsLink),
                // A key for a room with no invitation: an expired or mistyped link. Letting it
                // into an open room of that name would meet whoever typed the name.
                (Some(_), _) => Err(Refusal::WrongKey),
            };
        };
        let Some(key) = key else {
            return Err(Refusal::NeedsLink);
        };
        let digest = KeyDigest::of(key);
        // Both compared every time, so the time taken does not say which one matched.
        let host = digest.opens(&invitation.host);
        let guest = digest.opens(&invitation.guest);
        let role = match (host, guest) {
            (true, _) => Role::Host,
            (false, true) => Role::Guest,
            (false, false) => return Err(Refusal::WrongKey),
        };
        invitation.last_used_ms = invitation.last_used_ms.max(now_ms);
        Ok(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomId {
        RoomId::parse(name).unwrap()
    }

    fn shown(outcome: Result<Role, Refusal>) -> String {
        match outcome {
            Ok(role) => format!("{role:?}"),
            Err(refusal) => refusal.to_string(),
        }
    }

    const NEEDS_LINK: &str =
        "this meeting needs its invitation link: ask whoever invited you for it";
    const WRONG_KEY: &str =
        "this invitation link does not open this meeting (mistyped, or expired): ask for a new one";

    #[test]
    fn private_meetings_open_only_with_their_keys() {
        let mut invitations = Invitations::new(RoomAccess::Open);
        let keys = MeetingKeys::random();
        assert_eq!(keys.guest.expose().len(), 24);
        assert_ne!(keys.guest, keys.host);
        let private = room("calm-otter-42");
        invitations
            .insert(private.clone(), keys.invitation(1_000), false)
            .unwrap();
        let other = MeetingKeys::random();
        let mut try_join =
            |name: &str, key: Option<&RoomKey>| shown(invitations.admit(&room(name), key, 2_000));
        assert_eq!(try_join("calm-otter-42", None), NEEDS_LINK);
        assert_eq!(try_join("calm-otter-42", Some(&other.guest)), WRONG_KEY);
        assert_eq!(try_join("calm-otter-42", Some(&keys.guest)), "Guest");
        assert_eq!(try_join("calm-otter-42", Some(&keys.host)), "Host");
        assert_eq!(try_join("standup", None), "Open");
        // An expired link must not land in an open room of the same name.
        assert_eq!(try_join("standup", Some(&keys.guest)), WRONG_KEY);
    }

    #[test]
    fn with_link_access_every_room_needs_a_key_and_refusals_reveal_nothing() {
        let mut invitations = Invitations::new(RoomAccess::Link);
        let keys = MeetingKeys::random();
        invitations
            .insert(room("board"), keys.invitation(0), false)
            .unwrap();
        let mut try_join =
            |name: &str, key: Option<&RoomKey>| shown(invitations.admit(&room(name), key, 0));
        // The same answers for a private meeting and a name that is nothing at all.
        assert_eq!(try_join("board", None), NEEDS_LINK);
        assert_eq!(try_join("nothing", None), NEEDS_LINK);
        assert_eq!(
            try_join("board", Some(&MeetingKeys::random().guest)),
            WRONG_KEY
        );
        assert_eq!(try_join("nothing", Some(&keys.guest)), WRONG_KEY);
        assert_eq!(try_join("board", Some(&keys.guest)), "Guest");
    }

    #[test]
    fn invitations_never_take_a_room_in_use_and_expire_when_unused() {
        let mut invitations = Invitations::new(RoomAccess::Open);
        let keys = MeetingKeys::random();
        assert_eq!(
            invitations.insert(room("busy"), keys.invitation(0), true),
            Err(InviteError::Taken(room("busy")))
        );
        invitations
            .insert(room("a"), keys.invitation(0), false)
            .unwrap();
        invitations
            .insert(room("b"), keys.invitation(0), false)
            .unwrap();
        assert_eq!(
            invitations.insert(room("a"), keys.invitation(0), false),
            Err(InviteError::Taken(room("a")))
        );
        // "a" is used on day 20; on day 31 only "b" has gone unused for 30 days.
        let day = 24 * 3600 * 1000;
        assert!(
            invitations
                .admit(&room("a"), Some(&keys.guest), 20 * day)
                .is_ok()
        );
        assert_eq!(invitations.expire(31 * day, |_| false), 1);
        assert!(invitations.is_private(&room("a")));
        assert!(!invitations.is_private(&room("b")));
        // A meeting in progress keeps its invitation however old.
        assert_eq!(invitations.expire(100 * day, |r| r == &room("a")), 0);
        let digest = KeyDigest::of(&keys.guest);
        assert_eq!(KeyDigest::from_hex(&digest.to_hex()), Some(digest));
        assert_eq!(KeyDigest::from_hex("zz"), None);
    }
}
