//! The hub joins the core to the transports: it feeds the core, then hands each resulting
//! event to the receiving peer's outbox, whichever transport that peer uses. In cluster mode
//! (`cluster.rs`) it also hands what other nodes must know to the cluster, and applies what they
//! tell it.

pub mod cluster;
mod cluster_link;
mod media_queue;
mod mirror;
#[cfg(test)]
pub(crate) mod recorded;

pub use media_queue::{MEDIA_REQUESTS_QUEUED, MediaInbox, MediaQueue, media_queue};

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use self::cluster::{ClusterState, Effect};
use self::mirror::MediaRoute;
use crate::metrics::Metrics;
use crate::rooms::{
    Change, Delivery, Invitation, InviteError, Limits, MeetingKeys, Moment, Outcome, Refusal, Role,
    Rooms,
};
use crate::wire::{
    ClientEvent, MediaMode, PeerId, ProtocolError, RoomId, ServerEvent, Transport, UserName,
};

/// A peer's queue could not take an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OutboxError {
    /// The bounded queue is full: the peer is not reading fast enough.
    #[error("queue full")]
    Full,
    /// The connection is gone.
    #[error("connection closed")]
    Closed,
}

/// Where the hub puts a peer's events; each transport implements it over its own bounded queue.
/// Both calls run under the hub's lock, so neither may wait.
pub trait Outbox: Send + Sync {
    /// Queues one event without waiting.
    fn send(&self, event: &ServerEvent) -> Result<(), OutboxError>;
    /// Asks the transport to close the connection (it then calls [`Hub::disconnect`]).
    fn close(&self);
}

/// Counts for `/health` and logs.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Stats {
    /// Connected peers.
    pub peers: usize,
    /// Rooms with members.
    pub rooms: usize,
}

/// Who is where right now, as observers (dashboard, tray) read it.
#[derive(Debug, Clone)]
pub struct Roster {
    /// Connected peers, in a room or not.
    pub peers: usize,
    /// Rooms by room id.
    pub rooms: Vec<RoomRoster>,
}

/// One room of the roster.
#[derive(Debug, Clone)]
pub struct RoomRoster {
    pub id: RoomId,
    /// Where its media goes.
    pub media: MediaMode,
    /// A private meeting: only its invitation link opens it.
    pub private: bool,
    /// Guests waiting in its lobby for a host, in arrival order.
    pub waiting: Vec<(PeerId, UserName)>,
    /// Its members in join order.
    pub seats: Vec<Seat>,
}

/// One person in a room, and how they are connected.
#[derive(Debug, Clone)]
pub struct Seat {
    /// Their peer id.
    pub peer: PeerId,
    /// The name they joined under.
    pub name: UserName,
    /// Host, guest, or a member of an open room.
    pub role: Role,
    /// The transport they came in on.
    pub transport: Transport,
    /// Their address as the server sees it (the TCP peer's).
    pub addr: Option<SocketAddr>,
    /// When they connected.
    pub since: Instant,
}

/// A connected peer as the hub keeps it: where its events go, and what observers show.
struct ConnectedPeer {
    outbox: Arc<dyn Outbox>,
    transport: Transport,
    addr: Option<SocketAddr>,
    since: Instant,
}

/// Everything the hub guards, behind one lock.
///
/// One `std::sync::Mutex` over the core and every outbox, held while the core decides and while
/// each resulting event is encoded and queued. That is what keeps the invariants simple:
/// - every recipient gets the events of one decision in the order the core produced them, and
///   one sender's events reach a recipient in the order they were sent (per-sender order);
/// - nobody can see a peer the core has removed, or miss one it has added: the rooms and the
///   outboxes change together.
///
/// It stays cheap because nothing under it waits: outboxes only push onto bounded queues (a full
/// one gets its peer dropped instead of blocking), no `.await` happens under it, and the work
/// per event is one decision plus a few serialisations. A relay takes tens of microseconds, so
/// one lock serves tens of thousands of events a second (docs/benchmarks.md). The lock is never
/// held across an `.await`, so a `std` mutex fits better than an async one.
struct State {
    rooms: Rooms,
    peers: HashMap<PeerId, ConnectedPeer>,
    /// Bumped whenever the roster changes (connect, disconnect, join, leave), for observers.
    roster: watch::Sender<u64>,
    /// Bumped whenever the private meetings' invitations change (made, used, expired), for
    /// whoever keeps them on disk.
    invitations: watch::Sender<u64>,
    metrics: Arc<Metrics>,
    /// Where the core's work for the media forwarder goes (none when media forwarding is off).
    media: Option<MediaQueue>,
    /// Cluster mode's state (none for a server on its own).
    cluster: Option<ClusterState>,
}

