//! The hub's half of cluster mode (`--cluster`): what it asks of the cluster (`ClusterLink`,
//! implemented in `cluster/` over Redis) and what it does with what other nodes tell it
//! (`Remote`). The hub stays the one place that decides: a peer of another node is kept in the
//! core as a remote member, so the core's rules (who may signal whom, who hears a join) hold
//! across nodes, and deliveries addressed to it are skipped here, its own node makes them.
//!
//! Each room this node has members in is mirrored: a `Pending` mirror buffers what arrives on
//! the room's channel until the snapshot taken with the first local join answers; then it is
//! `Live`, and a room event whose sequence number the mirror has seen is ignored. Sequence
//! numbers come from Redis, which numbers a room's joins and leaves in the order it applies them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::value::RawValue;

use crate::wire::{ChatText, ClientEvent, PeerId, PeerState, ProtocolError, RoomId, UserName};

/// A node of the cluster, named by itself at start.
pub type NodeId = Arc<str>;

/// What the hub needs from the cluster. Called under the hub's lock: nothing here may wait.
pub trait ClusterLink: Send + Sync {
    /// This node's id.
    fn node(&self) -> &NodeId;
    /// Asks the cluster to admit `peer` into `room` (the room's cap counted over every node);
    /// the answer comes back through [`super::Hub::admitted`] with `event`. `subscribe`: this
    /// node does not follow the room yet, so the cluster must start to before it asks.
    fn admit(&self, hub: super::Hub, request: JoinRequest, subscribe: bool);
    /// Hands an effect of a local decision to the other nodes, in the order given.
    fn publish(&self, effect: Effect);
    /// This node has no member left in `room`: stop following it.
    fn forget_room(&self, room: RoomId);
}

/// A local peer's join, waiting for the cluster's admission.
#[derive(Debug)]
pub struct JoinRequest {
    pub peer: PeerId,
    pub room: RoomId,
    pub name: UserName,
    /// The event itself, handled by the core once admitted.
    pub event: ClientEvent,
}

/// The cluster's answer to a join.
#[derive(Debug)]
pub enum Admission {
    /// In: who is in the room cluster-wide, as of `seq`.
    Admitted(Snapshot),
    /// The room is at its cap, counted over every node.
    Full { limit: usize },
    /// Redis did not answer (or this node has been declared dead and is stepping down).
    Unavailable,
}

/// A room's members cluster-wide at one point of its history.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub seq: u64,
    pub members: Vec<RemoteMember>,
}

/// A member as the cluster knows it.
#[derive(Debug, Clone)]
pub struct RemoteMember {
    pub peer: PeerId,
    pub name: UserName,
    pub node: NodeId,
}

/// What a local decision means for the other nodes.
#[derive(Debug, Clone)]
pub enum Effect {
    /// A local peer left `room` (not by moving to another room: the join says that).
    Left { room: RoomId, peer: PeerId },
    Chat {
        room: RoomId,
        from: PeerId,
        user_name: UserName,
        text: ChatText,
        at: u64,
    },
    State {
        room: RoomId,
        from: PeerId,
        state: PeerState,
    },
    /// A signal from a local peer to a member on `node`.
    Signal {
        node: NodeId,
        room: RoomId,
        to: PeerId,
        from: PeerId,
        user_name: UserName,
        signal: Arc<RawValue>,
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
    Chat {
        room: RoomId,
        from: PeerId,
        user_name: UserName,
        text: ChatText,
        at: u64,
    },
    State {
        room: RoomId,
        from: PeerId,
        state: PeerState,
    },
    Signal {
        room: RoomId,
        to: PeerId,
        from: PeerId,
        user_name: UserName,
        signal: Arc<RawValue>,
    },
}

impl Remote {
    /// The room whose channel carried it (signals come on the node's own channel).
    pub fn room(&self) -> Option<&RoomId> {
        match self {
            Remote::Joined { room, .. }
            | Remote::Left { room, .. }
            | Remote::Chat { room, .. }
            | Remote::State { room, .. } => Some(room),
            Remote::Signal { .. } => None,
        }
    }

