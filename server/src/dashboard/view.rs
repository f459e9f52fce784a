//! What the dashboard, the window and the tray show about the rooms: the hub's roster turned
//! into the JSON the page reads, and the one-line summary both the window and the tray print.

use std::time::Instant;

use serde::Serialize;

use std::collections::HashMap;

use crate::catalogue::Catalogue;
use crate::hub::{Hub, Roster};
use crate::media::{MediaStats, ParticipantStats};
use crate::meeting::room_link;
use crate::wire::PeerId;

/// Rooms with their people, and totals.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Connected peers, in a room or not.
    pub peers: usize,
    /// Connected peers in no room.
    pub lobby: usize,
    /// Rooms, by name.
    pub rooms: Vec<RoomView>,
    /// Signals relayed since start.
    pub relayed: u64,
    /// "2 meetings, 5 people", as [`summary`] says it.
    pub summary: String,
}

/// One room.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoomView {
    pub id: String,
    /// Where its media goes: `mesh` or `sfu`.
    pub media: &'static str,
    /// The meeting page's link for this room, on the address people on the LAN can open; none
    /// for a private meeting, which only its invitation link opens (the server keeps no key).
    pub link: Option<String>,
    /// A private meeting (made with New meeting).
    pub private: bool,
    /// Names of the guests waiting in its lobby for a host.
    pub waiting: Vec<String>,
    /// Its members in join order.
    pub peers: Vec<PeerView>,
}

/// One person.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeerView {
    pub id: PeerId,
    pub user_name: String,
    /// `host`, `guest` (of a private meeting) or `open` (a room entered by its name).
    pub role: &'static str,
    /// `socket.io` or `ws`.
    pub transport: &'static str,
    /// Remote address as seen by the server.
    pub address: Option<String>,
    /// Seconds since the connection opened.
    pub connected_secs: u64,
    /// Bitrates, forwarded frames and loss, when its media goes through the server.
    pub media: Option<ParticipantStats>,
}

impl Snapshot {
    /// The hub's rooms and people right now; room links start with `link_base`, the server's
    /// meeting link (`Status::meeting_link`).
    pub fn of(hub: &Hub, link_base: &str, media: Option<&MediaStats>) -> Self {
        let relayed = hub.metrics().relayed_total();
        let media = media.map(MediaStats::all).unwrap_or_default();
        Self::from_roster(hub.roster(), relayed, link_base, &media, Instant::now())
    }

    fn from_roster(
        roster: Roster,
        relayed: u64,
        link_base: &str,
        media: &HashMap<crate::wire::PeerId, ParticipantStats>,
        now: Instant,
    ) -> Self {
        let rooms: Vec<RoomView> = roster
            .rooms
            .into_iter()
            .map(|room| RoomView {
                link: (!room.private).then(|| room_link(link_base, room.id.as_str())),
                private: room.private,
                waiting: room
                    .waiting
                    .iter()
                    .map(|(_, name)| name.as_str().to_owned())
                    .collect(),
                id: room.id.to_string(),
                media: room.media.as_str(),
                peers: room
                    .seats
                    .into_iter()
                    .map(|seat| PeerView {
                        id: seat.peer,
                        user_name: seat.name.as_str().to_owned(),
                        role: seat.role.as_str(),
                        transport: seat.transport.as_str(),
                        address: seat.addr.map(|a| a.to_string()),
                        connected_secs: now.saturating_duration_since(seat.since).as_secs(),
                        media: media.get(&seat.peer).cloned(),
                    })
                    .collect(),
            })
            .collect();
        let seated: usize = rooms.iter().map(|r| r.peers.len()).sum();
        Self {
            peers: roster.peers,
            lobby: roster.peers.saturating_sub(seated),
            summary: summary(Catalogue::for_language("en"), rooms.len(), seated),
            rooms,
            relayed,
        }
    }
}

/// The hub's rooms and people in one line, as the tray's status says it, in `catalogue`'s
/// language.
pub fn summary_of(hub: &Hub, catalogue: Catalogue) -> String {
    let roster = hub.roster();
    let people = roster.rooms.iter().map(|room| room.seats.len()).sum();
    summary(catalogue, roster.rooms.len(), people)
}

/// "No meetings right now", "1 meeting, 1 person", "3 meetings, 7 people" (the dashboard's
/// page words it the same way from the same catalogue, `ui/app.js`).
pub fn summary(catalogue: Catalogue, meetings: usize, people: usize) -> String {
    if meetings == 0 {
        return catalogue.text("summary.none", &[]);
    }
    let meetings = catalogue.count("summary.meetings", meetings as u64);
    let people = catalogue.count("summary.people", people as u64);
    catalogue.text(
        "summary.both",
        &[("meetings", &meetings), ("people", &people)],
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::hub::{RoomRoster, Seat};
    use crate::rooms::Role;
    use crate::wire::{MediaMode, RoomId, Transport, UserName};

    #[test]
    fn the_summary_counts_meetings_and_people() {
        let en = Catalogue::for_language("en");
        assert_eq!(summary(en, 0, 0), "No meetings right now");
        assert_eq!(summary(en, 1, 1), "1 meeting, 1 person");
        assert_eq!(summary(en, 1, 2), "1 meeting, 2 people");
        assert_eq!(summary(en, 3, 7), "3 meetings, 7 people");
        let ru = Catalogue::for_language("ru");
        assert_eq!(summary(ru, 2, 5), "2 встречи, 5 человек");
        assert_eq!(summary(ru, 21, 22), "21 встреча, 22 человека");
    }

    #[test]
    fn a_roster_becomes_rooms_with_people_and_a_lobby() {
        let t0 = Instant::now();
        let seat = |name: &str| Seat {
            peer: PeerId::random(),
            name: UserName::parse(name).unwrap(),
            role: Role::Open,
            transport: Transport::WebSocket,
            addr: Some("10.0.0.2:4000".parse().unwrap()),
            since: t0,
        };
        let roster = Roster {
            peers: 3,
            rooms: vec![
                RoomRoster {
                    id: RoomId::parse("standup").unwrap(),
                    media: MediaMode::Sfu,
                    private: false,
                    waiting: Vec::new(),
                    seats: vec![seat("Ann"), seat("Bob")],
                },
                RoomRoster {
                    id: RoomId::parse("board").unwrap(),
                    media: MediaMode::Mesh,
                    private: true,
                    waiting: vec![(PeerId::random(), UserName::parse("Eve").unwrap())],
                    seats: vec![Seat {
                        role: Role::Host,
                        ..seat("Cy")
                    }],
                },
            ],
        };
        let snapshot = Snapshot::from_roster(
            roster,
            7,
            "https://meet.local:5443",
            &HashMap::new(),
            t0 + Duration::from_secs(90),
        );
        assert_eq!(snapshot.lobby, 0);
        assert_eq!(
            snapshot.rooms[0].link.as_deref(),
            Some("https://meet.local:5443/r/standup")
        );
        // A private meeting's link needs its key, which the server does not have.
        assert_eq!(snapshot.rooms[1].link, None);
        assert_eq!(snapshot.rooms[1].peers[0].role, "host");
        assert_eq!(snapshot.rooms[1].waiting, ["Eve"]);
        assert_eq!(snapshot.rooms[0].media, "sfu");
        assert_eq!(snapshot.summary, "2 meetings, 3 people");
        let ann = &snapshot.rooms[0].peers[0];
        assert_eq!(
            (
                ann.user_name.as_str(),
                ann.transport,
                ann.address.as_deref(),
                ann.connected_secs
            ),
            ("Ann", "ws", Some("10.0.0.2:4000"), 90)
        );
    }
}
