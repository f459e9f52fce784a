//! What this node knows of the cluster's rooms it follows, with no I/O and no lock: the hub
//! holds it under its lock, asks it what to do with what other nodes say, and does it.
//!
//! Each room this node has members in is followed: `Pending` buffers what arrives on the
//! room's channel until the snapshot taken with the first local join answers; then it is
//! `Live`, and a room event whose sequence number it has seen is ignored. Sequence numbers come
//! from Redis, which numbers a room's joins and leaves in the order it applies them. Beside
//! that: the node of each remote member, the peers whose join waits for the cluster (and what
//! they sent meanwhile), and the node carrying each room's media.

use std::collections::{HashMap, HashSet, VecDeque};

use super::cluster_link::{
    CrossSfuReply, CrossSfuRequest, CrossSignal, Effect, NodeId, Remote, RemoteMember, RoomChat,
    RoomState, Snapshot,
};
use crate::rooms::{Delivery, MediaChange, Rooms};
use crate::wire::{
    ClientEvent, PeerId, PeerState, ProtocolError, RoomId, ServerEvent, SfuRequest, UserName,
};

/// What the mirror's decisions read of the core (the core, `Rooms`, is one; tests use a small
/// stand-in).
pub(super) trait RoomsView {
    fn room_of(&self, peer: PeerId) -> Option<&RoomId>;
    fn name_of(&self, peer: PeerId) -> Option<&UserName>;
    fn share_room(&self, a: PeerId, b: PeerId) -> bool;
    fn members(&self, room: &RoomId) -> &[PeerId];
}

impl RoomsView for Rooms {
    fn room_of(&self, peer: PeerId) -> Option<&RoomId> {
        Rooms::room_of(self, peer)
    }
    fn name_of(&self, peer: PeerId) -> Option<&UserName> {
        Rooms::name_of(self, peer)
    }
    fn share_room(&self, a: PeerId, b: PeerId) -> bool {
        Rooms::share_room(self, a, b)
    }
    fn members(&self, room: &RoomId) -> &[PeerId] {
        Rooms::members(self, room)
    }
}

/// What the hub is to do with one thing another node said (already accepted by
/// [`Mirror::accept`]).
#[derive(Debug)]
pub(super) enum Step {
    /// Nothing: it concerns nobody here, or it does not hold (said why, for the log).
    Ignore(&'static str),
    /// A member of another node joins `room` in the core.
    Join(RoomId, RemoteMember),
    /// These remote members are gone from `room`; this node may stop following it after.
    Drop(RoomId, Vec<PeerId>),
    /// `room`'s media goes through `home` now.
    Home(RoomId, NodeId),
    /// A page on another node asks this node's forwarder (the core checks it as a page's).
    SfuRequest(PeerId, SfuRequest),
    /// A remote member's media state, for the core to take.
    State(PeerId, PeerState),
    /// Events for local peers; `relayed`: a signal, counted as such.
    Deliver(Vec<Delivery>, bool),
}

/// Where one piece of the core's work for the media forwarder goes.
pub(super) enum MediaRoute {
    /// This node's forwarder.
    Here,
    /// The room's media home, another node.
    Home(Effect),
    /// Nowhere: another node's forwarder opens that member, or the room has no home yet.
    Nowhere,
}

/// How far this node follows a room.
pub(super) enum Follow {
    /// Subscribed, waiting for the snapshot; what arrived meanwhile, in order.
    Pending(Vec<Remote>),
    /// Following: the last room sequence number applied.
    Live { seq: u64 },
}

/// What a new media home means here (see [`Mirror::set_home`]).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum HomeChange {
    /// The same home as before: nothing to do.
    Same,
    /// The room's first home: the room moves to the server.
    First,
    /// Another node than before carries the room's media now.
    Moved {
        /// This node opens every member at its forwarder.
        opens_here: bool,
        /// This node carried it: it closes them.
        closes_here: bool,
    },
}

