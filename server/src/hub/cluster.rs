//! The hub's half of cluster mode (`--cluster`): what it asks of the cluster (`ClusterLink`,
//! implemented in `cluster/` over Redis) and what it does with what other nodes tell it
//! (`Remote`). The hub stays the one place that decides: a peer of another node is kept in the
//! core as a remote member, so the core's rules (who may signal whom, who hears a join) hold
//! across nodes, and deliveries addressed to it are skipped here, its own node makes them.
//! What this node knows of the rooms it follows (sequence numbers, buffered events, remote
//! members, media homes) and what to do with each message of another node are `mirror.rs`, a
//! type with no I/O and no lock; this file is the glue between it, the core and the link: it
//! applies the mirror's steps to the core and hands the core's outcomes on.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

pub use super::cluster_link::{
    Admission, ClusterLink, CrossSfuReply, CrossSfuRequest, CrossSignal, Effect, JoinRequest,
    MediaReply, NodeId, Remote, RemoteMember, RoomChat, RoomState, Snapshot,
};
use super::mirror::{Follow, HomeChange, MediaRoute, Mirror, Step};
use super::{Hub, State};

use crate::rooms::{Change, Delivery, KeyDigest, MediaChange, Outcome, Refusal};
use crate::wire::{ClientEvent, MediaMode, PeerId, RoomId, ServerEvent, SfuReply, UserName};

/// The hub's cluster state, under the hub's lock: the link to the cluster, and what this node
/// knows of the rooms it follows (`mirror.rs`).
pub(super) struct ClusterState {
    pub link: Arc<dyn ClusterLink>,
    pub mirror: Mirror,
}

impl ClusterState {
    pub fn new(link: Arc<dyn ClusterLink>) -> Self {
        let mirror = Mirror::new(link.node().clone());
        Self { link, mirror }
    }
}

// The hub's cluster-mode entry points, and the decisions it takes under its lock for them.

impl Hub {
    /// Joins the cluster: from now on joins are admitted by it and what other nodes must know
    /// is handed to it.
    pub fn attach_cluster(&self, link: Arc<dyn ClusterLink>) {
        let mut state = self.lock();
        state.cluster = Some(ClusterState::new(link));
        state.rooms.disable_host_controls();
        state.rooms.decide_media_elsewhere();
    }

    /// Cluster mode: the cluster's answer to a join this hub asked it to admit.
    pub fn admitted(&self, request: JoinRequest, admission: Admission) {
        let mut state = self.lock();
        let JoinRequest {
            peer, room, event, ..
        } = request;
        if let Some(cluster) = &mut state.cluster {
            cluster.mirror.joining.remove(&peer);
        }
        if let Admission::Admitted(snapshot, invitation) = &admission {
            state.take_snapshot(&room, snapshot);
            state.rooms.keep_invitation(&room, *invitation);
        }
        if !state.peers.contains_key(&peer) {
            // Gone while its join waited: undo the cluster's half.
            if let Some(cluster) = &mut state.cluster {
                cluster.mirror.waiting.remove(&peer);
                if matches!(admission, Admission::Admitted(..)) {
                    cluster.link.publish(Effect::Left {
                        room: room.clone(),
                        peer,
                    });
                }
            }
            state.forget_if_unused(&room);
            return;
        }
        let refusal = match admission {
            Admission::Admitted(snapshot, _) => {
                state.decide(peer, Ok(Some(event)));
                // The room's first member here made it just now, after the snapshot's home was
                // taken: the room moves now.
                if let Some(home) = snapshot.home {
                    state.media_home(&room, home);
                }
                None
            }
            Admission::Refused(refusal) => Some(refusal),
            Admission::Full { limit } => Some(Refusal::RoomFull {
                room: room.clone(),
                limit,
            }),
            Admission::NeedsSfu => Some(Refusal::NeedsSfu(room.clone())),
            Admission::Unavailable => Some(Refusal::ClusterUnavailable),
        };
        if let Some(refusal) = refusal {
            state.apply(Outcome::refusal(peer, refusal));
            state.forget_if_unused(&room);
        }
        state.drain_waiting(self, peer);
    }

