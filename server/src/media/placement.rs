//! Which forwarder worker carries what. A room is given whole to one worker (media goes only
//! between members of a room, so no worker ever needs another's participants), the least loaded
//! when the room's first member opens; every datagram is handed to the worker of the connection
//! it belongs to. Without I/O and without a lock: the demultiplexer owns it, the workers tell it
//! the ICE usernames they give pages.
//!
//! How a datagram is placed: a STUN request (a page's connectivity check) names our ICE username
//! fragment, which the worker that made it registered before any page could know it; the
//! request's source is then remembered for that page, and later datagrams from that source
//! (DTLS, SRTP, RTCP) follow it. A STUN response answers one of our own consent questions, whose
//! transaction id carries the asking worker in its first byte. Anything else from a source no
//! check came from is nobody's.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use str0m::net::Protocol;

use super::stun;
use crate::wire::{PeerId, RoomId};

/// Sources remembered per page at most: a page checks from a few addresses (IPv4, IPv6, TCP);
/// a member forging checks from many sources evicts only its own.
const SOURCES_PER_PAGE: usize = 8;
/// ICE username fragments kept per page: the current one and the one before an ICE restart
/// (the page's checks with it may still be in flight).
const UFRAGS_PER_PAGE: usize = 2;

/// Where a datagram came from: its protocol and address.
pub(super) type Source = (Protocol, SocketAddr);

#[derive(Debug)]
struct Page {
    room: RoomId,
    worker: usize,
    ufrags: VecDeque<String>,
    sources: VecDeque<Source>,
}

#[derive(Debug)]
struct Home {
    worker: usize,
    members: usize,
}

#[derive(Debug)]
pub(super) struct Placement {
    /// Pages each worker carries.
    load: Vec<usize>,
    /// Workers whose thread failed: given nothing more.
    dead: Vec<bool>,
    rooms: HashMap<RoomId, Home>,
    pages: HashMap<PeerId, Page>,
    ufrags: HashMap<String, PeerId>,
    sources: HashMap<Source, PeerId>,
}

impl Placement {
    /// Placement over `workers` workers (at least one).
    pub fn new(workers: usize) -> Self {
        Self {
            load: vec![0; workers.max(1)],
            dead: vec![false; workers.max(1)],
            rooms: HashMap::new(),
            pages: HashMap::new(),
            ufrags: HashMap::new(),
            sources: HashMap::new(),
        }
    }

    /// `peer` joins `room`'s media: the worker that carries the room (chosen now, the least
    /// loaded, if it is the room's first), and the one that carried it in another room before,
    /// if it was in one (which is to close it).
    pub fn open(&mut self, peer: PeerId, room: RoomId) -> (usize, Option<usize>) {
        let mut left = None;
        if let Some(page) = self.pages.get(&peer) {
            if page.room == room {
                return (page.worker, None);
            }
            left = self.close(peer);
        }
        let least = self.least_loaded().unwrap_or(0);
        let home = self.rooms.entry(room.clone()).or_insert_with(|| Home {
            worker: least,
            members: 0,
        });
        home.members += 1;
        let worker = home.worker;
        self.load[worker] += 1;
        self.pages.insert(
            peer,
            Page {
                room,
                worker,
                ufrags: VecDeque::new(),
                sources: VecDeque::new(),
            },
        );
        (worker, left)
    }

    /// `peer` left: forgotten with its usernames and sources; the worker that carried it.
    pub fn close(&mut self, peer: PeerId) -> Option<usize> {
        let page = self.pages.remove(&peer)?;
        for ufrag in &page.ufrags {
            self.ufrags.remove(ufrag);
        }
        for source in &page.sources {
            if self.sources.get(source) == Some(&peer) {
                self.sources.remove(source);
            }
        }
        self.load[page.worker] = self.load[page.worker].saturating_sub(1);
        if let Some(home) = self.rooms.get_mut(&page.room) {
            home.members -= 1;
            if home.members == 0 {
                self.rooms.remove(&page.room);
            }
        }
        Some(page.worker)
    }

    /// The live worker that carries the fewest pages.
    fn least_loaded(&self) -> Option<usize> {
        (0..self.load.len())
            .filter(|w| !self.dead[*w])
            .min_by_key(|w| self.load[*w])
    }