/// What a room as Redis has it (a [`Snapshot`]) means here: remote members gone, the room's
/// media home, members to join (as `Remote::Joined`, decided like any), and what arrived on the
/// room's channel meanwhile and is still new.
#[derive(Debug)]
pub(super) struct CatchUp {
    pub gone: Vec<PeerId>,
    pub home: Option<NodeId>,
    pub joins: Vec<Remote>,
    pub replay: Vec<Remote>,
}

pub(super) struct Mirror {
    node: NodeId,
    /// Events a peer sent while its join waits for admission, in order.
    pub waiting: HashMap<PeerId, VecDeque<Result<Option<ClientEvent>, ProtocolError>>>,
    /// The room each of those peers is being admitted to.
    pub joining: HashMap<PeerId, RoomId>,
    /// The node of each remote member kept in the core.
    pub remote: HashMap<PeerId, NodeId>,
    pub follows: HashMap<RoomId, Follow>,
    /// The node carrying each followed room's media, for rooms whose media goes through one.
    pub homes: HashMap<RoomId, NodeId>,
}

impl Mirror {
    pub fn new(node: NodeId) -> Self {
        Self {
            node,
            waiting: HashMap::new(),
            joining: HashMap::new(),
            remote: HashMap::new(),
            follows: HashMap::new(),
            homes: HashMap::new(),
        }
    }

    /// Whether this node carries `room`'s media.
    pub fn is_home(&self, room: &RoomId) -> bool {
        self.homes.get(room) == Some(&self.node)
    }

    /// Whether a room event is to be applied now: `false` when it is buffered (pending),
    /// already seen, or about a room this node does not follow.
    pub fn accept(&mut self, remote: &Remote) -> bool {
        let Some(room) = remote.room() else {
            return true;
        };
        match self.follows.get_mut(room) {
            None => false,
            Some(Follow::Pending(buffer)) => {
                buffer.push(remote.clone());
                false
            }
            Some(Follow::Live { seq }) => match remote.seq() {
                Some(at) if at <= *seq => false,
                Some(at) => {
                    *seq = at;
                    true
                }
                None => true,
            },
        }
    }

    /// Makes a pending room live at `seq`; returns what it buffered (to be accepted again,
    /// which drops what the snapshot has seen), or `None` when it was live already (its stream
    /// is complete: the snapshot adds nothing).
    pub fn go_live(&mut self, room: &RoomId, seq: u64) -> Option<Vec<Remote>> {
        match self.follows.insert(room.clone(), Follow::Live { seq }) {
            Some(Follow::Pending(buffer)) => Some(buffer),
            Some(live @ Follow::Live { .. }) => {
                self.follows.insert(room.clone(), live);
                None
            }
            None => Some(Vec::new()),
        }
    }

    pub fn is_remote(&self, peer: PeerId) -> bool {
        self.remote.contains_key(&peer)
    }

    /// Whether this node must go on following `room`, whose members are `members`: while a
    /// local peer is in it or joining it, and, for a room whose media it carries, while anyone
    /// is in it.
    pub fn in_use(&self, room: &RoomId, members: &[PeerId]) -> bool {
        members.iter().any(|p| !self.is_remote(*p))
            || self.joining.values().any(|r| r == room)
            || (self.is_home(room) && !members.is_empty())
    }

    /// Stops following `room`; true if it was followed (its channel is to be left).
    pub fn forget_room(&mut self, room: &RoomId) -> bool {
        self.homes.remove(room);
        self.follows.remove(room).is_some()
    }

    /// The remote members among `members` that `node` no longer has (it listed `peers`).
    pub fn gone_from(&self, node: &NodeId, members: &[PeerId], peers: &[PeerId]) -> Vec<PeerId> {
        members
            .iter()
            .copied()
            .filter(|p| self.remote.get(p) == Some(node) && !peers.contains(p))
            .collect()
    }

    /// `room`'s media goes through `home` now; `moved`: the room's media already went through
    /// a server (the core had moved it).
    pub fn set_home(&mut self, room: &RoomId, home: NodeId, moved: bool) -> HomeChange {
        let before = self.homes.insert(room.clone(), home.clone());
        if before.as_ref() != Some(&home) {
            log_private!(info, [], [room = %room,], [home = %home, here = (home == self.node),], "room media carried by a node");
        }
        if !moved {
            return HomeChange::First;
        }
        if before.as_ref() == Some(&home) {
            return HomeChange::Same;
        }
        HomeChange::Moved {
            opens_here: home == self.node,
            closes_here: before.as_ref() == Some(&self.node),
        }
    }