    /// Cluster mode: what another node told this one.
    pub fn apply_remote(&self, remote: Remote) {
        let mut state = self.lock();
        let Some(cluster) = &mut state.cluster else {
            return;
        };
        if cluster.mirror.accept(&remote) {
            state.apply_remote(remote);
        }
    }

    /// Cluster mode: a followed room as Redis has it now, after this node's connection to it was
    /// cut: members it lists and this node missed join (local members are told), and the mirror
    /// goes on from its sequence number. With `live_nodes` (the second look, a node timeout
    /// later), a remote member Redis no longer lists leaves if its node is not among them: a
    /// live node says itself who it has (`Remote::Members`), a dead one cannot.
    pub fn resync(&self, room: &RoomId, snapshot: Snapshot, live_nodes: Option<&HashSet<NodeId>>) {
        let mut state = self.lock();
        let state = &mut *state;
        let Some(cluster) = &mut state.cluster else {
            return;
        };
        let peers = &state.peers;
        let Some(catch_up) = cluster
            .mirror
            .resync(room, snapshot, live_nodes, &state.rooms, |p| {
                peers.contains_key(&p)
            })
        else {
            return;
        };
        for peer in catch_up.gone {
            state.drop_remote(peer);
        }
        if let Some(home) = catch_up.home {
            state.media_home(room, home);
        }
        for join in catch_up.joins {
            state.apply_remote(join);
        }
    }

    /// Cluster mode: the node carrying `room`'s media, as this node knows it (to put it back in a
    /// Redis that lost it).
    pub fn media_home_of(&self, room: &RoomId) -> Option<NodeId> {
        self.lock()
            .cluster
            .as_ref()?
            .mirror
            .homes
            .get(room)
            .cloned()
    }