    /// `worker`'s thread failed: it gets nothing more, and each of its rooms moves whole to the
    /// least loaded live worker (none if no worker is left). Returns every page that moved,
    /// with its room and its new worker; their usernames and sources are forgotten (their
    /// pages connect again, afresh).
    pub fn worker_died(&mut self, worker: usize) -> Vec<(PeerId, RoomId, Option<usize>)> {
        let Some(dead) = self.dead.get_mut(worker) else {
            return Vec::new();
        };
        *dead = true;
        let rooms: Vec<RoomId> = self
            .rooms
            .iter()
            .filter(|(_, home)| home.worker == worker)
            .map(|(room, _)| room.clone())
            .collect();
        let mut moved = Vec::new();
        for room in rooms {
            let peers: Vec<PeerId> = self
                .pages
                .iter()
                .filter(|(_, page)| page.room == room)
                .map(|(peer, _)| *peer)
                .collect();
            // All out first: the room's home goes with its last page, and the first page
            // back makes a new one on a live worker, which the others join.
            for peer in &peers {
                self.close(*peer);
            }
            let live = self.least_loaded().is_some();
            for peer in peers {
                let to = live.then(|| self.open(peer, room.clone()).0);
                moved.push((peer, room.clone(), to));
            }
        }
        moved
    }

    /// The worker carrying `peer`, while it is open.
    pub fn worker_of(&self, peer: PeerId) -> Option<usize> {
        self.pages.get(&peer).map(|p| p.worker)
    }

    /// A worker gave `peer` the ICE username fragment `ufrag` (in an answer or an offer about to
    /// be sent). Ignored for a page that closed meanwhile.
    pub fn registered(&mut self, peer: PeerId, ufrag: &str) {
        let Some(page) = self.pages.get_mut(&peer) else {
            return;
        };
        if page.ufrags.iter().any(|u| u == ufrag) {
            return;
        }
        page.ufrags.push_back(ufrag.to_owned());
        if page.ufrags.len() > UFRAGS_PER_PAGE
            && let Some(old) = page.ufrags.pop_front()
        {
            self.ufrags.remove(&old);
        }
        self.ufrags.insert(ufrag.to_owned(), peer);
    }

    /// The worker a datagram (or an ICE-TCP frame) from `source` goes to, if any.
    pub fn route(&mut self, source: Source, data: &[u8]) -> Option<usize> {
        if stun::is_stun(data) {
            if let Some(ufrag) = stun::request_ufrag(data) {
                let peer = *self.ufrags.get(ufrag)?;
                self.learn(peer, source);
                return self.worker_of(peer);
            }
            if let Some(id) = stun::response_id(data) {
                return Some(usize::from(id[0]) % self.load.len());
            }
        }
        self.sources
            .get(&source)
            .and_then(|peer| self.worker_of(*peer))
    }

    /// Remembers that `peer` checks from `source`; its oldest source goes past the bound.
    fn learn(&mut self, peer: PeerId, source: Source) {
        if self.sources.get(&source) == Some(&peer) {
            return;
        }
        if let Some(before) = self.sources.insert(source, peer)
            && let Some(page) = self.pages.get_mut(&before)
        {
            page.sources.retain(|s| *s != source);
        }
        let Some(page) = self.pages.get_mut(&peer) else {
            return;
        };
        page.sources.push_back(source);
        if page.sources.len() > SOURCES_PER_PAGE
            && let Some(old) = page.sources.pop_front()
        {
            self.sources.remove(&old);
        }
    }