/// Shared handle to the core and every peer's outbox.
#[derive(Clone)]
pub struct Hub {
    state: Arc<Mutex<State>>,
    roster: watch::Receiver<u64>,
    metrics: Arc<Metrics>,
}

impl Hub {
    /// A hub with no peers, counting into `metrics`, handing media work to `media` (the media
    /// forwarder's queue, when it runs).
    pub fn new(limits: Limits, metrics: Arc<Metrics>, media: Option<MediaQueue>) -> Self {
        let (roster_tx, roster) = watch::channel(0);
        Self {
            state: Arc::new(Mutex::new(State {
                rooms: Rooms::new(limits),
                peers: HashMap::new(),
                roster: roster_tx,
                invitations: watch::Sender::new(0),
                metrics: metrics.clone(),
                media,
                cluster: None,
            })),
            roster,
            metrics,
        }
    }

    /// The counters behind `/metrics`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Changes whenever the roster does (someone connects, disconnects, joins or leaves) after
    /// this call. A plain clone of the hub's receiver would carry its "seen" mark, which nothing
    /// moves: once anyone had joined, its `changed()` returned at once, forever (a loop that
    /// subscribed afresh each turn spun a core).
    pub fn roster_changes(&self) -> watch::Receiver<u64> {
        let mut changes = self.roster.clone();
        changes.mark_unchanged();
        changes
    }

    /// Makes a private meeting: a room named by `name` (called again while the name it gives
    /// is in use) that only its two fresh keys open. The keys are returned once, in clear. In
    /// cluster mode the meeting is made in Redis, for every node.
    pub async fn make_meeting(
        &self,
        mut name: impl FnMut() -> String,
    ) -> Result<(RoomId, MeetingKeys), InviteError> {
        let link = self.lock().cluster.as_ref().map(|c| c.link.clone());
        let Some(link) = link else {
            return self.new_meeting(name);
        };
        const TRIES: usize = 50;
        let keys = MeetingKeys::random();
        let invitation = keys.invitation(unix_ms());
        for _ in 0..TRIES {
            let Ok(room) = RoomId::parse(&name()) else {
                continue;
            };
            match link.invite(room.clone(), invitation).await {
                Ok(Some(true)) => return Ok((room, keys)),
                Ok(Some(false)) => continue,
                _ => return Err(InviteError::ClusterUnavailable),
            }
        }
        Err(InviteError::Taken(
            RoomId::parse(&name()).map_err(|_| InviteError::Full(0))?,
        ))
    }