    /// The snapshot a join's admission brought: a pending room goes live with the members it
    /// lists, then replays what arrived meanwhile that the snapshot has not seen. `None` when the
    /// room was live already (its stream is complete: the snapshot adds nothing).
    pub fn take_snapshot(
        &mut self,
        room: &RoomId,
        snapshot: &Snapshot,
        local: impl Fn(PeerId) -> bool,
    ) -> Option<CatchUp> {
        let buffered = self.go_live(room, snapshot.seq)?;
        let joins = snapshot
            .members
            .iter()
            .filter(|m| m.node != self.node && !local(m.peer))
            .map(|member| Remote::Joined {
                room: room.clone(),
                member: member.clone(),
                seq: snapshot.seq,
            })
            .collect();
        let replay = buffered.into_iter().filter(|r| self.accept(r)).collect();
        Some(CatchUp {
            gone: Vec::new(),
            home: snapshot.home.clone(),
            joins,
            replay,
        })
    }

    /// A followed room as Redis has it after this node's connection to it was cut: it goes on
    /// from the snapshot's sequence number; members it lists and this node missed join. With
    /// `live_nodes` (the second look, a node timeout later), a remote member Redis no longer
    /// lists is gone if its node is not among them: a live node says itself who it has
    /// (`Remote::Members`), a dead one cannot. `None` for a room not followed.
    pub fn resync(
        &mut self,
        room: &RoomId,
        snapshot: Snapshot,
        live_nodes: Option<&HashSet<NodeId>>,
        rooms: &impl RoomsView,
        local: impl Fn(PeerId) -> bool,
    ) -> Option<CatchUp> {
        if !self.follows.contains_key(room) {
            return None;
        }
        self.follows
            .insert(room.clone(), Follow::Live { seq: snapshot.seq });
        let gone = match live_nodes {
            None => Vec::new(),
            Some(live) => {
                let listed: HashSet<PeerId> = snapshot.members.iter().map(|m| m.peer).collect();
                rooms
                    .members(room)
                    .iter()
                    .copied()
                    .filter(|p| !listed.contains(p))
                    .filter(|p| self.remote.get(p).is_some_and(|node| !live.contains(node)))
                    .collect()
            }
        };
        let joins = snapshot
            .members
            .into_iter()
            .filter(|m| {
                m.node != self.node && !local(m.peer) && rooms.room_of(m.peer) != Some(room)
            })
            .map(|member| Remote::Joined {
                room: room.clone(),
                member,
                seq: snapshot.seq,
            })
            .collect();
        Some(CatchUp {
            gone,
            home: snapshot.home,
            joins,
            replay: Vec::new(),
        })
    }

