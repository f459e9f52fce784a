//! The hub joins the core to the transports: it feeds the core, then hands each resulting
//! event to the receiving peer's outbox, whichever transport that peer uses.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::protocol::{ClientEvent, ProtocolError, ServerEvent};
use crate::rooms::{Change, Delivery, Limits, Outcome, PeerId, Refusal, Rooms};

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
pub trait Outbox: Send + Sync {
    /// Queues one event without waiting.
    fn send(&self, event: &ServerEvent) -> Result<(), OutboxError>;
    /// Asks the transport to close the connection (it then calls [`Hub::disconnect`]).
    fn close(&self);
}

/// Which transport a peer came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Socket.IO over websocket or polling.
    SocketIo,
    /// The plain `/ws` JSON protocol.
    WebSocket,
}

impl Transport {
    /// Short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::SocketIo => "socket.io",
            Transport::WebSocket => "ws",
        }
    }
}

/// Counts for `/health`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Stats {
    /// Connected peers.
    pub peers: usize,
    /// Rooms with members.
    pub rooms: usize,
}

/// A live connection: where its events go, and what the dashboard shows about it.
struct Connection {
    outbox: Arc<dyn Outbox>,
    transport: Transport,
    addr: Option<SocketAddr>,
    since: Instant,
}

struct State {
    rooms: Rooms,
    connections: HashMap<PeerId, Connection>,
    /// Signals relayed since start.
    relayed: u64,
    /// Bumped on every connect, disconnect, join and leave, for observers.
    revision: watch::Sender<u64>,
    metrics: Arc<Metrics>,
}

/// Shared handle to the core and every peer's outbox.
#[derive(Clone)]
pub struct Hub {
    state: Arc<Mutex<State>>,
    changes: watch::Receiver<u64>,
    metrics: Arc<Metrics>,
}

/// What the dashboard shows: rooms with their people, and totals.
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
}

/// One room on the dashboard.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoomView {
    /// The room id.
    pub id: String,
    /// Its members in join order.
    pub peers: Vec<PeerView>,
}

/// One person on the dashboard.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeerView {
    /// Peer id.
    pub id: PeerId,
    /// Display name.
    pub user_name: String,
    /// `socket.io` or `ws`.
    pub transport: &'static str,
    /// Remote address as seen by the server.
    pub address: Option<String>,
    /// Seconds since the connection opened.
    pub connected_secs: u64,
}

impl Hub {
    /// A hub with no peers.
    pub fn new(limits: Limits) -> Self {
        let (revision, changes) = watch::channel(0);
        let metrics = Arc::new(Metrics::new());
        Self {
            state: Arc::new(Mutex::new(State {
                rooms: Rooms::new(limits),
                connections: HashMap::new(),
                relayed: 0,
                revision,
                metrics: metrics.clone(),
            })),
            changes,
            metrics,
        }
    }

    /// The counters behind `/metrics`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Resolves whenever someone connects, disconnects, joins or leaves.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// Signals relayed since start.
    pub fn relayed(&self) -> u64 {
        self.lock().relayed
    }

