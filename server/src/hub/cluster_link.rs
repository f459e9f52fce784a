//! The contract between the hub and the cluster (`cluster/` implements it over Redis): what the
//! hub asks of it ([`ClusterLink`], a [`JoinRequest`], an [`Effect`] for the other nodes) and what
//! it hears back (an [`Admission`] with its [`Snapshot`], a [`Remote`] from another node). Plain
//! types: both `hub/cluster.rs` and `hub/mirror.rs` use them, and `cluster/` (through
//! `hub::cluster`, which re-exports them) encodes them.

use std::sync::Arc;

use serde_json::value::RawValue;
use tokio::sync::oneshot;

use super::Hub;
use crate::rooms::{Invitation, KeyDigest, Refusal};
use crate::wire::{
    ChatText, ClientEvent, ErrorReply, PeerId, PeerState, RoomId, ServerEvent, SfuReply,
    SfuRequest, UserName,
};

/// A node of the cluster, named by itself at start.
pub type NodeId = Arc<str>;

/// What the hub needs from the cluster. Called under the hub's lock: nothing here may wait.
pub trait ClusterLink: Send + Sync {
    /// This node's id.
    fn node(&self) -> &NodeId;
    /// Asks the cluster to admit `peer` into `room` (the room's cap counted over every node);
    /// the answer comes back through [`Hub::admitted`] with `event`. `subscribe`: this
    /// node does not follow the room yet, so the cluster must start to before it asks.
    fn admit(&self, hub: Hub, request: JoinRequest, subscribe: bool);
    /// Hands an effect of a local decision to the other nodes, in the order given.
    fn publish(&self, effect: Effect);
    /// This node has no member left in `room`: stop following it.
    fn forget_room(&self, room: RoomId);
    /// Makes `room` a private meeting cluster-wide, unless its name is in use there: the
    /// answer is `Some(true)` when made, `Some(false)` when taken, `None` when Redis did not
    /// answer.
    fn invite(&self, room: RoomId, invitation: Invitation) -> oneshot::Receiver<Option<bool>>;
}

/// A local peer's join, waiting for the cluster's admission.
#[derive(Debug)]
pub struct JoinRequest {
    pub peer: PeerId,
    pub room: RoomId,
    pub name: UserName,
    /// The digest of the join's key, for the cluster to check against the meeting's.
    pub key: Option<KeyDigest>,
    /// The page can send its media through the server (the room's move there counts on it).
    pub sfu: bool,
    /// The event itself, handled by the core once admitted.
    pub event: ClientEvent,
}

/// The cluster's answer to a join.
#[derive(Debug)]
pub enum Admission {
    /// In: who is in the room cluster-wide, as of `seq`, and the room's invitation if it is a
    /// private meeting (this node keeps it, so that its core decides as the cluster did).
    Admitted(Snapshot, Option<Invitation>),
    /// Not in, for the reason the core would give (no key, a wrong key).
    Refused(Refusal),
    /// The room is at its cap, counted over every node.
    Full { limit: usize },
    /// The room's media goes through a server, and this page cannot send it there.
    NeedsSfu,
    /// Redis did not answer (or this node has been declared dead and is stepping down).
    Unavailable,
}

/// A room's members cluster-wide at one point of its history.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub seq: u64,
    /// The node carrying the room's media, once it goes through a server.
    pub home: Option<NodeId>,
    pub members: Vec<RemoteMember>,
}

/// A member as the cluster knows it.
#[derive(Debug, Clone)]
pub struct RemoteMember {
    pub peer: PeerId,
    pub name: UserName,
    pub node: NodeId,
    /// Its page can send its media through the server.
    pub sfu: bool,
}

/// A chat message on its way between nodes: delivered by each node to its members of `room`.
#[derive(Debug, Clone)]
pub struct RoomChat {
    pub room: RoomId,
    pub from: PeerId,
    pub user_name: UserName,
    pub text: ChatText,
    pub at: u64,
}

