//! The core: rooms, peers and the rules of who hears what. No I/O and no clock here; every call
//! returns the events to deliver and the changes observers (logs, dashboard) may care about.
//! It builds on the wire layer's validated types only.

mod access;
mod host;
mod media;
mod rate;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use access::{
    INVITATION_IDLE_MS, Invitation, Invitations, InviteError, KeyDigest, MAX_INVITATIONS,
    MeetingKeys, Role, RoomAccess,
};
pub use media::{MediaChange, MediaPolicy};
pub use rate::{NoticeThrottle, RateLimit, TokenBucket};

use crate::wire::{
    ChatText, ClientEvent, ErrorCode, ErrorReply, MediaMode, Member, PeerId, PeerState,
    ProtocolError, RoomId, RoomKey, ServerEvent, SfuRequest, UserName,
};

/// The limits the core enforces (their defaults are the command line's, in `options`). The
/// connection caps are not among them: admission applies those at the handshake, before a
/// peer ever reaches the core.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Most peers in one room.
    pub max_peers_per_room: usize,
    /// Largest `signal` payload relayed, in bytes of JSON text.
    pub max_signal_bytes: usize,
    /// Events a connection may send.
    pub rate: RateLimit,
    /// Where rooms send their media.
    pub media: MediaPolicy,
    /// Whether rooms without an invitation may be entered by name.
    pub access: RoomAccess,
}

/// Why the core refused something; the text is what the client is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The payload did not validate.
    #[error(transparent)]
    Invalid(#[from] ProtocolError),
    /// The connection sent events faster than its rate limit.
    #[error("too many events: slow down (the limit is {per_second} per second)")]
    RateLimited { per_second: u32 },
    /// A signal payload over the size limit.
    #[error("signal payload is {size} bytes, over the {limit}-byte limit: not relayed")]
    SignalTooLarge { size: usize, limit: usize },
    /// A signal or chat message from a peer that is in no room; the text names which.
    #[error("join a room before sending {0}")]
    NotInRoom(&'static str),
    /// A signal to a peer that is not in the sender's room (or does not exist).
    #[error("peer {0} is not in your room: signal not delivered")]
    TargetNotInRoom(String),
    /// A join without a key to a private meeting (or, with `--room-access link`, to any room).
    #[error("this meeting needs its invitation link: ask whoever invited you for it")]
    NeedsLink,
    /// A join whose key opens no meeting of that name.
    #[error(
        "this invitation link does not open this meeting (mistyped, or expired): ask for a new one"
    )]
    WrongKey,
    /// A guest's join to a private meeting a host has locked.
    #[error("this meeting is locked: nobody new can join right now")]
    Locked,
    /// A `host` request in cluster mode.
    #[error("a host's controls are not available in cluster mode yet")]
    HostControlsUnavailable,
    /// A `host` request from someone who is not a private meeting's host.
    #[error("only the meeting's host can do that")]
    NotHost,
    /// A host's request about someone who is not in (or waiting for) the host's meeting.
    #[error("peer {0} is not in your meeting or its lobby")]
    NotHere(String),
    /// The room is at its member limit.
    #[error("room '{room}' is full ({limit} peers)")]
    RoomFull { room: RoomId, limit: usize },
    /// A page that cannot use the SFU tried to join a room whose media goes through it.
    #[error(
        "room '{0}' sends its media through the server, which this page cannot do (it did not join with sfu: true)"
    )]
    NeedsSfu(RoomId),
    /// In cluster mode, a join while this node cannot reach the cluster's Redis.
    #[error(
        "this server cannot reach the other servers of its cluster right now: join again in a moment"
    )]
    ClusterUnavailable,
    /// An SFU request that found the media forwarder's queue full.
    #[error("the media server is busy: your request was not taken, send it again in a moment")]
    MediaBusy,
    /// An SFU event from a peer whose room's media does not go through the server.
    #[error("your room's media does not go through the server: nothing to negotiate")]
    NotInSfuRoom,
}

