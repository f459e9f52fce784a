//! Protects the room rules: who is told what on join, move, leave, disconnect and signal,
//! and the limits (room size, payload size, rate). The connection caps are admission's
//! (`transport::admission`), tested there.

use super::*;
use crate::wire::HostAction;
use serde_json::value::RawValue;

/// The limits `serve` starts with.
fn limits() -> Limits {
    Limits {
        max_peers_per_room: 50,
        max_signal_bytes: 64 * 1024,
        rate: RateLimit {
            per_second: 200.0,
            burst: 1000.0,
        },
        media: MediaPolicy::Auto { mesh_max: 4 },
        access: RoomAccess::Open,
    }
}

fn t0() -> Moment {
    Moment {
        instant: Instant::now(),
        unix_ms: 1_764_000_000_000,
    }
}

fn join(room: &str, name: &str) -> Result<Option<ClientEvent>, ProtocolError> {
    Ok(Some(ClientEvent::JoinRoom {
        room: RoomId::parse(room).unwrap(),
        name: UserName::parse(name).unwrap(),
        sfu: false,
        key: None,
    }))
}

fn signal(to: PeerId, json: &str) -> Result<Option<ClientEvent>, ProtocolError> {
    Ok(Some(ClientEvent::Signal {
        to: Some(to),
        signal: RawValue::from_string(json.into()).unwrap(),
    }))
}

fn connected(rooms: &mut Rooms, n: usize) -> Vec<PeerId> {
    (0..n)
        .map(|_| {
            let id = PeerId::random();
            rooms.connect(id, t0().instant);
            id
        })
        .collect()
}

/// Renders deliveries as "to:event" strings, easy to compare.
fn summary(out: &Outcome, names: &[(PeerId, &str)]) -> Vec<String> {
    let name = |id: PeerId| {
        names
            .iter()
            .find(|(p, _)| *p == id)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    };
    out.deliveries
        .iter()
        .map(|d| {
            let detail = match &d.event {
                ServerEvent::InitUsers(m) => {
                    m.iter().map(|m| name(m.id)).collect::<Vec<_>>().join(",")
                }
                ServerEvent::UserJoined(m) => name(m.id).to_string(),
                ServerEvent::UserLeft(id) => name(*id).to_string(),
                ServerEvent::Signal { from, signal, .. } => {
                    format!("{}:{}", name(*from), signal.get())
                }
                ServerEvent::Chat { from, text, at, .. } => {
                    format!("{}:{}@{at}", name(*from), text.as_str())
                }
                ServerEvent::State { from, state } => format!(
                    "{}:{}{}{}",
                    name(*from),
                    if state.muted { "muted" } else { "unmuted" },
                    if state.camera { "+camera" } else { "" },
                    if state.screen.is_some() {
                        "+screen"
                    } else {
                        ""
                    }
                ),
                ServerEvent::MediaMode(mode) => mode.as_str().to_owned(),
                ServerEvent::Sfu(_) => String::new(),
                ServerEvent::Error(_) => String::new(),
                ServerEvent::Welcome(_) => String::new(),
                ServerEvent::Meeting(_)
                | ServerEvent::Waiting
                | ServerEvent::Removed(_)
                | ServerEvent::MuteRequest { .. }
                | ServerEvent::LowerHand { .. }
                | ServerEvent::MeetingLink(_) => String::new(),
            };
            format!("{}:{}({})", name(d.to), d.event.name(), detail)
        })
        .collect()
}

#[test]
fn join_tells_the_joiner_who_is_there_and_the_others_who_came() {
    let mut rooms = Rooms::new(limits());
    let p = connected(&mut rooms, 3);
    let names = [(p[0], "a"), (p[1], "b"), (p[2], "c")];
    assert_eq!(
        summary(&rooms.handle(p[0], join("r", "A"), t0()), &names),
        ["a:init-users()"]
    );
    rooms.handle(p[1], join("r", "B"), t0());
    let out = rooms.handle(p[2], join("r", "C"), t0());
    assert_eq!(
        summary(&out, &names),
        ["a:user-joined(c)", "b:user-joined(c)", "c:init-users(a,b)"]
    );
    assert_eq!(
        out.changes,
        [Change::Joined {
            peer: p[2],
            room: RoomId::parse("r").unwrap()
        }]
    );
}