    fn seq(&self) -> Option<u64> {
        match self {
            Remote::Joined { seq, .. } | Remote::Left { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}

/// How far this node follows a room.
pub(super) enum Mirror {
    /// Subscribed, waiting for the snapshot; what arrived meanwhile, in order.
    Pending(Vec<Remote>),
    /// Following: the last room sequence number applied.
    Live { seq: u64 },
}

/// Most events a peer may send while its join waits for the cluster (then they are refused).
pub(super) const MAX_WAITING: usize = 256;

/// The hub's cluster state, under the hub's lock.
pub(super) struct ClusterState {
    pub link: Arc<dyn ClusterLink>,
    /// Events a peer sent while its join waits for admission, in order.
    pub waiting: HashMap<PeerId, VecDeque<Result<Option<ClientEvent>, ProtocolError>>>,
    /// The room each of those peers is being admitted to.
    pub joining: HashMap<PeerId, RoomId>,
    /// The node of each remote member kept in the core.
    pub remote: HashMap<PeerId, NodeId>,
    pub mirrors: HashMap<RoomId, Mirror>,
}

impl ClusterState {
    pub fn new(link: Arc<dyn ClusterLink>) -> Self {
        Self {
            link,
            waiting: HashMap::new(),
            joining: HashMap::new(),
            remote: HashMap::new(),
            mirrors: HashMap::new(),
        }
    }

    /// Whether a room event is to be applied now: `false` when it is buffered (mirror pending),
    /// already seen, or about a room this node does not follow.
    pub fn accept(&mut self, remote: &Remote) -> bool {
        let Some(room) = remote.room() else {
            return true;
        };
        match self.mirrors.get_mut(room) {
            None => false,
            Some(Mirror::Pending(buffer)) => {
                buffer.push(remote.clone());
                false
            }
            Some(Mirror::Live { seq }) => match remote.seq() {
                Some(at) if at <= *seq => false,
                Some(at) => {
                    *seq = at;
                    true
                }
                None => true,
            },
        }
    }

    /// Makes a pending mirror live at `seq`; returns what it buffered (to be accepted again,
    /// which drops what the snapshot has seen), or `None` when the mirror was live already (its
    /// stream is complete: the snapshot adds nothing).
    pub fn go_live(&mut self, room: &RoomId, seq: u64) -> Option<Vec<Remote>> {
        match self.mirrors.insert(room.clone(), Mirror::Live { seq }) {
            Some(Mirror::Pending(buffer)) => Some(buffer),
            Some(live @ Mirror::Live { .. }) => {
                self.mirrors.insert(room.clone(), live);
                None
            }
            None => Some(Vec::new()),
        }
    }

    pub fn is_remote(&self, peer: PeerId) -> bool {
        self.remote.contains_key(&peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> RoomId {
        RoomId::parse("standup").unwrap()
    }

    fn left(seq: u64) -> Remote {
        Remote::Left {
            room: room(),
            peer: PeerId::random(),
            seq,
        }
    }

    struct NoLink(NodeId);
    impl ClusterLink for NoLink {
        fn node(&self) -> &NodeId {
            &self.0
        }
        fn admit(&self, _: super::super::Hub, _: JoinRequest, _: bool) {}
        fn publish(&self, _: Effect) {}
        fn forget_room(&self, _: RoomId) {}
    }

    #[test]
    fn a_pending_mirror_buffers_then_replays_only_what_its_snapshot_has_not_seen() {
        let mut state = ClusterState::new(Arc::new(NoLink("a".into())));
        assert!(!state.accept(&left(1)), "a room not followed is ignored");
        state.mirrors.insert(room(), Mirror::Pending(Vec::new()));
        for seq in [4, 5, 6] {
            assert!(!state.accept(&left(seq)), "buffered while pending");
        }
        let replay = state.go_live(&room(), 5).expect("it was pending");
        let applied: Vec<u64> = replay
            .iter()
            .filter(|r| state.accept(r))
            .filter_map(Remote::seq)
            .collect();
        assert_eq!(applied, [6], "what the snapshot has seen is dropped");
        assert!(!state.accept(&left(6)), "seen already");
        assert!(
            state.go_live(&room(), 9).is_none(),
            "a live mirror keeps its stream"
        );
        assert!(state.accept(&left(7)));
        assert!(!state.accept(&left(7)), "a repeat is ignored");
    }
}