impl Refusal {
    /// The stable code sent beside the text (`wire::ErrorCode`).
    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::Invalid(error) => error.code(),
            Refusal::RateLimited { .. } => ErrorCode::RateLimited,
            Refusal::SignalTooLarge { .. } => ErrorCode::SignalTooLarge,
            Refusal::NotInRoom(_) => ErrorCode::NotInRoom,
            Refusal::TargetNotInRoom(_) => ErrorCode::TargetNotInRoom,
            Refusal::NeedsLink => ErrorCode::NeedsLink,
            Refusal::WrongKey => ErrorCode::WrongKey,
            Refusal::Locked => ErrorCode::Locked,
            Refusal::HostControlsUnavailable => ErrorCode::HostControlsUnavailable,
            Refusal::NotHost => ErrorCode::NotHost,
            Refusal::NotHere(_) => ErrorCode::NotHere,
            Refusal::RoomFull { .. } => ErrorCode::RoomFull,
            Refusal::NeedsSfu(_) => ErrorCode::NeedsSfu,
            Refusal::ClusterUnavailable => ErrorCode::ClusterUnavailable,
            Refusal::MediaBusy => ErrorCode::MediaBusy,
            Refusal::NotInSfuRoom => ErrorCode::NotInSfuRoom,
        }
    }

    /// The `error` event that tells its peer.
    pub fn reply(&self) -> ErrorReply {
        ErrorReply::new(self.code(), self.to_string())
    }
}

/// A server event addressed to one peer.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub to: PeerId,
    pub event: ServerEvent,
}

/// A change of state, for observers.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A peer entered a room.
    Joined { peer: PeerId, room: RoomId },
    /// A peer left a room (by leaving, moving or disconnecting).
    Left { peer: PeerId, room: RoomId },
    /// A signal was relayed.
    Relayed,
    /// A chat message went to a room (its text is not here: nothing logs it).
    Chatted,
    /// A member's media state was taken and told to its room (cluster mode: the other nodes'
    /// members of the room must hear it too).
    StateShared {
        peer: PeerId,
        room: RoomId,
        state: PeerState,
    },
    /// An event from `peer` was refused.
    Refused { peer: PeerId, refusal: Refusal },
    /// A room's media changed course (it moved to the SFU).
    MediaMode { room: RoomId, mode: MediaMode },
    /// Work for the media forwarder.
    Media(MediaChange),
    /// Someone started or stopped waiting in `room`'s lobby.
    Lobby { room: RoomId },
    /// A private meeting's invitation changed (its lobby setting, its guest key): to be saved.
    Invitations,
}

/// What one call into the core produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Events to send, in order.
    pub deliveries: Vec<Delivery>,
    /// What changed, in order.
    pub changes: Vec<Change>,
}

impl Outcome {
    /// A refusal decided outside the core (cluster admission): the peer is told, observers see it.
    pub fn refusal(peer: PeerId, refusal: Refusal) -> Self {
        let mut out = Outcome::default();
        out.refuse(peer, refusal, true);
        out
    }

    fn send(&mut self, to: PeerId, event: ServerEvent) {
        self.deliveries.push(Delivery { to, event });
    }

    fn refuse(&mut self, peer: PeerId, refusal: Refusal, notify: bool) {
        if notify {
            self.send(peer, ServerEvent::Error(refusal.reply()));
        }
        self.changes.push(Change::Refused { peer, refusal });
    }
}

/// How often a rate-limited client is told so.
const RATE_NOTICE_PERIOD: Duration = Duration::from_secs(1);

/// When an event is handled: the monotonic instant for rates, and the wall clock for the
/// timestamps people read (a chat message's `at`). Both come from outside, so the core stays
/// free of clocks and its tests choose the time.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    pub instant: Instant,
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