#[test]
fn joining_the_same_room_again_is_idempotent() {
    let mut rooms = Rooms::new(limits());
    let p = connected(&mut rooms, 2);
    let names = [(p[0], "a"), (p[1], "b")];
    rooms.handle(p[0], join("r", "A"), t0());
    rooms.handle(p[1], join("r", "B"), t0());
    let out = rooms.handle(p[1], join("r", "B"), t0());
    assert_eq!(summary(&out, &names), ["b:init-users(a)"]);
    assert!(out.changes.is_empty());
}

#[test]
fn joining_another_room_moves_the_peer() {
    let mut rooms = Rooms::new(limits());
    let p = connected(&mut rooms, 3);
    let names = [(p[0], "a"), (p[1], "b"), (p[2], "c")];
    rooms.handle(p[0], join("one", "A"), t0());
    rooms.handle(p[1], join("two", "B"), t0());
    rooms.handle(p[2], join("one", "C"), t0());
    let out = rooms.handle(p[2], join("two", "C"), t0());
    assert_eq!(
        summary(&out, &names),
        ["a:user-left(c)", "b:user-joined(c)", "c:init-users(b)"]
    );
    assert_eq!(rooms.members(&RoomId::parse("one").unwrap()), [p[0]]);
}

#[test]
fn leave_and_disconnect_tell_the_rest_once_and_drop_empty_rooms() {
    let mut rooms = Rooms::new(limits());
    let p = connected(&mut rooms, 2);
    let names = [(p[0], "a"), (p[1], "b")];
    rooms.handle(p[0], join("r", "A"), t0());
    rooms.handle(p[1], join("r", "B"), t0());
    let out = rooms.handle(p[1], Ok(Some(ClientEvent::LeaveRoom)), t0());
    assert_eq!(summary(&out, &names), ["a:user-left(b)"]);
    assert!(
        rooms
            .handle(p[1], Ok(Some(ClientEvent::LeaveRoom)), t0())
            .deliveries
            .is_empty()
    );
    assert!(rooms.disconnect(p[1]).deliveries.is_empty());
    assert_eq!(rooms.room_count(), 1);
    assert!(rooms.disconnect(p[0]).deliveries.is_empty());
    assert_eq!((rooms.room_count(), rooms.peer_count()), (0, 0));
}