    /// Cluster mode: the rooms this node follows (to subscribe again after a reconnect).
    pub fn followed_rooms(&self) -> Vec<RoomId> {
        self.lock()
            .cluster
            .as_ref()
            .map(|c| c.mirror.follows.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Cluster mode: the local peers whose join into `room` the cluster is admitting now.
    pub fn joining(&self, room: &RoomId) -> Vec<PeerId> {
        let state = self.lock();
        state.cluster.as_ref().map_or_else(Vec::new, |c| {
            c.mirror
                .joining
                .iter()
                .filter(|(_, r)| *r == room)
                .map(|(peer, _)| *peer)
                .collect()
        })
    }

    /// Cluster mode: the local members of `room`, with their names and whether their pages can
    /// send media through the server.
    pub fn local_members(&self, room: &RoomId) -> Vec<(PeerId, UserName, bool)> {
        let state = self.lock();
        state
            .rooms
            .members(room)
            .iter()
            .filter(|&&peer| state.peers.contains_key(&peer))
            .filter_map(|&peer| {
                let name = state.rooms.name_of(peer)?.clone();
                Some((peer, name, state.rooms.can_use_sfu(peer)))
            })
            .collect()
    }
}

impl State {
    /// Cluster mode: a join into another room than the peer's is the cluster's to admit.
    pub(super) fn needs_admission(&self, peer: PeerId, event: &ClientEvent) -> bool {
        match event {
            ClientEvent::JoinRoom { room, .. } => {
                self.cluster.is_some() && self.rooms.room_of(peer) != Some(room)
            }
            _ => false,
        }
    }

    pub(super) fn ask_admission(&mut self, hub: &Hub, peer: PeerId, event: ClientEvent) {
        let (
            Some(cluster),
            ClientEvent::JoinRoom {
                room,
                name,
                key,
                sfu,
            },
        ) = (&mut self.cluster, &event)
        else {
            return;
        };
        cluster.mirror.waiting.entry(peer).or_default();
        cluster.mirror.joining.insert(peer, room.clone());
        // Until the room is live here, every admission waits for the subscription itself (a
        // repeated SUBSCRIBE is harmless): its snapshot must not predate what the channel
        // delivers, or the events in between would be lost.
        let subscribe = !matches!(cluster.mirror.follows.get(room), Some(Follow::Live { .. }));
        cluster
            .mirror
            .follows
            .entry(room.clone())
            .or_insert_with(|| Follow::Pending(Vec::new()));
        let request = JoinRequest {
            peer,
            room: room.clone(),
            name: name.clone(),
            key: key.as_ref().map(KeyDigest::of),
            sfu: *sfu,
            event,
        };
        cluster.link.admit(hub.clone(), request, subscribe);
    }

    /// Handles what a peer sent while its join waited, up to the next join the cluster must
    /// admit.
    pub(super) fn drain_waiting(&mut self, hub: &Hub, peer: PeerId) {
        loop {
            let Some(cluster) = &mut self.cluster else {
                return;
            };
            cluster.mirror.joining.remove(&peer);
            let Some(queue) = cluster.mirror.waiting.get_mut(&peer) else {
                return;
            };
            let Some(event) = queue.pop_front() else {
                cluster.mirror.waiting.remove(&peer);
                return;
            };
            match event {
                Ok(Some(join @ ClientEvent::JoinRoom { .. }))
                    if self.needs_admission(peer, &join) =>
                {
                    return self.ask_admission(hub, peer, join);
                }
                event => self.decide(peer, event),
            }
        }
    }

    /// Cluster mode: hands the other nodes what a local peer's event means for their members
    /// (joins and leaves are published by the cluster's admission and by `observe`).
    pub(super) fn publish_effects(&self, peer: PeerId, outcome: &Outcome) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let Some(room) = self.rooms.room_of(peer) else {
            return;
        };
        for Delivery { to, event } in &outcome.deliveries {
            if let ServerEvent::Signal {
                from,
                user_name,
                signal,
            } = event
                && let Some(node) = cluster.mirror.remote.get(to)
            {
                cluster.link.publish(Effect::Signal {
                    node: node.clone(),
                    signal: CrossSignal {
                        room: room.clone(),
                        to: *to,
                        from: *from,
                        user_name: user_name.clone(),
                        signal: signal.clone(),
                    },
                });
            }
        }
        if outcome.changes.iter().any(|c| matches!(c, Change::Chatted))
            && let Some(ServerEvent::Chat {
                from,
                user_name,
                text,
                at,
            }) = outcome
                .deliveries
                .iter()
                .map(|d| &d.event)
                .find(|e| matches!(e, ServerEvent::Chat { .. }))
        {
            cluster.link.publish(Effect::Chat(RoomChat {
                room: room.clone(),
                from: *from,
                user_name: user_name.clone(),
                text: text.clone(),
                at: *at,
            }));
        }
        // Only a state the core took: one it refused (the rate limit) never leaves the node.
        for change in &outcome.changes {
            if let Change::StateShared { peer, room, state } = change {
                cluster.link.publish(Effect::State(RoomState {
                    room: room.clone(),
                    from: *peer,
                    state: state.clone(),
                }));
            }
        }
    }

    /// Cluster mode: the snapshot a join's admission brought; a pending mirror goes live with
    /// the members it lists, then replays what arrived meanwhile.
    pub(super) fn take_snapshot(&mut self, room: &RoomId, snapshot: &Snapshot) {
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        let peers = &self.peers;
        let Some(catch_up) = cluster
            .mirror
            .take_snapshot(room, snapshot, |p| peers.contains_key(&p))
        else {
            return;
        };
        for join in catch_up.joins {
            self.apply_remote(join);
        }
        if let Some(home) = catch_up.home {
            self.media_home(room, home);
        }
        for remote in catch_up.replay {
            self.apply_remote(remote);
        }
    }

    /// Cluster mode: applies one thing another node said (already accepted by the mirror).
    pub(super) fn apply_remote(&mut self, remote: Remote) {
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        let peers = &self.peers;
        match cluster
            .mirror
            .decide(remote, &self.rooms, |p| peers.contains_key(&p))
        {
            Step::Ignore(why) => tracing::debug!(why, "a cluster message concerns nobody here"),
            Step::Join(room, member) => {
                let outcome = self.rooms.join_remote(
                    member.peer,
                    room,
                    member.name,
                    member.sfu,
                    Instant::now(),
                );
                self.apply(outcome);
            }
            Step::Drop(room, gone) => {
                for peer in gone {
                    self.drop_remote(peer);
                }
                self.forget_if_unused(&room);
            }
            Step::Home(room, home) => self.media_home(&room, home),
            Step::SfuRequest(from, request) => {
                let outcome = self.rooms.remote_sfu(from, request);
                self.apply(outcome);
            }
            Step::State(from, state) => {
                let outcome = self.rooms.set_remote_state(from, state);
                self.apply(outcome);
            }
            Step::Deliver(deliveries, relayed) => self.apply(Outcome {
                deliveries,
                changes: if relayed {
                    vec![Change::Relayed]
                } else {
                    Vec::new()
                },
            }),
        }
    }

    /// Cluster mode: a remote member is gone; the local members of its room are told.
    pub(super) fn drop_remote(&mut self, peer: PeerId) {
        let outcome = self.rooms.disconnect(peer);
        self.apply(outcome);
        if let Some(cluster) = &mut self.cluster {
            cluster.mirror.remote.remove(&peer);
        }
    }

    /// Cluster mode: once no local peer is in `room` (and none is joining it), this node stops
    /// following it and forgets its remote members.
    pub(super) fn forget_if_unused(&mut self, room: &RoomId) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let members = self.rooms.members(room).to_vec();
        if cluster.mirror.in_use(room, &members) {
            return;
        }
        for peer in members {
            // Its departure concerns no local peer: nothing to deliver.
            let _ = self.rooms.disconnect(peer);
            if let Some(cluster) = &mut self.cluster {
                cluster.mirror.remote.remove(&peer);
            }
        }
        if let Some(cluster) = &mut self.cluster
            && cluster.mirror.forget_room(room)
        {
            cluster.link.forget_room(room.clone());
        }
    }