impl std::ops::Add<Duration> for Moment {
    type Output = Moment;
    fn add(self, later: Duration) -> Moment {
        Moment {
            instant: self.instant + later,
            unix_ms: self.unix_ms + u64::try_from(later.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

struct Peer {
    /// The room and the name used in it; both set together by a join.
    seat: Option<(RoomId, UserName)>,
    /// What the peer is in its room (meaningful while seated).
    role: Role,
    /// The lobby it waits in, if any (then it has no seat).
    waiting: Option<host::Waiting>,
    /// The media state the peer last announced; kept across rooms, since it is the page's.
    state: Option<PeerState>,
    /// The page can use the SFU (it said so when it joined).
    sfu: bool,
    bucket: TokenBucket,
    rate_notice: NoticeThrottle,
}

/// A room: its members in join order, and where its media goes.
struct Room {
    members: Vec<PeerId>,
    media: MediaMode,
}

/// Every room and peer; the one place that decides joins, leaves, relays and limits.
pub struct Rooms {
    limits: Limits,
    peers: HashMap<PeerId, Peer>,
    /// A room exists only while it has members.
    rooms: HashMap<RoomId, Room>,
    /// How many of them are in SFU mode, kept as they change (metrics read it per event).
    sfu_rooms: usize,
    /// Private meetings' invitations, and whether other rooms are open.
    invitations: Invitations,
    /// How each private meeting in progress is run (its lock, its lobby's queue).
    controls: host::AllControls,
    /// Whether hosts may run their meetings (not in cluster mode yet: another node would not
    /// know the lobby, the lock or who is host).
    host_controls: bool,
    /// Cluster mode: when a room's media moves to a server is decided in Redis for every node
    /// at once (`move_to_sfu`), not here.
    media_elsewhere: bool,
}

impl Rooms {
    /// An empty server with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            peers: HashMap::new(),
            rooms: HashMap::new(),
            sfu_rooms: 0,
            invitations: Invitations::new(limits.access),
            controls: Default::default(),
            host_controls: true,
            media_elsewhere: false,
            limits,
        }
    }

    /// The rate limit's events per second (what a refusal tells).
    pub fn rate_per_second(&self) -> u32 {
        self.limits.rate.per_second as u32
    }

    /// How many events the rate limit lets a peer send at once (`--event-burst`).
    pub fn rate_burst(&self) -> usize {
        self.limits.rate.burst as usize
    }

    /// Connected peers.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Rooms with at least one member.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Rooms whose media goes through the server.
    pub fn sfu_room_count(&self) -> usize {
        self.sfu_rooms
    }

    /// The room a peer is in, if any.
    pub fn room_of(&self, peer: PeerId) -> Option<&RoomId> {
        self.peers.get(&peer)?.seat.as_ref().map(|(room, _)| room)
    }

    /// Every room with its members in join order and where its media goes.
    pub fn rooms(&self) -> impl Iterator<Item = (&RoomId, &[PeerId], MediaMode)> {
        self.rooms
            .iter()
            .map(|(id, room)| (id, room.members.as_slice(), room.media))
    }

    /// The name a peer joined its room under, if it is in one.
    pub fn name_of(&self, peer: PeerId) -> Option<&UserName> {
        self.peers.get(&peer)?.seat.as_ref().map(|(_, name)| name)
    }

    /// Members of a room in join order (empty for a room that does not exist).
    pub fn members(&self, room: &RoomId) -> &[PeerId] {
        self.rooms
            .get(room)
            .map(|r| r.members.as_slice())
            .unwrap_or_default()
    }

    /// Where a room's media goes (`None` for a room that does not exist).
    pub fn media_of(&self, room: &RoomId) -> Option<MediaMode> {
        self.rooms.get(room).map(|r| r.media)
    }

    /// Registers a new connection, in no room yet.
    pub fn connect(&mut self, peer: PeerId, now: Instant) {
        self.peers.insert(
            peer,
            Peer {
                seat: None,
                role: Role::Open,
                waiting: None,
                state: None,
                sfu: false,
                bucket: TokenBucket::new(self.limits.rate, now),
                rate_notice: NoticeThrottle::default(),
            },
        );
    }

    /// Handles one event from a connected peer: the decoded event, a decoding error, or
    /// `Ok(None)` for an unknown event (which still counts against the rate limit).
    pub fn handle(
        &mut self,
        from: PeerId,
        event: Result<Option<ClientEvent>, ProtocolError>,
        at: Moment,
    ) -> Outcome {
        let now = at.instant;
        let mut out = Outcome::default();
        let limit = self.limits.rate;
        let Some(peer) = self.peers.get_mut(&from) else {
            return out;
        };
        if !peer.bucket.try_take(limit, now) {
            let notify = peer.rate_notice.allow(RATE_NOTICE_PERIOD, now);
            let per_second = limit.per_second as u32;
            out.refuse(from, Refusal::RateLimited { per_second }, notify);
            return out;
        }
        match event {
            Err(error) => out.refuse(from, error.into(), true),
            Ok(None) => {}
            Ok(Some(ClientEvent::JoinRoom {
                room,
                name,
                sfu,
                key,
            })) => self.join(from, room, name, sfu, key, at.unix_ms, &mut out),
            Ok(Some(ClientEvent::LeaveRoom)) => self.leave(from, &mut out),
            Ok(Some(ClientEvent::Signal { to, signal })) => self.signal(from, to, signal, &mut out),
            Ok(Some(ClientEvent::Chat { text })) => self.chat(from, text, at.unix_ms, &mut out),
            Ok(Some(ClientEvent::State(state))) => self.set_state(from, state, &mut out),
            Ok(Some(ClientEvent::Sfu(request))) => self.sfu(from, request, &mut out),
            Ok(Some(ClientEvent::Host(action))) => self.host(from, action, &mut out),
        }
        out
    }

    /// Removes a peer; the rest of its room is told.
    pub fn disconnect(&mut self, peer: PeerId) -> Outcome {
        let mut out = Outcome::default();
        self.leave(peer, &mut out);
        self.peers.remove(&peer);
        out
    }

    /// Cluster mode: a peer of another node joined `room` (that node's Redis admission already
    /// applied the room's cap). It is kept here like a local peer, so the rules (who may signal
    /// whom, who hears a join) hold across nodes; deliveries addressed to it are the other
    /// node's to make, and the hub skips them.
    pub fn join_remote(
        &mut self,
        peer: PeerId,
        room: RoomId,
        name: UserName,
        sfu: bool,
        now: Instant,
    ) -> Outcome {
        if !self.peers.contains_key(&peer) {
            self.connect(peer, now);
        }
        let mut out = Outcome::default();
        // Its own node checked its key.
        self.seat(peer, room, name, sfu, Role::Open, &mut out);
        out
    }

    /// Cluster mode: rooms move to the SFU when the cluster says so (`move_to_sfu`), never on
    /// this node's count alone: a node that follows a room from its middle would count otherwise.
    pub fn decide_media_elsewhere(&mut self) {
        self.media_elsewhere = true;
    }

    /// Cluster mode: the cluster moved `room`'s media to a server. Every member is told and
    /// opened, as when a room grows past the mesh here.
    pub fn move_to_sfu(&mut self, room: &RoomId) -> Outcome {
        let mut out = Outcome::default();
        self.switch_to_sfu(room, None, &mut out);
        out
    }

    /// Cluster mode: a page on another node asked this node's forwarder something (its own node
    /// took it from the page, rate limit and all); checked as a local page's request is.
    pub fn remote_sfu(&mut self, from: PeerId, request: SfuRequest) -> Outcome {
        let mut out = Outcome::default();
        self.sfu(from, request, &mut out);
        out
    }

    /// Whether a peer's page said it can send its media through the server.
    pub fn can_use_sfu(&self, peer: PeerId) -> bool {
        self.peers.get(&peer).is_some_and(|p| p.sfu)
    }

    /// Cluster mode: a peer of another node sent its media state.
    pub fn set_remote_state(&mut self, peer: PeerId, state: PeerState) -> Outcome {
        let mut out = Outcome::default();
        self.set_state(peer, state, &mut out);
        out
    }

    /// Whether two peers are in the same room (a signal between them may pass).
    pub fn share_room(&self, a: PeerId, b: PeerId) -> bool {
        self.room_of(a)
            .is_some_and(|room| self.room_of(b) == Some(room))
    }

    /// Makes `room` a private meeting that opens with `keys` (New meeting). A room with people
    /// in it, or already private, is refused: its members would find themselves locked in.
    pub fn invite(&mut self, room: RoomId, invitation: Invitation) -> Result<(), InviteError> {
        let in_use = self.rooms.contains_key(&room);
        self.invitations.insert(room, invitation, in_use)
    }

    /// Every private meeting's invitation (what the registry file keeps).
    pub fn invitations(&self) -> impl Iterator<Item = (&RoomId, &Invitation)> {
        self.invitations.iter()
    }

    /// Forgets the invitations of meetings unused for 30 days (not of any in progress).
    pub fn expire_invitations(&mut self, now_ms: u64) -> usize {
        let rooms = &self.rooms;
        self.invitations
            .expire(now_ms, |room| rooms.contains_key(room))
    }

    /// Cluster mode: keeps `room`'s invitation as the cluster has it (see `Invitations::set`).
    pub fn keep_invitation(&mut self, room: &RoomId, invitation: Option<Invitation>) {
        self.invitations.set(room, invitation);
    }

    /// Cluster mode: hosts' controls are refused, and members are not told of them.
    pub fn disable_host_controls(&mut self) {
        self.host_controls = false;
    }

    /// Whether `room` is a private meeting (only its link opens it).
    pub fn is_private(&self, room: &RoomId) -> bool {
        self.invitations.is_private(room)
    }

    /// What a peer is in its room, if it is in one.
    pub fn role_of(&self, peer: PeerId) -> Option<Role> {
        let peer = self.peers.get(&peer)?;
        peer.seat.as_ref().map(|_| peer.role)
    }

    #[allow(clippy::too_many_arguments)]
    fn join(
        &mut self,
        peer: PeerId,
        room: RoomId,
        name: UserName,
        sfu: bool,
        key: Option<RoomKey>,
        now_ms: u64,
        out: &mut Outcome,
    ) {
        if let Some(role) = self.role_of(peer)
            && self.room_of(peer) == Some(&room)
        {
            // Already in: the join only asks for the room's list again.
            return self.seat(peer, room, name, sfu, role, out);
        }
        // Access first: a guesser learns nothing of a private room, not even that it is full.
        let role = match self.invitations.admit(&room, key.as_ref(), now_ms) {
            Ok(role) => role,
            Err(refusal) => return out.refuse(peer, refusal, true),
        };
        if role == Role::Guest {
            match self.door(&room) {
                Err(refusal) => return out.refuse(peer, refusal, true),
                Ok(true) => return self.wait(peer, room, name, sfu, out),
                Ok(false) => {}
            }
        }
        let members = self.members(&room).len();
        if members >= self.limits.max_peers_per_room {
            let limit = self.limits.max_peers_per_room;
            return out.refuse(peer, Refusal::RoomFull { room, limit }, true);
        }
        if !sfu && self.media_of(&room) == Some(MediaMode::Sfu) {
            return out.refuse(peer, Refusal::NeedsSfu(room), true);
        }
        self.seat(peer, room, name, sfu, role, out);
    }

    /// Seats a peer that may enter `room` (its checks passed), then tells it who is there.
    fn seat(
        &mut self,
        peer: PeerId,
        room: RoomId,
        name: UserName,
        sfu: bool,
        role: Role,
        out: &mut Outcome,
    ) {
        let already_here = self.room_of(peer) == Some(&room);
        if !already_here {
            self.leave(peer, out);
            let member = Member {
                id: peer,
                user_name: name.clone(),
            };
            let joiner_state = self.peers.get(&peer).and_then(|p| p.state.clone());
            let first_mode = if self.media_elsewhere {
                MediaMode::Mesh
            } else {
                self.limits.media.mode_for(1, sfu)
            };
            let entry = self.rooms.entry(room.clone()).or_insert_with(|| {
                if first_mode == MediaMode::Sfu {
                    self.sfu_rooms += 1;
                }
                Room {
                    members: Vec::new(),
                    media: first_mode,
                }
            });
            for &other in entry.members.iter() {
                out.send(other, ServerEvent::UserJoined(member.clone()));
                if let Some(state) = &joiner_state {
                    let state = state.clone();
                    out.send(other, ServerEvent::State { from: peer, state });
                }
            }
            entry.members.push(peer);
            if let Some(p) = self.peers.get_mut(&peer) {
                p.seat = Some((room.clone(), name));
                p.sfu = sfu;
                p.role = role;
            }
            out.changes.push(Change::Joined {
                peer,
                room: room.clone(),
            });
            self.maybe_move_to_sfu(&room, peer, out);
        }
        // Where the media goes, before init-users, so an SFU page never starts a mesh (only
        // pages that can use the SFU are ever told; the original contract is untouched).
        let sfu = self.media_of(&room) == Some(MediaMode::Sfu);
        if sfu {
            out.send(peer, ServerEvent::MediaMode(MediaMode::Sfu));
        }
        let others = self
            .members(&room)
            .iter()
            .filter(|&&id| id != peer)
            .filter_map(|&id| {
                let (_, user_name) = self.peers.get(&id)?.seat.as_ref()?;
                Some(Member {
                    id,
                    user_name: user_name.clone(),
                })
            })
            .collect();
        out.send(peer, ServerEvent::InitUsers(others));
        // Then what the others last said about their media, so the joiner's tiles start right.
        let states: Vec<ServerEvent> = self
            .members(&room)
            .iter()
            .filter(|&&id| id != peer)
            .filter_map(|&id| {
                let state = self.peers.get(&id)?.state.clone()?;
                Some(ServerEvent::State { from: id, state })
            })
            .collect();
        for event in states {
            out.send(peer, event);
        }
        if self.invitations.is_private(&room) {
            self.tell_meeting(&room, out);
        }
        if sfu && !already_here {
            out.changes
                .push(Change::Media(MediaChange::Open { peer, room }));
        }
    }

    /// Moves a mesh room to the SFU when the policy says it has grown too big for a mesh (or is
    /// to use the SFU from the start) and every member can. The members already there are told
    /// now; `joiner` is told with its `init-users`.
    fn maybe_move_to_sfu(&mut self, room_id: &RoomId, joiner: PeerId, out: &mut Outcome) {
        let Some(room) = self.rooms.get(room_id) else {
            return;
        };
        if room.media == MediaMode::Sfu || self.media_elsewhere {
            return;
        }
        let all_capable = room
            .members
            .iter()
            .all(|id| self.peers.get(id).is_some_and(|p| p.sfu));
        if self.limits.media.mode_for(room.members.len(), all_capable) != MediaMode::Sfu {
            return;
        }
        self.switch_to_sfu(room_id, Some(joiner), out);
    }

    /// Moves a room's media to the SFU: every member but `joiner` (told with its `init-users`)
    /// is told now, and each is opened at the forwarder.
    fn switch_to_sfu(&mut self, room_id: &RoomId, joiner: Option<PeerId>, out: &mut Outcome) {
        let Some(room) = self.rooms.get(room_id) else {
            return;
        };
        if room.media == MediaMode::Sfu {
            return;
        }
        let others: Vec<PeerId> = room
            .members
            .iter()
            .copied()
            .filter(|&id| Some(id) != joiner)
            .collect();
        if let Some(room) = self.rooms.get_mut(room_id) {
            room.media = MediaMode::Sfu;
            self.sfu_rooms += 1;
        }
        out.changes.push(Change::MediaMode {
            room: room_id.clone(),
            mode: MediaMode::Sfu,
        });
        for peer in others {
            out.send(peer, ServerEvent::MediaMode(MediaMode::Sfu));
            out.changes.push(Change::Media(MediaChange::Open {
                peer,
                room: room_id.clone(),
            }));
        }
    }

    fn leave(&mut self, peer: PeerId, out: &mut Outcome) {
        self.stop_waiting(peer, out);
        let Some((room, _)) = self.peers.get_mut(&peer).and_then(|p| p.seat.take()) else {
            return;
        };
        if let Some(entry) = self.rooms.get_mut(&room) {
            entry.members.retain(|&id| id != peer);
            for &other in entry.members.iter() {
                out.send(other, ServerEvent::UserLeft(peer));
            }
            if entry.media == MediaMode::Sfu {
                out.changes.push(Change::Media(MediaChange::Close { peer }));
            }
            if entry.members.is_empty() {
                if entry.media == MediaMode::Sfu {
                    self.sfu_rooms -= 1;
                }
                self.rooms.remove(&room);
            }
        }
        if self.invitations.is_private(&room) {
            self.tell_meeting(&room, out);
            self.forget_controls_if_idle(&room);
        }
        out.changes.push(Change::Left { peer, room });
    }

    fn chat(&mut self, from: PeerId, text: ChatText, unix_ms: u64, out: &mut Outcome) {
        let Some((room, user_name)) = self.peers.get(&from).and_then(|p| p.seat.as_ref()) else {
            out.refuse(from, Refusal::NotInRoom("chat messages"), true);
            return;
        };
        let event = ServerEvent::Chat {
            from,
            user_name: user_name.clone(),
            text,
            at: unix_ms,
        };
        for &member in self.members(room) {
            out.send(member, event.clone());
        }
        out.changes.push(Change::Chatted);
    }

    fn set_state(&mut self, from: PeerId, state: PeerState, out: &mut Outcome) {
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        peer.state = Some(state.clone());
        let Some((room, _)) = peer.seat.clone() else {
            return;
        };
        for &member in self.members(&room) {
            if member != from {
                let state = state.clone();
                out.send(member, ServerEvent::State { from, state });
            }
        }
        out.changes.push(Change::StateShared {
            peer: from,
            room,
            state,
        });
    }

    fn sfu(&mut self, from: PeerId, request: SfuRequest, out: &mut Outcome) {
        let in_sfu_room = self
            .room_of(from)
            .and_then(|room| self.media_of(room))
            .is_some_and(|mode| mode == MediaMode::Sfu);
        if !in_sfu_room {
            out.refuse(from, Refusal::NotInSfuRoom, true);
            return;
        }
        let size = request.sdp().map_or(0, str::len);
        if size > self.limits.max_signal_bytes {
            let limit = self.limits.max_signal_bytes;
            out.refuse(from, Refusal::SignalTooLarge { size, limit }, true);
            return;
        }
        out.changes.push(Change::Media(MediaChange::Request {
            peer: from,
            request,
        }));
    }

    fn signal(
        &mut self,
        from: PeerId,
        to: Option<PeerId>,
        signal: Box<serde_json::value::RawValue>,
        out: &mut Outcome,
    ) {
        let size = signal.get().len();
        if size > self.limits.max_signal_bytes {
            let limit = self.limits.max_signal_bytes;
            out.refuse(from, Refusal::SignalTooLarge { size, limit }, true);
            return;
        }
        let Some((room, user_name)) = self.peers.get(&from).and_then(|p| p.seat.as_ref()) else {
            out.refuse(from, Refusal::NotInRoom("signals"), true);
            return;
        };
        let target = to.filter(|to| self.room_of(*to) == Some(room));
        let Some(target) = target else {
            let shown = to
                .map(|id| id.to_string())
                .unwrap_or_else(|| "(bad id)".into());
            out.refuse(from, Refusal::TargetNotInRoom(shown), true);
            return;
        };
        let event = ServerEvent::Signal {
            from,
            user_name: user_name.clone(),
            signal: Arc::from(signal),
        };
        out.send(target, event);
        out.changes.push(Change::Relayed);
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;