/// A member's media state on its way between nodes.
#[derive(Debug, Clone)]
pub struct RoomState {
    pub room: RoomId,
    pub from: PeerId,
    pub state: PeerState,
}

/// A signal on its way to a member of `room` on another node.
#[derive(Debug, Clone)]
pub struct CrossSignal {
    pub room: RoomId,
    pub to: PeerId,
    pub from: PeerId,
    pub user_name: UserName,
    pub signal: Arc<RawValue>,
}

/// What a page said to the media forwarder, on its way to the node carrying its room's media.
#[derive(Debug, Clone)]
pub struct CrossSfuRequest {
    pub room: RoomId,
    pub from: PeerId,
    pub request: SfuRequest,
}

/// What the forwarder of a room's media home says to a page on another node.
#[derive(Debug, Clone)]
pub struct CrossSfuReply {
    pub room: RoomId,
    pub to: PeerId,
    pub reply: MediaReply,
}

/// The two things a forwarder says to a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaReply {
    Sfu(SfuReply),
    /// An `error` (a refused offer, too much bitrate).
    Error(ErrorReply),
}

impl MediaReply {
    /// What the forwarder delivered, if it is one of the two (nothing else is sent across).
    pub fn of(event: ServerEvent) -> Option<Self> {
        match event {
            ServerEvent::Sfu(reply) => Some(MediaReply::Sfu(reply)),
            ServerEvent::Error(message) => Some(MediaReply::Error(message)),
            _ => None,
        }
    }

    pub fn event(self) -> ServerEvent {
        match self {
            MediaReply::Sfu(reply) => ServerEvent::Sfu(reply),
            MediaReply::Error(message) => ServerEvent::Error(message),
        }
    }
}

/// What a local decision means for the other nodes.
#[derive(Debug, Clone)]
pub enum Effect {
    /// A local peer left `room` (not by moving to another room: the join says that).
    Left {
        room: RoomId,
        peer: PeerId,
    },
    Chat(RoomChat),
    State(RoomState),
    /// A signal from a local peer to a member on `node`.
    Signal {
        node: NodeId,
        signal: CrossSignal,
    },
    /// A local page's media request, for its room's media home `node`.
    SfuRequest {
        node: NodeId,
        request: CrossSfuRequest,
    },
    /// This node's forwarder answers a page on `node`.
    SfuReply {
        node: NodeId,
        reply: CrossSfuReply,
    },
}

/// What another node tells this one.
#[derive(Debug, Clone)]
pub enum Remote {
    Joined {
        room: RoomId,
        member: RemoteMember,
        seq: u64,
    },
    Left {
        room: RoomId,
        peer: PeerId,
        seq: u64,
    },
    Chat(RoomChat),
    State(RoomState),
    Signal(CrossSignal),
    /// The room's media goes through a server from now on, carried by `home` (a new home when
    /// the room had one: its node died or stopped).
    MediaHome {
        room: RoomId,
        home: NodeId,
        seq: u64,
    },
    SfuRequest(CrossSfuRequest),
    SfuReply(CrossSfuReply),
    /// After catching up with Redis, a node says who it has in the room now: a member of it
    /// not listed is gone (its leave may have been lost while Redis was away).
    Members {
        room: RoomId,
        node: NodeId,
        peers: Vec<PeerId>,
        seq: u64,
    },
}

impl Remote {
    /// The room whose channel carried it (signals come on the node's own channel).
    pub fn room(&self) -> Option<&RoomId> {
        match self {
            Remote::Joined { room, .. }
            | Remote::Left { room, .. }
            | Remote::Members { room, .. }
            | Remote::MediaHome { room, .. }
            | Remote::Chat(RoomChat { room, .. })
            | Remote::State(RoomState { room, .. }) => Some(room),
            Remote::Signal(_) | Remote::SfuRequest(_) | Remote::SfuReply(_) => None,
        }
    }

    pub(super) fn seq(&self) -> Option<u64> {
        match self {
            Remote::Joined { seq, .. }
            | Remote::Left { seq, .. }
            | Remote::Members { seq, .. }
            | Remote::MediaHome { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}