    /// [`Hub::make_meeting`] for a server on its own.
    fn new_meeting(
        &self,
        mut name: impl FnMut() -> String,
    ) -> Result<(RoomId, MeetingKeys), InviteError> {
        const TRIES: usize = 50;
        let keys = MeetingKeys::random();
        let invitation = keys.invitation(unix_ms());
        let mut state = self.lock();
        let mut last = None;
        for _ in 0..TRIES {
            let Ok(room) = RoomId::parse(&name()) else {
                continue;
            };
            match state.rooms.invite(room.clone(), invitation) {
                Ok(()) => {
                    state.invitations.send_modify(|v| *v += 1);
                    return Ok((room, keys));
                }
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or(InviteError::Full(0)))
    }

    /// Every private meeting's invitation (digests only), for saving.
    pub fn invitations(&self) -> Vec<(RoomId, Invitation)> {
        let state = self.lock();
        state
            .rooms
            .invitations()
            .map(|(room, invitation)| (room.clone(), *invitation))
            .collect()
    }

    /// Puts back invitations saved by an earlier run; returns how many were taken.
    pub fn restore_invitations(&self, saved: Vec<(RoomId, Invitation)>) -> usize {
        let mut state = self.lock();
        saved
            .into_iter()
            .filter(|(room, invitation)| state.rooms.invite(room.clone(), *invitation).is_ok())
            .count()
    }

    /// Forgets invitations unused for 30 days; returns how many.
    pub fn expire_invitations(&self) -> usize {
        let mut state = self.lock();
        let expired = state.rooms.expire_invitations(unix_ms());
        if expired > 0 {
            state.invitations.send_modify(|v| *v += 1);
        }
        expired
    }

    /// Changes whenever the invitations do.
    pub fn invitation_changes(&self) -> watch::Receiver<u64> {
        self.lock().invitations.subscribe()
    }

    /// Who is where right now.
    pub fn roster(&self) -> Roster {
        let state = self.lock();
        let mut rooms: Vec<RoomRoster> = state
            .rooms
            .rooms()
            .map(|(room, members, media)| {
                let seats = members
                    .iter()
                    .filter_map(|&peer| {
                        let connected = state.peers.get(&peer)?;
                        Some(Seat {
                            peer,
                            name: state.rooms.name_of(peer)?.clone(),
                            role: state.rooms.role_of(peer)?,
                            transport: connected.transport,
                            addr: connected.addr,
                            since: connected.since,
                        })
                    })
                    .collect();
                RoomRoster {
                    private: state.rooms.is_private(room),
                    waiting: state.rooms.lobby(room),
                    id: room.clone(),
                    media,
                    seats,
                }
            })
            .collect();
        rooms.sort_by(|a, b| a.id.cmp(&b.id));
        Roster {
            peers: state.peers.len(),
            rooms,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than stopping the whole server would, so keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Peer and room counts (this node's peers; in cluster mode the core also holds other
    /// nodes' members of the rooms this node follows).
    pub fn stats(&self) -> Stats {
        let state = self.lock();
        Stats {
            peers: state.peers.len(),
            rooms: state.rooms.room_count(),
        }
    }

    /// Registers a new peer and its outbox. The connection caps were applied at the handshake
    /// (`transport::admission`), so a peer that reaches here is always taken.
    pub fn connect(
        &self,
        peer: PeerId,
        transport: Transport,
        addr: Option<SocketAddr>,
        outbox: Arc<dyn Outbox>,
    ) {
        let mut state = self.lock();
        let since = Instant::now();
        state.rooms.connect(peer, since);
        self.metrics.connection(transport, 1);
        let connected = ConnectedPeer {
            outbox,
            transport,
            addr,
            since,
        };
        state.peers.insert(peer, connected);
        state.roster.send_modify(|v| *v += 1);
        drop(state);
        let addr = addr.map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(peer = %peer, transport = transport.as_str(), addr, "peer connected");
    }

    /// Handles one decoded (or undecodable) event from a peer.
    pub fn receive(&self, peer: PeerId, event: Result<Option<ClientEvent>, ProtocolError>) {
        let mut state = self.lock();
        state.receive(self, peer, event);
    }

    /// Removes a peer whose connection ended; its room is told.
    pub fn disconnect(&self, peer: PeerId, reason: &str) {
        let mut state = self.lock();
        let Some(connected) = state.peers.remove(&peer) else {
            return;
        };
        self.metrics.connection(connected.transport, -1);
        if let Some(cluster) = &mut state.cluster {
            cluster.mirror.waiting.remove(&peer);
        }
        let outcome = state.rooms.disconnect(peer);
        state.apply(outcome);
        state.roster.send_modify(|v| *v += 1);
        drop(state);
        tracing::info!(peer = %peer, reason, "peer disconnected");
    }

    /// Sends one event to one peer from outside the core (the media forwarder's answers). A
    /// peer that is gone is skipped; one whose queue is full is dropped, as in any delivery.
    pub fn deliver(&self, peer: PeerId, event: ServerEvent) {
        let mut state = self.lock();
        let Some(event) = state.reply_across(peer, event) else {
            return;
        };
        let outcome = Outcome {
            deliveries: vec![Delivery { to: peer, event }],
            changes: Vec::new(),
        };
        state.apply(outcome);
    }

    /// Closes every connection, for shutdown.
    pub fn close_all(&self) {
        let outboxes: Vec<_> = self
            .lock()
            .peers
            .values()
            .map(|c| c.outbox.clone())
            .collect();
        for outbox in outboxes {
            outbox.close();
        }
    }
}

/// Milliseconds since the Unix epoch, by the wall clock.
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

impl State {
    fn receive(
        &mut self,
        hub: &Hub,
        peer: PeerId,
        event: Result<Option<ClientEvent>, ProtocolError>,
    ) {
        if let Some(cluster) = &mut self.cluster
            && let Some(queue) = cluster.mirror.waiting.get_mut(&peer)
        {
            // As many as the rate limit lets a peer send at once (`--event-burst`): what one
            // node would take from it in the same moment. A fixed 256 refused the rest of a page's
            // burst only in cluster mode, and only when Redis was slow to admit its join (the
            // order test, run against a cluster, lost signals 256 onwards now and then).
            if queue.len() < self.rooms.rate_burst().max(1) {
                queue.push_back(event);
            } else {
                let per_second = self.rooms.rate_per_second();
                self.apply(Outcome::refusal(peer, Refusal::RateLimited { per_second }));
            }
            return;
        }
        match event {
            Ok(Some(join @ ClientEvent::JoinRoom { .. })) if self.needs_admission(peer, &join) => {
                self.ask_admission(hub, peer, join)
            }
            event => self.decide(peer, event),
        }
    }

    /// The core decides on one event of a local peer; the outcome is delivered and, in
    /// cluster mode, what other nodes must know is handed to the cluster.
    fn decide(&mut self, peer: PeerId, event: Result<Option<ClientEvent>, ProtocolError>) {
        let started = Instant::now();
        let at = Moment {
            instant: started,
            unix_ms: unix_ms(),
        };
        let outcome = self.rooms.handle(peer, event, at);
        let relays = outcome
            .changes
            .iter()
            .filter(|change| matches!(change, Change::Relayed))
            .count();
        self.publish_effects(peer, &outcome);
        self.apply(outcome);
        for _ in 0..relays {
            self.metrics.relayed(started.elapsed().as_secs_f64());
        }
    }

    /// Delivers an outcome; a peer whose queue is full is dropped, and its departure is
    /// delivered in turn, so one stuck reader never holds up anybody else.
    fn apply(&mut self, outcome: Outcome) {
        let mut work = VecDeque::from([outcome]);
        while let Some(Outcome {
            deliveries,
            changes,
        }) = work.pop_front()
        {
            for peer in self.observe(&changes) {
                tracing::debug!(peer = %peer, "media request refused: the forwarder's queue is full");
                // A page on another node hears it through its own node.
                if self.is_remote(peer) {
                    let error = ServerEvent::Error(Refusal::MediaBusy.reply());
                    let _ = self.reply_across(peer, error);
                }
                work.push_back(Outcome::refusal(peer, Refusal::MediaBusy));
            }
            for Delivery { to, event } in deliveries {
                let Some(connected) = self.peers.get(&to) else {
                    continue;
                };
                let Err(error) = connected.outbox.send(&event) else {
                    continue;
                };
                // A closed connection is one whose disconnect is on its way: not news.
                if error == OutboxError::Full {
                    tracing::warn!(peer = %to, "dropping peer: it is not reading and its queue is full");
                } else {
                    tracing::debug!(peer = %to, %error, "peer gone before its disconnect was handled");
                }
                if let Some(connected) = self.peers.remove(&to) {
                    self.metrics.connection(connected.transport, -1);
                    connected.outbox.close();
                }
                work.push_back(self.rooms.disconnect(to));
            }
        }
        self.metrics
            .set_rooms(self.rooms.room_count(), self.rooms.sfu_room_count());
    }

    /// Logs changes, counts them, and tells observers when the roster changed; in cluster mode,
    /// tells the other nodes when a local peer left a room.
    fn observe(&mut self, changes: &[Change]) -> Vec<PeerId> {
        let mut busy = Vec::new();
        let mut roster_changed = false;
        let mut left_rooms = Vec::new();
        for change in changes {
            match change {
                Change::Relayed => {}
                Change::Chatted => self.metrics.chatted(),
                Change::StateShared { .. } => {}
                Change::Joined { peer, room } => {
                    if self.is_remote(*peer) {
                        tracing::debug!(peer = %peer, room = %room, "joined room on another node");
                    } else {
                        let role = self.rooms.role_of(*peer).unwrap_or(Role::Open);
                        log_private!(info, [peer = %peer,], [room = %room,], [role = %role.as_str(),], "joined room");
                        self.metrics.joined();
                        if role != Role::Open {
                            // The invitation was used: its idle time starts again.
                            self.invitations.send_modify(|v| *v += 1);
                        }
                    }
                    roster_changed = true;
                }
                Change::Left { peer, room } => {
                    if self.is_remote(*peer) {
                        tracing::debug!(peer = %peer, room = %room, "left room on another node");
                    } else {
                        log_private!(info, [peer = %peer,], [room = %room,], [], "left room");
                        // Moving to another room is a join, which the cluster's admission tells.
                        let moved = changes
                            .iter()
                            .any(|c| matches!(c, Change::Joined { peer: p, .. } if p == peer));
                        if let Some(cluster) = &self.cluster
                            && !moved
                        {
                            cluster.link.publish(Effect::Left {
                                room: room.clone(),
                                peer: *peer,
                            });
                        }
                        left_rooms.push(room.clone());
                    }
                    roster_changed = true;
                }
                Change::Refused { peer, refusal } => {
                    tracing::debug!(peer = %peer, %refusal, "event refused");
                    self.metrics.refused(refusal.into());
                }
                Change::MediaMode { room, mode } => {
                    log_private!(info, [], [room = %room,], [mode = mode.as_str(),], "room media moved");
                    roster_changed = true;
                }
                Change::Lobby { .. } => roster_changed = true,
                Change::Invitations => self.invitations.send_modify(|v| *v += 1),
                Change::Media(change) => match self.media_route(change) {
                    MediaRoute::Here => {
                        if let Some(media) = &self.media
                            && let Err(peer) = media.send(change.clone())
                        {
                            busy.push(peer);
                        }
                    }
                    MediaRoute::Home(effect) => {
                        if let Some(cluster) = &self.cluster {
                            cluster.link.publish(effect);
                        }
                    }
                    MediaRoute::Nowhere => {}
                },
            }
        }
        for room in left_rooms {
            self.forget_if_unused(&room);
        }
        if roster_changed {
            self.roster.send_modify(|v| *v += 1);
        }
        busy
    }
}