    /// What to do with `remote`, as the core (`rooms`) and this node's connections (`local`)
    /// stand. Each message is checked as a local event would be: a chat, state, signal or media
    /// message forged into Redis, or from someone who has left, concerns nobody.
    pub fn decide(
        &mut self,
        remote: Remote,
        rooms: &impl RoomsView,
        local: impl Fn(PeerId) -> bool,
    ) -> Step {
        match remote {
            Remote::Joined { room, member, .. } => {
                if member.node == self.node || local(member.peer) {
                    return Step::Ignore("a join of this node's own peer");
                }
                self.remote.insert(member.peer, member.node.clone());
                Step::Join(room, member)
            }
            Remote::Left { room, peer, .. } => {
                if self.is_remote(peer) && rooms.room_of(peer) == Some(&room) {
                    Step::Drop(room, vec![peer])
                } else {
                    Step::Ignore("a leave of someone not in that room here")
                }
            }
            Remote::MediaHome { room, home, .. } => Step::Home(room, home),
            Remote::SfuRequest(CrossSfuRequest {
                room,
                from,
                request,
            }) => {
                // Only for a room whose media this node carries, from a member of it on another
                // node; the core checks the rest as it does a local page's.
                if self.is_remote(from) && self.is_home(&room) && rooms.room_of(from) == Some(&room)
                {
                    Step::SfuRequest(from, request)
                } else {
                    Step::Ignore("a media request not for a room whose media this node carries")
                }
            }
            Remote::SfuReply(CrossSfuReply { room, to, reply }) => {
                if local(to) && rooms.room_of(to) == Some(&room) {
                    let event = reply.event();
                    Step::Deliver(vec![Delivery { to, event }], false)
                } else {
                    Step::Ignore("a media reply whose page is not in that room here")
                }
            }
            Remote::Members {
                room, node, peers, ..
            } => {
                let gone = self.gone_from(&node, rooms.members(&room), &peers);
                Step::Drop(room, gone)
            }
            Remote::Chat(RoomChat {
                room,
                from,
                user_name,
                text,
                at,
            }) => {
                // Under another name than its sender's, it is forged.
                let genuine = self.is_remote(from)
                    && rooms.room_of(from) == Some(&room)
                    && rooms.name_of(from) == Some(&user_name);
                if !genuine {
                    return Step::Ignore("a chat whose sender is not in that room here");
                }
                let event = ServerEvent::Chat {
                    from,
                    user_name,
                    text,
                    at,
                };
                let deliveries = rooms
                    .members(&room)
                    .iter()
                    .filter(|to| local(**to))
                    .map(|&to| Delivery {
                        to,
                        event: event.clone(),
                    })
                    .collect();
                Step::Deliver(deliveries, false)
            }
            Remote::State(RoomState { room, from, state }) => {
                if self.is_remote(from) && rooms.room_of(from) == Some(&room) {
                    Step::State(from, state)
                } else {
                    Step::Ignore("a state whose sender is not in that room here")
                }
            }
            Remote::Signal(CrossSignal {
                room,
                to,
                from,
                user_name,
                signal,
            }) => {
                if !(local(to) && rooms.room_of(to) == Some(&room) && rooms.share_room(from, to)) {
                    return Step::Ignore("a signal whose target is not in the sender's room here");
                }
                let event = ServerEvent::Signal {
                    from,
                    user_name,
                    signal,
                };
                Step::Deliver(vec![Delivery { to, event }], true)
            }
        }
    }

