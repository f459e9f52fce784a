//! Protects the core's invariants under any sequence of joins, leaves, signals, chat messages,
//! media states, connects and disconnects from several peers (proptest): each peer in at most
//! one room; member lists and peers' seats agree; a signal is delivered if and only if sender
//! and target share a room; a chat message or a state reaches exactly the sender's room (chat:
//! the sender included; state: the others), nobody outside it; every departure is announced
//! exactly once to each remaining member; empty rooms are removed; a room goes through the SFU
//! only if every member can, and the forwarder is told to serve exactly the members of SFU
//! rooms (each opened once, closed once).

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use serde_json::value::RawValue;

use super::*;

const PEERS: usize = 8;
const ROOMS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Connect(usize),
    /// Peer, room, whether the page can use the SFU.
    Join(usize, usize, bool),
    Leave(usize),
    Signal(usize, usize),
    Chat(usize),
    State(usize),
    Disconnect(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..PEERS;
    prop_oneof![
        1 => p.clone().prop_map(Op::Connect),
        4 => (p.clone(), 0..ROOMS, prop::bool::weighted(0.8)).prop_map(|(p, r, sfu)| Op::Join(p, r, sfu)),
        1 => p.clone().prop_map(Op::Leave),
        4 => (p.clone(), 0..PEERS).prop_map(|(a, b)| Op::Signal(a, b)),
        2 => p.clone().prop_map(Op::Chat),
        1 => p.clone().prop_map(Op::State),
        1 => p.prop_map(Op::Disconnect),
    ]
}

fn limits() -> Limits {
    Limits {
        max_peers_per_room: PEERS,
        max_signal_bytes: 1024,
        rate: RateLimit {
            per_second: 1e9,
            burst: 1e9,
        },
        media: MediaPolicy::Auto { mesh_max: 2 },
        access: RoomAccess::Open,
    }
}

fn room(r: usize) -> RoomId {
    RoomId::parse(&format!("room-{r}")).expect("valid room")
}

/// Who each peer was told left, from one outcome.
fn departures(out: &Outcome) -> Vec<(PeerId, PeerId)> {
    out.deliveries
        .iter()
        .filter_map(|d| match d.event {
            ServerEvent::UserLeft(who) => Some((d.to, who)),
            _ => None,
        })
        .collect()
}