#[test]
fn signals_reach_only_peers_of_the_same_room() {
    let mut rooms = Rooms::new(limits());
    let p = connected(&mut rooms, 3);
    let names = [(p[0], "a"), (p[1], "b"), (p[2], "c")];
    let before = rooms.handle(p[0], signal(p[1], "1"), t0());
    assert_eq!(summary(&before, &names), ["a:error()"]);
    assert!(matches!(
        before.changes[0],
        Change::Refused {
            refusal: Refusal::NotInRoom("signals"),
            ..
        }
    ));
    rooms.handle(p[0], join("r", "A"), t0());
    rooms.handle(p[1], join("r", "B"), t0());
    rooms.handle(p[2], join("elsewhere", "C"), t0());
    let out = rooms.handle(p[0], signal(p[1], r#"{"sdp":"x"}"#), t0());
    assert_eq!(summary(&out, &names), [r#"b:signal(a:{"sdp":"x"})"#]);
    let out = rooms.handle(p[0], signal(p[2], "2"), t0());
    assert_eq!(summary(&out, &names), ["a:error()"]);
    let out = rooms.handle(p[2], signal(p[0], "3"), t0());
    assert_eq!(summary(&out, &names), ["c:error()"]);
}

#[test]
fn oversized_signals_are_refused() {
    let limits = Limits {
        max_signal_bytes: 10,
        ..limits()
    };
    let mut rooms = Rooms::new(limits);
    let p = connected(&mut rooms, 2);
    rooms.handle(p[0], join("r", "A"), t0());
    rooms.handle(p[1], join("r", "B"), t0());
    let out = rooms.handle(p[0], signal(p[1], r#""12345678901""#), t0());
    assert_eq!(out.deliveries.len(), 1);
    assert_eq!(out.deliveries[0].to, p[0]);
    assert!(
        matches!(&out.deliveries[0].event, ServerEvent::Error(m) if m.text.contains("13 bytes"))
    );
}

#[test]
fn a_full_room_refuses_and_the_peer_stays_where_it_was() {
    let limits = Limits {
        max_peers_per_room: 1,
        ..limits()
    };
    let mut rooms = Rooms::new(limits);
    let p = connected(&mut rooms, 2);
    rooms.handle(p[0], join("full", "A"), t0());
    rooms.handle(p[1], join("mine", "B"), t0());
    let out = rooms.handle(p[1], join("full", "B"), t0());
    assert!(
        matches!(&out.deliveries[..], [Delivery { event: ServerEvent::Error(m), .. }] if m.text.contains("full"))
    );
    assert_eq!(rooms.room_of(p[1]).map(RoomId::as_str), Some("mine"));
}

#[test]
fn rate_limit_drops_excess_and_tells_at_most_once_a_second() {
    let limits = Limits {
        rate: RateLimit {
            per_second: 1.0,
            burst: 2.0,
        },
        ..limits()
    };
    let mut rooms = Rooms::new(limits);
    let p = connected(&mut rooms, 1);
    let now = t0();
    let unknown = || Ok(None);
    assert!(rooms.handle(p[0], unknown(), now).deliveries.is_empty());
    assert!(rooms.handle(p[0], unknown(), now).deliveries.is_empty());
    let refused = rooms.handle(p[0], join("r", "A"), now);
    assert!(
        matches!(&refused.deliveries[0].event, ServerEvent::Error(m) if m.text.contains("too many"))
    );
    assert!(rooms.room_of(p[0]).is_none());
    let quiet = rooms.handle(p[0], join("r", "A"), now + Duration::from_millis(500));
    assert!(quiet.deliveries.is_empty());
    assert!(matches!(
        quiet.changes[0],
        Change::Refused {
            refusal: Refusal::RateLimited { .. },
            ..
        }
    ));
    let later = rooms.handle(p[0], join("r", "A"), now + Duration::from_millis(1600));
    assert!(matches!(
        later.deliveries[0].event,
        ServerEvent::InitUsers(_)
    ));
}

#[test]
fn validation_errors_change_nothing() {
    let mut rooms = Rooms::new(limits());
    let p = connected(&mut rooms, 1);
    let out = rooms.handle(p[0], Err(ProtocolError::BadJoin), t0());
    assert!(matches!(&out.deliveries[0].event, ServerEvent::Error(m) if m.text.contains("roomId")));
    assert_eq!(rooms.room_count(), 0);
}

fn chat(text: &str) -> Result<Option<ClientEvent>, ProtocolError> {
    Ok(Some(ClientEvent::Chat {
        text: ChatText::parse(text).unwrap(),
    }))
}

fn state(muted: bool, screen: bool) -> Result<Option<ClientEvent>, ProtocolError> {
    Ok(Some(ClientEvent::State(PeerState {
        muted,
        camera: true,
        screen: screen.then(|| crate::wire::StreamId::parse("{screen}").unwrap()),
        hand: false,
    })))
}

#[test]
fn chat_reaches_the_whole_room_sender_included_with_the_server_time() {
    let mut rooms = Rooms::new(limits());
    let p = connected(&mut rooms, 4);
    let names = [(p[0], "A"), (p[1], "B"), (p[2], "C"), (p[3], "D")];
    rooms.handle(p[0], join("r", "A"), t0());
    rooms.handle(p[1], join("r", "B"), t0());
    rooms.handle(p[2], join("elsewhere", "C"), t0());
    let out = rooms.handle(p[1], chat("hi"), t0());
    assert_eq!(
        summary(&out, &names),
        ["A:chat(B:hi@1764000000000)", "B:chat(B:hi@1764000000000)"]
    );
    assert_eq!(out.changes, [Change::Chatted]);
    let lonely = rooms.handle(p[3], chat("anyone?"), t0());
    assert!(
        matches!(&lonely.deliveries[..], [Delivery { event: ServerEvent::Error(m), .. }] if m.text == "join a room before sending chat messages")
    );
}

#[test]
fn media_state_goes_to_the_others_and_to_later_joiners() {
    let mut rooms = Rooms::new(limits());
    let p = connected(&mut rooms, 3);
    let names = [(p[0], "A"), (p[1], "B"), (p[2], "C")];
    // Announced before joining: kept, and told to the room on the join.
    assert!(
        rooms
            .handle(p[0], state(true, false), t0())
            .deliveries
            .is_empty()
    );
    rooms.handle(p[1], join("r", "B"), t0());
    let out = rooms.handle(p[0], join("r", "A"), t0());
    assert_eq!(
        summary(&out, &names),
        [
            "B:user-joined(A)",
            "B:state(A:muted+camera)",
            "A:init-users(B)"
        ]
    );
    let out = rooms.handle(p[1], state(false, true), t0());
    assert_eq!(summary(&out, &names), ["A:state(B:unmuted+camera+screen)"]);
    // A late joiner gets init-users first, then each member's last state.
    let out = rooms.handle(p[2], join("r", "C"), t0());
    assert_eq!(
        summary(&out, &names),
        [
            "B:user-joined(C)",
            "A:user-joined(C)",
            "C:init-users(B,A)",
            "C:state(B:unmuted+camera+screen)",
            "C:state(A:muted+camera)"
        ]
    );
}

/// A join from a page that can use the SFU.
fn join_sfu(room: &str, name: &str) -> Result<Option<ClientEvent>, ProtocolError> {
    Ok(Some(ClientEvent::JoinRoom {
        room: RoomId::parse(room).unwrap(),
        name: UserName::parse(name).unwrap(),
        sfu: true,
        key: None,
    }))
}

fn media_changes(out: &Outcome) -> Vec<MediaChange> {
    out.changes
        .iter()
        .filter_map(|c| match c {
            Change::Media(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_room_moves_to_the_sfu_when_the_fifth_capable_page_joins() {
    let mut rooms = Rooms::new(limits());
    let p = connected(&mut rooms, 5);
    let names = [
        (p[0], "A"),
        (p[1], "B"),
        (p[2], "C"),
        (p[3], "D"),
        (p[4], "E"),
    ];
    for (i, name) in ["A", "B", "C", "D"].into_iter().enumerate() {
        let out = rooms.handle(p[i], join_sfu("big", name), t0());
        assert!(media_changes(&out).is_empty(), "four is still a mesh");
    }
    let room = RoomId::parse("big").unwrap();
    assert_eq!(rooms.media_of(&room), Some(MediaMode::Mesh));
    let out = rooms.handle(p[4], join_sfu("big", "E"), t0());
    assert_eq!(rooms.media_of(&room), Some(MediaMode::Sfu));
    assert_eq!(rooms.sfu_room_count(), 1);
    assert_eq!(
        summary(&out, &names),
        [
            "A:user-joined(E)",
            "B:user-joined(E)",
            "C:user-joined(E)",
            "D:user-joined(E)",
            "A:media-mode(sfu)",
            "B:media-mode(sfu)",
            "C:media-mode(sfu)",
            "D:media-mode(sfu)",
            "E:media-mode(sfu)",
            "E:init-users(A,B,C,D)",
        ]
    );
    let opened: Vec<PeerId> = media_changes(&out)
        .into_iter()
        .map(|m| match m {
            MediaChange::Open { peer, .. } => peer,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(opened, [p[0], p[1], p[2], p[3], p[4]]);
    // Once moved it stays, even as people leave, until the room empties.
    let out = rooms.handle(p[4], Ok(Some(ClientEvent::LeaveRoom)), t0());
    assert_eq!(media_changes(&out), [MediaChange::Close { peer: p[4] }]);
    assert_eq!(rooms.media_of(&room), Some(MediaMode::Sfu));
    for &peer in &p[..4] {
        rooms.disconnect(peer);
    }
    assert_eq!(rooms.media_of(&room), None);
    assert_eq!(rooms.sfu_room_count(), 0);
}

#[test]
fn a_page_that_cannot_use_the_sfu_keeps_its_room_a_mesh_and_is_refused_by_an_sfu_room() {
    let mut rooms = Rooms::new(limits());
    let p = connected(&mut rooms, 7);
    rooms.handle(p[0], join("mixed", "Old page"), t0());
    for (i, name) in ["A", "B", "C", "D", "E"].into_iter().enumerate() {
        rooms.handle(p[i + 1], join_sfu("mixed", name), t0());
    }
    let mixed = RoomId::parse("mixed").unwrap();
    assert_eq!(
        rooms.media_of(&mixed),
        Some(MediaMode::Mesh),
        "six people, one old page"
    );
    for &peer in &p[1..6] {
        rooms.handle(peer, join_sfu("sfu", "X"), t0());
    }
    let sfu = RoomId::parse("sfu").unwrap();
    assert_eq!(rooms.media_of(&sfu), Some(MediaMode::Sfu));
    let out = rooms.handle(p[6], join("sfu", "Old page"), t0());
    assert!(matches!(
        &out.changes[..],
        [Change::Refused {
            refusal: Refusal::NeedsSfu(_),
            ..
        }]
    ));
    assert_eq!(rooms.room_of(p[6]), None);
    // SFU signaling from a mesh room is refused too.
    let out = rooms.handle(
        p[0],
        Ok(Some(ClientEvent::Sfu(SfuRequest::Offer("v=0".into())))),
        t0(),
    );
    assert!(matches!(
        &out.changes[..],
        [Change::Refused {
            refusal: Refusal::NotInSfuRoom,
            ..
        }]
    ));
}

#[test]
fn with_media_sfu_a_room_of_capable_pages_goes_through_the_server_from_the_first_person() {
    let mut rooms = Rooms::new(Limits {
        media: MediaPolicy::Sfu,
        access: RoomAccess::Open,
        ..limits()
    });
    let p = connected(&mut rooms, 2);
    let out = rooms.handle(p[0], join_sfu("wifi", "A"), t0());
    assert_eq!(
        media_changes(&out),
        [MediaChange::Open {
            peer: p[0],
            room: RoomId::parse("wifi").unwrap()
        }]
    );
    let offer = rooms.handle(
        p[0],
        Ok(Some(ClientEvent::Sfu(SfuRequest::Offer("v=0".into())))),
        t0(),
    );
    assert_eq!(
        media_changes(&offer),
        [MediaChange::Request {
            peer: p[0],
            request: SfuRequest::Offer("v=0".into())
        }]
    );
    let huge = "x".repeat(70 * 1024);
    let out = rooms.handle(
        p[0],
        Ok(Some(ClientEvent::Sfu(SfuRequest::Offer(huge)))),
        t0(),
    );
    assert!(
        media_changes(&out).is_empty(),
        "an SDP over the signal limit is refused"
    );
    let out = rooms.disconnect(p[0]);
    assert_eq!(media_changes(&out), [MediaChange::Close { peer: p[0] }]);
}

#[test]
fn in_a_cluster_a_room_moves_to_the_sfu_when_the_cluster_says_and_not_before() {
    let mut rooms = Rooms::new(limits());
    rooms.decide_media_elsewhere();
    let p = connected(&mut rooms, 5);
    let names: Vec<_> = p.iter().copied().zip(["A", "B", "C", "D", "E"]).collect();
    let room = RoomId::parse("big").unwrap();
    for (i, name) in ["A", "B", "C"].into_iter().enumerate() {
        rooms.handle(p[i], join_sfu("big", name), t0());
    }
    // Two more from another node: past --mesh-max, yet this node does not count alone (it may
    // follow the room from its middle, having missed who came and went).
    for (i, name) in [(3, "D"), (4, "E")] {
        let out = rooms.join_remote(
            p[i],
            room.clone(),
            UserName::parse(name).unwrap(),
            true,
            t0().instant,
        );
        assert!(media_changes(&out).is_empty());
    }
    assert_eq!(rooms.media_of(&room), Some(MediaMode::Mesh));
    let out = rooms.move_to_sfu(&room);
    assert_eq!(rooms.media_of(&room), Some(MediaMode::Sfu));
    assert_eq!(
        summary(&out, &names),
        [
            "A:media-mode(sfu)",
            "B:media-mode(sfu)",
            "C:media-mode(sfu)",
            "D:media-mode(sfu)",
            "E:media-mode(sfu)"
        ],
        "every member (the hub skips the remote ones)"
    );
    assert_eq!(
        media_changes(&out).len(),
        5,
        "each opened: the hub opens them at the media home only"
    );
    assert!(rooms.move_to_sfu(&room).changes.is_empty(), "once");
    assert!(
        rooms.can_use_sfu(p[4]),
        "a remote member's page said it can"
    );
    // What its node passes on from that page is checked as a local page's request.
    let huge = "x".repeat(limits().max_signal_bytes + 1);
    let out = rooms.remote_sfu(p[4], SfuRequest::Offer(huge));
    assert!(media_changes(&out).is_empty(), "over the signal limit");
    let out = rooms.remote_sfu(p[4], SfuRequest::Offer("v=0".into()));
    assert!(matches!(
        media_changes(&out)[..],
        [MediaChange::Request { peer, .. }] if peer == p[4]
    ));
}

#[test]
fn a_member_of_another_node_is_heard_joining_and_passes_no_cap() {
    let mut rooms = Rooms::new(Limits {
        max_peers_per_room: 1,
        ..limits()
    });
    let [ann] = connected(&mut rooms, 1)[..] else {
        unreachable!()
    };
    rooms.handle(ann, join("standup", "Ann"), t0());
    let bob = PeerId::random();
    let names = [(ann, "Ann"), (bob, "Bob")];
    // Bob's node admitted him (its Redis counts the cap cluster-wide): the core does not refuse.
    let out = rooms.join_remote(
        bob,
        RoomId::parse("standup").unwrap(),
        UserName::parse("Bob").unwrap(),
        false,
        t0().instant,
    );
    assert_eq!(
        summary(&out, &names),
        ["Ann:user-joined(Bob)", "Bob:init-users(Ann)"],
        "Ann hears him; his init-users is his own node's to send (the hub skips it)"
    );
    assert!(rooms.share_room(ann, bob));
    assert_eq!(
        summary(&rooms.handle(ann, signal(bob, "1"), t0()), &names),
        ["Bob:signal(Ann:1)"]
    );
    assert_eq!(
        summary(&rooms.disconnect(bob), &names),
        ["Ann:user-left(Bob)"]
    );
    assert!(!rooms.share_room(ann, bob));
}

fn join_with(room: &str, name: &str, key: &RoomKey) -> Result<Option<ClientEvent>, ProtocolError> {
    Ok(Some(ClientEvent::JoinRoom {
        room: RoomId::parse(room).unwrap(),
        name: UserName::parse(name).unwrap(),
        sfu: false,
        key: Some(key.clone()),
    }))
}

#[test]
fn a_private_meeting_lets_in_its_key_holders_only_and_tells_a_guesser_nothing_more() {
    let mut rooms = Rooms::new(Limits {
        max_peers_per_room: 2,
        ..limits()
    });
    let [host, guest, guesser, late] = connected(&mut rooms, 4)[..] else {
        unreachable!()
    };
    let names = [(host, "H"), (guest, "G"), (guesser, "X"), (late, "L")];
    let keys = MeetingKeys::random();
    let room = RoomId::parse("calm-otter-42").unwrap();
    rooms.invite(room.clone(), keys.invitation(0)).unwrap();
    let out = rooms.handle(host, join_with("calm-otter-42", "H", &keys.host), t0());
    assert_eq!(summary(&out, &names), ["H:init-users()", "H:meeting()"]);
    let out = rooms.handle(guest, join_with("calm-otter-42", "G", &keys.guest), t0());
    assert_eq!(
        summary(&out, &names),
        [
            "H:user-joined(G)",
            "G:init-users(H)",
            "H:meeting()",
            "G:meeting()"
        ]
    );
    assert_eq!(
        (rooms.role_of(host), rooms.role_of(guest)),
        (Some(Role::Host), Some(Role::Guest))
    );
    // The room is full now, but a guesser is told only that it needs its link.
    let refusal = |out: &Outcome| match (&out.changes[..], &out.deliveries[..]) {
        (
            [Change::Refused { refusal, .. }],
            [
                Delivery {
                    event: ServerEvent::Error(text),
                    ..
                },
            ],
        ) => {
            assert_eq!(refusal.reply(), *text);
            text.text.clone()
        }
        _ => panic!("not one refusal: {:?}", out.changes),
    };
    let out = rooms.handle(guesser, join("calm-otter-42", "X"), t0());
    assert_eq!(
        refusal(&out),
        "this meeting needs its invitation link: ask whoever invited you for it"
    );
    let out = rooms.handle(late, join_with("calm-otter-42", "L", &keys.guest), t0());
    assert_eq!(refusal(&out), "room 'calm-otter-42' is full (2 peers)");
    // A room with people in it never becomes private under them.
    rooms.handle(guesser, join("standup", "X"), t0());
    let standup = RoomId::parse("standup").unwrap();
    assert_eq!(
        rooms.invite(standup.clone(), keys.invitation(0)),
        Err(InviteError::Taken(standup))
    );
    assert_eq!(rooms.role_of(guesser), Some(Role::Open));
}

fn host(action: HostAction) -> Result<Option<ClientEvent>, ProtocolError> {
    Ok(Some(ClientEvent::Host(action)))
}

/// The events of one kind an outcome sends to `to`, rendered as JSON payloads.
fn sent(out: &Outcome, to: PeerId, name: &str) -> Vec<String> {
    out.deliveries
        .iter()
        .filter(|d| d.to == to && d.event.name() == name)
        .map(|d| serde_json::to_string(&d.event.data()).unwrap())
        .collect()
}

#[test]
fn a_host_runs_the_lobby_the_lock_removals_mutes_and_the_end() {
    let mut rooms = Rooms::new(limits());
    let [hana, gus, eve, ivy] = connected(&mut rooms, 4)[..] else {
        unreachable!()
    };
    let keys = MeetingKeys::random();
    let room = RoomId::parse("board").unwrap();
    rooms.invite(room.clone(), keys.invitation(0)).unwrap();
    let out = rooms.handle(hana, join_with("board", "Hana", &keys.host), t0());
    assert_eq!(
        sent(&out, hana, "meeting"),
        [format!(
            r#"{{"hosts":["{hana}"],"lobby":false,"locked":false,"waiting":[]}}"#
        )]
    );
    // Only the host may run the meeting.
    rooms.handle(gus, join_with("board", "Gus", &keys.guest), t0());
    let out = rooms.handle(gus, host(HostAction::Lock(true)), t0());
    assert_eq!(
        out.changes,
        [Change::Refused {
            peer: gus,
            refusal: Refusal::NotHost
        }]
    );

    // Lobby on: a guest with the link waits; the host sees them and lets one in, not another.
    rooms.handle(hana, host(HostAction::Lobby(true)), t0());
    let out = rooms.handle(eve, join_with("board", "Eve", &keys.guest), t0());
    assert_eq!(sent(&out, eve, "waiting").len(), 1);
    assert_eq!(sent(&out, eve, "init-users"), Vec::<String>::new());
    assert_eq!(
        sent(&out, gus, "user-joined"),
        Vec::<String>::new(),
        "the room does not see a waiting guest"
    );
    assert!(sent(&out, hana, "meeting")[0].contains(r#""waiting":[{"id":"#));
    assert!(
        !sent(&out, gus, "meeting")[0].contains("waiting"),
        "only hosts see the lobby"
    );
    rooms.handle(ivy, join_with("board", "Ivy", &keys.guest), t0());
    assert_eq!(rooms.lobby(&room).len(), 2);
    let out = rooms.handle(hana, host(HostAction::Decline(ivy)), t0());
    assert_eq!(
        sent(&out, ivy, "removed"),
        [r#"{"reason":"declined","message":"the host did not let you in"}"#]
    );
    let out = rooms.handle(hana, host(HostAction::Admit(eve)), t0());
    assert_eq!(sent(&out, eve, "init-users").len(), 1);
    assert_eq!(sent(&out, gus, "user-joined").len(), 1);
    assert_eq!(rooms.members(&room), [hana, gus, eve]);
    assert!(rooms.lobby(&room).is_empty());

    // Locked: nobody new gets in, link or not; the host link still does.
    rooms.handle(hana, host(HostAction::Lock(true)), t0());
    let out = rooms.handle(ivy, join_with("board", "Ivy", &keys.guest), t0());
    assert_eq!(
        sent(&out, ivy, "error"),
        [r#""this meeting is locked: nobody new can join right now""#]
    );

    // Ask to mute reaches only its target; remove takes someone out at once.
    let out = rooms.handle(hana, host(HostAction::Mute(gus)), t0());
    assert_eq!(
        sent(&out, gus, "mute-request"),
        [format!(r#"{{"from":"{hana}"}}"#)]
    );
    assert_eq!(out.deliveries.len(), 1);
    // Lowering a hand, the same: only its target hears it (their page lowers it); a guest
    // cannot.
    let out = rooms.handle(hana, host(HostAction::LowerHand(gus)), t0());
    assert_eq!(
        sent(&out, gus, "lower-hand"),
        [format!(r#"{{"from":"{hana}"}}"#)]
    );
    assert_eq!(out.deliveries.len(), 1);
    let out = rooms.handle(gus, host(HostAction::LowerHand(hana)), t0());
    assert_eq!(
        sent(&out, gus, "error"),
        [r#""only the meeting's host can do that""#]
    );
    let out = rooms.handle(hana, host(HostAction::Remove(eve)), t0());
    assert_eq!(sent(&out, eve, "removed").len(), 1);
    assert_eq!(sent(&out, gus, "user-left"), [format!(r#""{eve}""#)]);
    assert_eq!(rooms.room_of(eve), None);
    // Removing someone not in the meeting is refused and says so.
    let out = rooms.handle(hana, host(HostAction::Remove(ivy)), t0());
    assert_eq!(
        sent(&out, hana, "error"),
        [format!(
            r#""peer {ivy} is not in your meeting or its lobby""#
        )]
    );

    // A new guest link: the old one opens nothing, the hosts get the new key.
    let out = rooms.handle(hana, host(HostAction::NewLink), t0());
    let [link] = &sent(&out, hana, "meeting-link")[..] else {
        panic!("no new link")
    };
    assert!(out.changes.contains(&Change::Invitations));
    let new_key = RoomKey::parse(&link[8..link.len() - 2]).unwrap();
    rooms.handle(hana, host(HostAction::Lock(false)), t0());
    rooms.handle(hana, host(HostAction::Lobby(false)), t0());
    let out = rooms.handle(eve, join_with("board", "Eve", &keys.guest), t0());
    assert_eq!(
        out.changes,
        [Change::Refused {
            peer: eve,
            refusal: Refusal::WrongKey
        }]
    );
    rooms.handle(eve, join_with("board", "Eve", &new_key), t0());
    assert_eq!(rooms.role_of(eve), Some(Role::Guest));

    // The host leaves: the meeting goes on, and the host link gives the role back.
    rooms.handle(hana, Ok(Some(ClientEvent::LeaveRoom)), t0());
    assert_eq!(rooms.members(&room), [gus, eve]);
    rooms.handle(hana, join_with("board", "Hana", &keys.host), t0());
    assert_eq!(rooms.role_of(hana), Some(Role::Host));

    // The end: everyone is out and told.
    let out = rooms.handle(hana, host(HostAction::End), t0());
    for peer in [hana, gus, eve] {
        assert_eq!(sent(&out, peer, "removed").len(), 1);
    }
    assert_eq!(rooms.room_count(), 0);
}

#[test]
fn a_state_the_room_hears_is_reported_for_other_nodes_and_a_refused_one_is_not() {
    let limits = Limits {
        rate: RateLimit {
            per_second: 1.0,
            burst: 2.0, // the join and one state
        },
        ..limits()
    };
    let mut rooms = Rooms::new(limits);
    let p = connected(&mut rooms, 2);
    let now = t0();
    rooms.handle(p[0], join("r", "A"), now);
    rooms.handle(p[1], join("r", "B"), now);
    let taken = rooms.handle(p[0], state(true, false), now);
    let shared: Vec<_> = taken
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::StateShared { peer, room, state } => Some((*peer, room.as_str(), state.muted)),
            _ => None,
        })
        .collect();
    assert_eq!(shared, [(p[0], "r", true)]);
    // Past the burst: refused, and nothing for the room (nor for the other nodes) to hear.
    let refused = rooms.handle(p[0], state(false, false), now);
    assert!(matches!(
        refused.changes[..],
        [Change::Refused {
            refusal: Refusal::RateLimited { .. },
            ..
        }]
    ));
    // Not in a room yet: kept for the join, told to nobody now.
    let q = connected(&mut rooms, 1);
    let alone = rooms.handle(q[0], state(true, false), now);
    assert!(alone.changes.is_empty(), "{:?}", alone.changes);
}