    /// Where the core's work for the media forwarder goes, `room` being the requesting peer's
    /// room. Only a room's media home opens its members; a local page's request goes to the
    /// home, wherever it is.
    pub fn media_route(&self, change: &MediaChange, room: Option<&RoomId>) -> MediaRoute {
        match change {
            MediaChange::Open { room, .. } if self.is_home(room) => MediaRoute::Here,
            MediaChange::Open { .. } => MediaRoute::Nowhere,
            MediaChange::Close { .. } => MediaRoute::Here,
            MediaChange::Request { peer, request } => {
                let Some(room) = room else {
                    return MediaRoute::Nowhere;
                };
                match self.homes.get(room) {
                    Some(home) if *home == self.node => MediaRoute::Here,
                    Some(home) => MediaRoute::Home(Effect::SfuRequest {
                        node: home.clone(),
                        request: CrossSfuRequest {
                            room: room.clone(),
                            from: *peer,
                            request: request.clone(),
                        },
                    }),
                    None => MediaRoute::Nowhere,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::SfuRequest;

    fn room() -> RoomId {
        RoomId::parse("r").unwrap()
    }

    fn left(seq: u64) -> Remote {
        Remote::Left {
            room: room(),
            peer: PeerId::random(),
            seq,
        }
    }

    #[test]
    fn a_pending_room_buffers_then_replays_only_what_its_snapshot_has_not_seen() {
        let mut mirror = Mirror::new("a".into());
        assert!(!mirror.accept(&left(1)), "a room not followed is ignored");
        mirror.follows.insert(room(), Follow::Pending(Vec::new()));
        for seq in [4, 5, 6] {
            assert!(!mirror.accept(&left(seq)), "buffered while pending");
        }
        let replay = mirror.go_live(&room(), 5).expect("it was pending");
        let applied: Vec<u64> = replay
            .iter()
            .filter(|r| mirror.accept(r))
            .filter_map(Remote::seq)
            .collect();
        assert_eq!(applied, [6], "what the snapshot has seen is dropped");
        assert!(!mirror.accept(&left(6)), "seen already");
        assert!(
            mirror.go_live(&room(), 9).is_none(),
            "a live room keeps its stream"
        );
        assert!(mirror.accept(&left(7)));
        assert!(!mirror.accept(&left(7)), "a repeat is ignored");
    }

    #[test]
    fn a_room_is_followed_while_a_local_peer_is_in_it_or_joining_or_while_its_media_is_carried_here()
     {
        let mut mirror = Mirror::new("a".into());
        let (local, remote) = (PeerId::random(), PeerId::random());
        mirror.remote.insert(remote, "b".into());
        assert!(mirror.in_use(&room(), &[local, remote]));
        assert!(!mirror.in_use(&room(), &[remote]), "only remote members");
        mirror.joining.insert(local, room());
        assert!(
            mirror.in_use(&room(), &[remote]),
            "someone here is joining it"
        );
        mirror.joining.clear();
        mirror.set_home(&room(), "a".into(), true);
        assert!(
            mirror.in_use(&room(), &[remote]),
            "its media is carried here"
        );
        assert!(!mirror.in_use(&room(), &[]), "nobody left in it");
        mirror.follows.insert(room(), Follow::Live { seq: 1 });
        assert!(mirror.forget_room(&room()), "it was followed");
        assert!(!mirror.is_home(&room()), "its home is forgotten with it");
        assert!(!mirror.forget_room(&room()));
    }

    #[test]
    fn a_node_that_says_who_it_has_takes_out_only_its_own_members_not_listed() {
        let mut mirror = Mirror::new("a".into());
        let [kept, gone, other, local] = [(); 4].map(|_| PeerId::random());
        for peer in [kept, gone] {
            mirror.remote.insert(peer, "b".into());
        }
        mirror.remote.insert(other, "c".into());
        let members = [kept, gone, other, local];
        assert_eq!(mirror.gone_from(&"b".into(), &members, &[kept]), [gone]);
    }

    #[test]
    fn a_new_home_moves_the_room_the_first_time_then_opens_or_closes_its_members_here() {
        let mut mirror = Mirror::new("a".into());
        assert_eq!(
            mirror.set_home(&room(), "b".into(), false),
            HomeChange::First
        );
        assert_eq!(mirror.set_home(&room(), "b".into(), true), HomeChange::Same);
        assert_eq!(
            mirror.set_home(&room(), "a".into(), true),
            HomeChange::Moved {
                opens_here: true,
                closes_here: false
            }
        );
        assert_eq!(
            mirror.set_home(&room(), "c".into(), true),
            HomeChange::Moved {
                opens_here: false,
                closes_here: true
            }
        );
    }

    #[test]
    fn only_the_home_opens_members_and_a_pages_request_goes_to_the_home() {
        let mut mirror = Mirror::new("a".into());
        let peer = PeerId::random();
        let open = MediaChange::Open { peer, room: room() };
        let request = MediaChange::Request {
            peer,
            request: SfuRequest::Offer("v=0".into()),
        };
        assert!(matches!(
            mirror.media_route(&open, None),
            MediaRoute::Nowhere
        ));
        assert!(
            matches!(
                mirror.media_route(&request, Some(&room())),
                MediaRoute::Nowhere
            ),
            "no home yet"
        );
        mirror.set_home(&room(), "b".into(), true);
        match mirror.media_route(&request, Some(&room())) {
            MediaRoute::Home(Effect::SfuRequest { node, request }) => {
                assert_eq!((&*node, request.from), ("b", peer));
            }
            _ => panic!("a request goes to the home's node"),
        }
        assert!(
            matches!(mirror.media_route(&request, None), MediaRoute::Nowhere),
            "roomless"
        );
        mirror.set_home(&room(), "a".into(), true);
        assert!(matches!(mirror.media_route(&open, None), MediaRoute::Here));
        assert!(matches!(
            mirror.media_route(&request, Some(&room())),
            MediaRoute::Here
        ));
        let close = MediaChange::Close { peer };
        assert!(matches!(mirror.media_route(&close, None), MediaRoute::Here));
    }

    /// A stand-in for the core: who is in which room, under which name.
    #[derive(Default)]
    struct Seats(Vec<(PeerId, RoomId, UserName)>, Vec<PeerId>);

    impl Seats {
        fn seat(&mut self, peer: PeerId, name: &str) {
            self.0.push((peer, room(), UserName::parse(name).unwrap()));
            self.1.push(peer);
        }
    }

    impl RoomsView for Seats {
        fn room_of(&self, peer: PeerId) -> Option<&RoomId> {
            self.0.iter().find(|s| s.0 == peer).map(|s| &s.1)
        }
        fn name_of(&self, peer: PeerId) -> Option<&UserName> {
            self.0.iter().find(|s| s.0 == peer).map(|s| &s.2)
        }
        fn share_room(&self, a: PeerId, b: PeerId) -> bool {
            self.room_of(a).is_some() && self.room_of(a) == self.room_of(b)
        }
        fn members(&self, _: &RoomId) -> &[PeerId] {
            &self.1
        }
    }

    /// A room on this node ("a") with Ann here and Bob on node "b".
    fn ann_and_bob() -> (Mirror, Seats, PeerId, PeerId) {
        let mut mirror = Mirror::new("a".into());
        let (ann, bob) = (PeerId::random(), PeerId::random());
        mirror.remote.insert(bob, "b".into());
        let mut seats = Seats::default();
        seats.seat(ann, "Ann");
        seats.seat(bob, "Bob");
        (mirror, seats, ann, bob)
    }

    fn chat(from: PeerId, name: &str) -> Remote {
        Remote::Chat(RoomChat {
            room: room(),
            from,
            user_name: UserName::parse(name).unwrap(),
            text: crate::wire::ChatText::parse("hi").unwrap(),
            at: 0,
        })
    }

    #[test]
    fn a_chat_reaches_the_local_members_only_from_a_remote_member_under_its_own_name() {
        let (mut mirror, seats, ann, bob) = ann_and_bob();
        let local = |p: PeerId| p == ann;
        match mirror.decide(chat(bob, "Bob"), &seats, local) {
            Step::Deliver(deliveries, false) => {
                assert_eq!(deliveries.iter().map(|d| d.to).collect::<Vec<_>>(), [ann]);
            }
            other => panic!("{other:?}"),
        }
        for forged in [
            chat(bob, "Mallory"),
            chat(ann, "Ann"),
            chat(PeerId::random(), "Bob"),
        ] {
            assert!(matches!(
                mirror.decide(forged, &seats, local),
                Step::Ignore(_)
            ));
        }
    }

    #[test]
    fn a_signal_reaches_only_a_local_peer_of_the_senders_room() {
        let (mut mirror, seats, ann, bob) = ann_and_bob();
        let signal = |to| {
            Remote::Signal(CrossSignal {
                room: room(),
                to,
                from: bob,
                user_name: UserName::parse("Bob").unwrap(),
                signal: serde_json::value::RawValue::from_string("{}".into())
                    .unwrap()
                    .into(),
            })
        };
        let local = |p: PeerId| p == ann;
        assert!(matches!(
            mirror.decide(signal(ann), &seats, local),
            Step::Deliver(_, true)
        ));
        let stranger = PeerId::random();
        assert!(matches!(
            mirror.decide(signal(stranger), &seats, |p| p == stranger),
            Step::Ignore(_)
        ));
    }

    #[test]
    fn a_media_request_reaches_the_forwarder_only_at_the_rooms_home_from_a_member() {
        let (mut mirror, seats, ann, bob) = ann_and_bob();
        let request = |from| {
            Remote::SfuRequest(CrossSfuRequest {
                room: room(),
                from,
                request: SfuRequest::Offer("v=0".into()),
            })
        };
        let local = |p: PeerId| p == ann;
        assert!(
            matches!(mirror.decide(request(bob), &seats, local), Step::Ignore(_)),
            "not the home"
        );
        mirror.set_home(&room(), "a".into(), true);
        assert!(matches!(
            mirror.decide(request(bob), &seats, local),
            Step::SfuRequest(from, _) if from == bob
        ));
        assert!(
            matches!(
                mirror.decide(request(PeerId::random()), &seats, local),
                Step::Ignore(_)
            ),
            "not a member"
        );
    }

    #[test]
    fn a_join_of_another_nodes_member_is_kept_and_one_of_this_node_is_not() {
        let mut mirror = Mirror::new("a".into());
        let seats = Seats::default();
        let joined = |node: &str| Remote::Joined {
            room: room(),
            member: RemoteMember {
                peer: PeerId::random(),
                name: UserName::parse("Cy").unwrap(),
                node: node.into(),
                sfu: false,
            },
            seq: 1,
        };
        assert!(matches!(
            mirror.decide(joined("a"), &seats, |_| false),
            Step::Ignore(_)
        ));
        match mirror.decide(joined("b"), &seats, |_| false) {
            Step::Join(_, member) => assert!(mirror.is_remote(member.peer)),
            other => panic!("{other:?}"),
        }
    }

    fn member(node: &str) -> RemoteMember {
        RemoteMember {
            peer: PeerId::random(),
            name: UserName::parse("Cy").unwrap(),
            node: node.into(),
            sfu: true,
        }
    }

    #[test]
    fn a_snapshot_joins_other_nodes_members_sets_the_home_and_replays_only_what_is_new() {
        let mut mirror = Mirror::new("a".into());
        mirror.follows.insert(room(), Follow::Pending(Vec::new()));
        for seq in [3, 4] {
            mirror.accept(&left(seq));
        }
        let (ours, theirs) = (member("a"), member("b"));
        let snapshot = Snapshot {
            seq: 3,
            home: Some("b".into()),
            members: vec![ours, theirs.clone()],
        };
        let caught = mirror.take_snapshot(&room(), &snapshot, |_| false).unwrap();
        let joined: Vec<PeerId> = caught
            .joins
            .iter()
            .filter_map(|j| match j {
                Remote::Joined { member, .. } => Some(member.peer),
                _ => None,
            })
            .collect();
        assert_eq!(joined, [theirs.peer], "not this node's own member");
        assert_eq!(caught.home.as_deref(), Some("b"));
        assert_eq!(
            caught
                .replay
                .iter()
                .filter_map(Remote::seq)
                .collect::<Vec<_>>(),
            [4]
        );
        assert!(
            mirror
                .take_snapshot(&room(), &snapshot, |_| false)
                .is_none(),
            "live already"
        );
    }

    #[test]
    fn after_a_cut_a_remote_member_redis_forgot_is_gone_only_once_its_node_is_known_dead() {
        let (mut mirror, seats, ann, bob) = ann_and_bob();
        mirror.follows.insert(room(), Follow::Live { seq: 1 });
        let forgot = || Snapshot {
            seq: 9,
            home: None,
            members: Vec::new(),
        };
        let local = |p: PeerId| p == ann;
        let first = mirror
            .resync(&room(), forgot(), None, &seats, local)
            .unwrap();
        assert!(
            first.gone.is_empty(),
            "the first look takes nobody for gone"
        );
        let alive: HashSet<NodeId> = ["b".into()].into();
        let live = mirror
            .resync(&room(), forgot(), Some(&alive), &seats, local)
            .unwrap();
        assert!(
            live.gone.is_empty(),
            "Bob's node is alive: it says itself who it has"
        );
        let dead = HashSet::new();
        let last = mirror
            .resync(&room(), forgot(), Some(&dead), &seats, local)
            .unwrap();
        assert_eq!(last.gone, [bob]);
        assert!(
            mirror
                .resync(
                    &RoomId::parse("other").unwrap(),
                    forgot(),
                    None,
                    &seats,
                    local
                )
                .is_none()
        );
    }
}