fn check_consistent(rooms: &Rooms, connected: &HashSet<PeerId>) {
    let mut seen = HashSet::new();
    for (id, room) in &rooms.rooms {
        assert!(!room.members.is_empty(), "empty room {id} kept");
        if room.media == MediaMode::Sfu {
            assert!(
                room.members.iter().all(|m| rooms.peers[m].sfu),
                "{id} goes through the SFU with a member that cannot"
            );
        }
        for m in &room.members {
            assert!(seen.insert(*m), "{m} is in two rooms or twice in one");
            assert_eq!(
                rooms.room_of(*m),
                Some(id),
                "{m}'s seat disagrees with {id}"
            );
        }
    }
    for peer in connected {
        if let Some(r) = rooms.room_of(*peer) {
            assert!(
                rooms.members(r).contains(peer),
                "{peer} seated in {r} but not a member"
            );
        }
    }
    assert_eq!(rooms.peer_count(), connected.len());
    let occupied: HashSet<_> = connected.iter().filter_map(|p| rooms.room_of(*p)).collect();
    assert_eq!(rooms.room_count(), occupied.len());
    let sfu = rooms
        .rooms
        .values()
        .filter(|r| r.media == MediaMode::Sfu)
        .count();
    assert_eq!(rooms.sfu_room_count(), sfu);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_any_sequence(ops in prop::collection::vec(op(), 1..120)) {
        let ids: Vec<PeerId> = (0..PEERS).map(|_| PeerId::random()).collect();
        let mut rooms = Rooms::new(limits());
        let mut connected = HashSet::new();
        // Peers the forwarder was told to serve and not yet told to stop.
        let mut opened: HashSet<PeerId> = HashSet::new();
        let now = Moment {
            instant: Instant::now(),
            unix_ms: 0,
        };
        for op in ops {
            let before: HashMap<PeerId, Option<RoomId>> =
                connected.iter().map(|p| (*p, rooms.room_of(*p).cloned())).collect();
            // The peer that leaves a room in this step, if any, and the members it leaves behind.
            let mut leaving: Option<(PeerId, Vec<PeerId>)> = None;
            let out = match op {
                Op::Connect(p) => {
                    if connected.insert(ids[p]) {
                        rooms.connect(ids[p], now.instant);
                    }
                    Outcome::default()
                }
                Op::Join(p, r, sfu) => {
                    let (who, target) = (ids[p], room(r));
                    if let Some(Some(old)) = before.get(&who).filter(|old| old.as_ref() != Some(&target)) {
                        let rest = rooms.members(old).iter().copied().filter(|m| *m != who).collect();
                        leaving = Some((who, rest));
                    }
                    let event = Ok(Some(ClientEvent::JoinRoom {
                        room: target.clone(),
                        name: UserName::parse("x").expect("valid name"),
                        sfu,
                        key: None,
                    }));
                    let refused = !sfu && rooms.media_of(&target) == Some(MediaMode::Sfu)
                        && before.get(&who).cloned().flatten().as_ref() != Some(&target);
                    if refused {
                        leaving = None; // a refused join leaves nothing
                    }
                    let out = rooms.handle(who, event, now);
                    if connected.contains(&who) && !refused {
                        prop_assert_eq!(rooms.room_of(who), Some(&target));
                    }
                    out
                }
                Op::Leave(p) | Op::Disconnect(p) => {
                    let who = ids[p];
                    if let Some(Some(old)) = before.get(&who) {
                        let rest = rooms.members(old).iter().copied().filter(|m| *m != who).collect();
                        leaving = Some((who, rest));
                    }
                    if matches!(op, Op::Disconnect(_)) {
                        connected.remove(&who);
                        rooms.disconnect(who)
                    } else {
                        rooms.handle(who, Ok(Some(ClientEvent::LeaveRoom)), now)
                    }
                }
                Op::Signal(a, b) => {
                    let (from, to) = (ids[a], ids[b]);
                    let signal = RawValue::from_string("{\"sdp\":1}".into()).expect("json");
                    let event = Ok(Some(ClientEvent::Signal { to: Some(to), signal }));
                    let out = rooms.handle(from, event, now);
                    let shared = connected.contains(&from)
                        && before.get(&from).cloned().flatten().is_some()
                        && before.get(&from) == before.get(&to);
                    let delivered = out.deliveries.iter().any(|d| {
                        d.to == to && matches!(d.event, ServerEvent::Signal { from: f, .. } if f == from)
                    });
                    prop_assert_eq!(delivered, shared, "signal {} -> {}", from, to);
                    if connected.contains(&from) && !shared {
                        prop_assert!(out.deliveries.iter().all(|d| d.to == from), "a refused signal leaked");
                    }
                    out
                }
                Op::Chat(p) | Op::State(p) => {
                    let from = ids[p];
                    let event = match op {
                        Op::Chat(_) => ClientEvent::Chat { text: ChatText::parse("hi").expect("valid") },
                        _ => ClientEvent::State(PeerState { muted: true, camera: false, screen: None, hand: false }),
                    };
                    let out = rooms.handle(from, Ok(Some(event)), now);
                    let seat = before.get(&from).cloned().flatten();
                    let mut reached: Vec<PeerId> = out
                        .deliveries
                        .iter()
                        .filter(|d| matches!(d.event, ServerEvent::Chat { .. } | ServerEvent::State { .. }))
                        .map(|d| d.to)
                        .collect();
                    reached.sort();
                    let mut room_members: Vec<PeerId> = match &seat {
                        Some(r) if connected.contains(&from) => rooms.members(r).to_vec(),
                        _ => Vec::new(),
                    };
                    if matches!(op, Op::State(_)) {
                        room_members.retain(|m| *m != from);
                    }
                    room_members.sort();
                    prop_assert_eq!(reached, room_members, "{:?} from {} reaches exactly its room", op, from);
                    out
                }
            };
            let mut told = departures(&out);
            told.sort();
            let mut expected: Vec<(PeerId, PeerId)> = leaving
                .map(|(who, rest)| rest.into_iter().map(|m| (m, who)).collect())
                .unwrap_or_default();
            expected.sort();
            prop_assert_eq!(told, expected, "departures announced once to each remaining member");
            for change in &out.changes {
                match change {
                    Change::Media(MediaChange::Open { peer, .. }) => {
                        prop_assert!(opened.insert(*peer), "{} opened twice", peer);
                    }
                    Change::Media(MediaChange::Close { peer }) => {
                        prop_assert!(opened.remove(peer), "{} closed without being open", peer);
                    }
                    _ => {}
                }
            }
            let in_sfu_rooms: HashSet<PeerId> = connected
                .iter()
                .copied()
                .filter(|p| rooms.room_of(*p).and_then(|r| rooms.media_of(r)) == Some(MediaMode::Sfu))
                .collect();
            prop_assert_eq!(&opened, &in_sfu_rooms, "the forwarder serves exactly the SFU rooms' members");
            check_consistent(&rooms, &connected);
        }
    }
}