    /// Pages each worker carries now.
    pub fn load(&self) -> &[usize] {
        &self.load
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomId {
        RoomId::parse(name).unwrap()
    }

    fn udp(addr: &str) -> Source {
        (Protocol::Udp, addr.parse().unwrap())
    }

    /// A page's connectivity check naming our fragment `ours`.
    fn check(ours: &str) -> Vec<u8> {
        stun::binding_request([7; 12], &format!("{ours}:page"), "pwd", true, true, 1)
    }

    /// The answer to a question of ours whose id starts with `worker`.
    fn answer(worker: u8) -> Vec<u8> {
        let mut data = vec![0x01, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        data.push(worker);
        data.extend_from_slice(&[0; 11]);
        data
    }

    #[test]
    fn a_room_stays_on_one_worker_and_new_rooms_go_to_the_least_loaded() {
        let mut placement = Placement::new(2);
        let (a, b, c, d) = (
            PeerId::random(),
            PeerId::random(),
            PeerId::random(),
            PeerId::random(),
        );
        assert_eq!(placement.open(a, room("one")), (0, None));
        assert_eq!(
            placement.open(b, room("one")),
            (0, None),
            "the room's worker"
        );
        assert_eq!(
            placement.open(c, room("two")),
            (1, None),
            "the least loaded"
        );
        assert_eq!(placement.load(), [2, 1]);
        assert_eq!(placement.close(a), Some(0));
        assert_eq!(placement.close(b), Some(0));
        assert_eq!(placement.load(), [0, 1]);
        // Room one is empty and forgotten: its next member goes where the load is least.
        assert_eq!(placement.open(d, room("one")), (0, None));
        assert_eq!(placement.close(a), None, "closed twice");
        // A page moved to another room without closing: the worker of its old room is named.
        assert_eq!(placement.open(c, room("one")), (0, Some(1)));
        assert_eq!(placement.load(), [2, 0]);
    }

    #[test]
    fn a_failed_workers_rooms_move_whole_to_the_live_ones_and_it_gets_no_more() {
        let mut placement = Placement::new(3);
        let peers: Vec<PeerId> = (0..5).map(|_| PeerId::random()).collect();
        placement.open(peers[0], room("a")); // worker 0
        placement.open(peers[1], room("b")); // worker 1
        placement.open(peers[2], room("c")); // worker 2
        placement.open(peers[3], room("b")); // worker 1
        placement.registered(peers[1], "b1");
        let moved = placement.worker_died(1);
        let mut to: Vec<Option<usize>> = moved.iter().map(|(_, _, to)| *to).collect();
        to.dedup();
        assert_eq!(moved.len(), 2, "{moved:?}");
        assert_eq!(to.len(), 1, "the room moved whole: {moved:?}");
        let new = to[0].unwrap();
        assert_ne!(new, 1);
        assert_eq!(placement.worker_of(peers[1]), Some(new));
        assert_eq!(placement.worker_of(peers[3]), Some(new));
        assert_eq!(
            placement.route(udp("10.0.0.1:1"), &check("b1")),
            None,
            "its pages connect again afresh"
        );
        assert_eq!(placement.load()[1], 0);
        // A new room never goes to the failed worker, even though it carries nobody.
        assert_ne!(placement.open(peers[4], room("d")).0, 1);
        // With no live worker left, pages are still told (nowhere to go).
        let mut alone = Placement::new(1);
        alone.open(peers[0], room("a"));
        assert_eq!(alone.worker_died(0), vec![(peers[0], room("a"), None)]);
    }

    #[test]
    fn datagrams_follow_the_check_that_named_a_pages_username() {
        let mut placement = Placement::new(2);
        let (a, b) = (PeerId::random(), PeerId::random());
        placement.open(a, room("one"));
        placement.open(b, room("two"));
        placement.registered(b, "bfrag");
        let srtp = [0x80, 0x60, 0, 1];
        let source = udp("10.0.0.5:4000");
        assert_eq!(placement.route(source, &srtp), None, "no check yet");
        assert_eq!(placement.route(source, &check("bfrag")), Some(1));
        assert_eq!(placement.route(source, &srtp), Some(1));
        assert_eq!(
            placement.route((Protocol::Tcp, source.1), &srtp),
            None,
            "the same address over TCP is another source"
        );
        assert_eq!(
            placement.route(udp("10.0.0.6:4000"), &check("nobody")),
            None
        );
        placement.close(b);
        assert_eq!(
            placement.route(source, &srtp),
            None,
            "forgotten with the page"
        );
        assert_eq!(placement.route(source, &check("bfrag")), None);
    }

    #[test]
    fn answers_to_our_questions_go_to_the_worker_that_asked() {
        let mut placement = Placement::new(2);
        let source = udp("10.0.0.9:5000");
        assert_eq!(placement.route(source, &answer(1)), Some(1));
        assert_eq!(placement.route(source, &answer(0)), Some(0));
        assert_eq!(
            placement.route(source, &answer(3)),
            Some(1),
            "any byte places"
        );
    }

    #[test]
    fn a_page_forging_many_sources_evicts_only_its_own() {
        let mut placement = Placement::new(1);
        let (honest, forger) = (PeerId::random(), PeerId::random());
        placement.open(honest, room("r"));
        placement.open(forger, room("r"));
        placement.registered(honest, "h");
        placement.registered(forger, "f");
        let home = udp("10.0.0.2:1000");
        placement.route(home, &check("h"));
        for port in 0..10_000u16 {
            placement.route(udp(&format!("10.0.1.1:{port}")), &check("f"));
        }
        assert!(placement.sources.len() <= 2 * SOURCES_PER_PAGE);
        assert_eq!(placement.route(home, &[0x80, 0x60]), Some(0));
    }

    #[test]
    fn an_ice_restart_keeps_the_previous_username_for_checks_in_flight() {
        let mut placement = Placement::new(1);
        let a = PeerId::random();
        placement.open(a, room("r"));
        for ufrag in ["one", "two", "three"] {
            placement.registered(a, ufrag);
        }
        let source = udp("10.0.0.2:1000");
        assert_eq!(placement.route(source, &check("three")), Some(0));
        assert_eq!(placement.route(source, &check("two")), Some(0));
        assert_eq!(placement.route(source, &check("one")), None);
        assert_eq!(placement.ufrags.len(), UFRAGS_PER_PAGE);
    }
}