    /// Cluster mode: `room`'s media goes through `home` (told by Redis at the move, or when its
    /// home changed). The first time, the core moves the room; after, a new home opens every
    /// member at its forwarder, and each page here is told to connect again, there.
    pub(super) fn media_home(&mut self, room: &RoomId, home: NodeId) {
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        let moved = self.rooms.media_of(room) == Some(MediaMode::Sfu);
        let (opens_here, closes_here) = match cluster.mirror.set_home(room, home, moved) {
            HomeChange::Same => return,
            HomeChange::First => {
                let outcome = self.rooms.move_to_sfu(room);
                self.apply(outcome);
                return;
            }
            HomeChange::Moved {
                opens_here,
                closes_here,
            } => (opens_here, closes_here),
        };
        let members = self.rooms.members(room).to_vec();
        // Memberships are never refused by the forwarder's queue (only page requests are).
        if let Some(media) = &self.media {
            for &peer in &members {
                if opens_here {
                    let room = room.clone();
                    let _ = media.send(MediaChange::Open { peer, room });
                } else if closes_here {
                    let _ = media.send(MediaChange::Close { peer });
                }
            }
        }
        let why = "The server carrying this meeting's media stopped.".to_owned();
        let deliveries = members
            .into_iter()
            .filter(|peer| self.peers.contains_key(peer))
            .map(|to| Delivery {
                to,
                event: ServerEvent::Sfu(SfuReply::Failed(why.clone())),
            })
            .collect();
        self.apply(Outcome {
            deliveries,
            changes: Vec::new(),
        });
    }