    /// Rooms and people right now, for the dashboard and the tray.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        let now = Instant::now();
        let mut rooms: Vec<RoomView> = state
            .rooms
            .rooms()
            .map(|(id, members)| RoomView {
                id: id.to_string(),
                peers: members
                    .iter()
                    .filter_map(|&peer| {
                        let connection = state.connections.get(&peer)?;
                        Some(PeerView {
                            id: peer,
                            user_name: state.rooms.name_of(peer)?.as_str().to_owned(),
                            transport: connection.transport.as_str(),
                            address: connection.addr.map(|a| a.to_string()),
                            connected_secs: now.duration_since(connection.since).as_secs(),
                        })
                    })
                    .collect(),
            })
            .collect();
        rooms.sort_by(|a, b| a.id.cmp(&b.id));
        let seated: usize = rooms.iter().map(|r| r.peers.len()).sum();
        Snapshot {
            peers: state.connections.len(),
            lobby: state.connections.len().saturating_sub(seated),
            rooms,
            relayed: state.relayed,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than stopping the whole server would, so keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Peer and room counts.
    pub fn stats(&self) -> Stats {
        let state = self.lock();
        Stats {
            peers: state.rooms.peer_count(),
            rooms: state.rooms.room_count(),
        }
    }

    /// Registers a new peer and its outbox.
    pub fn connect(
        &self,
        peer: PeerId,
        transport: Transport,
        addr: Option<SocketAddr>,
        outbox: Arc<dyn Outbox>,
    ) -> Result<(), Refusal> {
        let mut state = self.lock();
        let since = Instant::now();
        if let Err(refusal) = state.rooms.connect(peer, since) {
            self.metrics.refused((&refusal).into());
            return Err(refusal);
        }
        self.metrics.connection(transport, 1);
        let connection = Connection {
            outbox,
            transport,
            addr,
            since,
        };
        state.connections.insert(peer, connection);
        state.revision.send_modify(|r| *r += 1);
        drop(state);
        let addr = addr.map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(peer = %peer, transport = transport.as_str(), addr, "peer connected");
        Ok(())
    }

    /// Handles one decoded (or undecodable) event from a peer.
    pub fn receive(&self, peer: PeerId, event: Result<Option<ClientEvent>, ProtocolError>) {
        let started = Instant::now();
        let mut state = self.lock();
        let outcome = state.rooms.handle(peer, event, started);
        let relays = outcome
            .changes
            .iter()
            .filter(|change| matches!(change, Change::Relayed))
            .count();
        state.apply(outcome);
        drop(state);
        for _ in 0..relays {
            self.metrics.relayed(started.elapsed().as_secs_f64());
        }
    }

    /// Removes a peer whose connection ended; its room is told.
    pub fn disconnect(&self, peer: PeerId, reason: &str) {
        let mut state = self.lock();
        let Some(connection) = state.connections.remove(&peer) else {
            return;
        };
        self.metrics.connection(connection.transport, -1);
        let outcome = state.rooms.disconnect(peer);
        state.apply(outcome);
        state.revision.send_modify(|r| *r += 1);
        drop(state);
        tracing::info!(peer = %peer, reason, "peer disconnected");
    }

    /// Closes every connection, for shutdown.
    pub fn close_all(&self) {
        let outboxes: Vec<_> = self
            .lock()
            .connections
            .values()
            .map(|c| c.outbox.clone())
            .collect();
        for outbox in outboxes {
            outbox.close();
        }
    }
}

impl State {
    /// Delivers an outcome; a peer whose queue is full is dropped, and its departure is
    /// delivered in turn, so one stuck reader never holds up anybody else.
    fn apply(&mut self, outcome: Outcome) {
        let mut work = VecDeque::from([outcome]);
        while let Some(Outcome {
            deliveries,
            changes,
        }) = work.pop_front()
        {
            self.observe(&changes);
            for Delivery { to, event } in deliveries {
                let Some(connection) = self.connections.get(&to) else {
                    continue;
                };
                match connection.outbox.send(&event) {
                    Ok(()) => {}
                    Err(error) => {
                        // A closed connection is one whose disconnect is on its way: not news.
                        if error == OutboxError::Full {
                            tracing::warn!(peer = %to, "dropping peer: it is not reading and its queue is full");
                        } else {
                            tracing::debug!(peer = %to, %error, "peer gone before its disconnect was handled");
                        }
                        if let Some(connection) = self.connections.remove(&to) {
                            self.metrics.connection(connection.transport, -1);
                            connection.outbox.close();
                        }
                        work.push_back(self.rooms.disconnect(to));
                    }
                }
            }
        }
        self.metrics.set_rooms(self.rooms.room_count());
    }
}

impl State {
    /// Logs changes and tells observers about those that change who is where.
    fn observe(&mut self, changes: &[Change]) {
        let mut moved = false;
        for change in changes {
            log_change(change);
            match change {
                Change::Relayed => self.relayed += 1,
                Change::Joined { .. } => {
                    self.metrics.joined();
                    moved = true;
                }
                Change::Left { .. } => moved = true,
                Change::Refused { reason, .. } => self.metrics.refused(reason.into()),
            }
        }
        if moved {
            self.revision.send_modify(|r| *r += 1);
        }
    }
}

fn log_change(change: &Change) {
    match change {
        Change::Joined { peer, room } => tracing::info!(peer = %peer, room = %room, "joined room"),
        Change::Left { peer, room } => tracing::info!(peer = %peer, room = %room, "left room"),
        Change::Relayed => {}
        Change::Refused { peer, reason } => {
            tracing::debug!(peer = %peer, %reason, "event refused")
        }
    }
}