    /// Cluster mode: where the core's work for the media forwarder goes. Only a room's media
    /// home opens its members; a local page's request goes to the home, wherever it is.
    pub(super) fn media_route(&self, change: &MediaChange) -> MediaRoute {
        let Some(cluster) = &self.cluster else {
            return MediaRoute::Here;
        };
        let room = match change {
            MediaChange::Request { peer, .. } => self.rooms.room_of(*peer),
            _ => None,
        };
        cluster.mirror.media_route(change, room)
    }

    /// Cluster mode: a forwarder's reply to a page on another node goes there; the event comes
    /// back when the page is not a remote one (it is delivered here).
    pub(super) fn reply_across(&self, peer: PeerId, event: ServerEvent) -> Option<ServerEvent> {
        let Some((cluster, node)) = self
            .cluster
            .as_ref()
            .and_then(|c| Some((c, c.mirror.remote.get(&peer)?)))
        else {
            return Some(event);
        };
        if let (Some(room), Some(reply)) = (self.rooms.room_of(peer), MediaReply::of(event)) {
            cluster.link.publish(Effect::SfuReply {
                node: node.clone(),
                reply: CrossSfuReply {
                    room: room.clone(),
                    to: peer,
                    reply,
                },
            });
        }
        None
    }

    pub(super) fn is_remote(&self, peer: PeerId) -> bool {
        self.cluster
            .as_ref()
            .is_some_and(|c| c.mirror.is_remote(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::Invitation;
    use tokio::sync::oneshot;

    fn room() -> RoomId {
        RoomId::parse("standup").unwrap()
    }

    struct NoLink(NodeId);
    impl ClusterLink for NoLink {
        fn node(&self) -> &NodeId {
            &self.0
        }
        fn admit(&self, _: Hub, _: JoinRequest, _: bool) {}
        fn publish(&self, _: Effect) {}
        fn forget_room(&self, _: RoomId) {}
        fn invite(&self, _: RoomId, _: Invitation) -> oneshot::Receiver<Option<bool>> {
            oneshot::channel().1
        }
    }

    #[test]
    fn a_burst_sent_while_a_join_waits_for_the_cluster_is_kept_up_to_the_rate_limits_burst() {
        use crate::rooms::{Limits, MediaPolicy, RateLimit, RoomAccess};
        use crate::wire::{Transport, UserName};
        let limits = Limits {
            max_peers_per_room: 50,
            max_signal_bytes: 64 * 1024,
            rate: RateLimit {
                per_second: 10.0,
                burst: 1000.0,
            },
            media: MediaPolicy::Mesh,
            access: RoomAccess::Open,
        };
        let hub = Hub::new(limits, Arc::new(crate::metrics::Metrics::new()), None);
        // Redis never answers: the join waits for as long as the test sends.
        hub.attach_cluster(Arc::new(NoLink("a".into())));
        let (sender, errors) = (
            PeerId::random(),
            Arc::new(crate::hub::recorded::Recorded::default()),
        );
        hub.connect(sender, Transport::WebSocket, None, errors.clone());
        hub.receive(
            sender,
            Ok(Some(ClientEvent::JoinRoom {
                room: room(),
                name: UserName::parse("Sender").unwrap(),
                sfu: false,
                key: None,
            })),
        );
        let signal = |seq: usize| {
            let text = format!(
                r#"{{"to":"{}","signal":{{"seq":{seq}}}}}"#,
                PeerId::random()
            );
            let raw = serde_json::value::RawValue::from_string(text).unwrap();
            ClientEvent::decode("signal", Some(&raw))
        };
        for seq in 0..1000 {
            hub.receive(sender, signal(seq));
        }
        // Before: refused from the 257th on (a fixed 256), in cluster mode only.
        assert!(errors.errors().is_empty(), "{:?}", errors.errors().first());
        hub.receive(sender, signal(1000));
        assert_eq!(
            errors.errors().len(),
            1,
            "past the burst: refused as over the rate"
        );
    }
}
