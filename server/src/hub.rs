//! The hub joins the core to the transports: it feeds the core, then hands each resulting
//! event to the receiving peer's outbox, whichever transport that peer uses.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

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

struct State {
    rooms: Rooms,
    outboxes: HashMap<PeerId, Arc<dyn Outbox>>,
}

/// Shared handle to the core and every peer's outbox.
#[derive(Clone)]
pub struct Hub {
    state: Arc<Mutex<State>>,
}

impl Hub {
    /// A hub with no peers.
    pub fn new(limits: Limits) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                rooms: Rooms::new(limits),
                outboxes: HashMap::new(),
            })),
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

    /// Whether a new connection would be admitted now (checked at the HTTP handshake).
    pub fn has_room_for_connection(&self) -> bool {
        self.lock().rooms.has_room_for_connection()
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
        state.rooms.connect(peer, Instant::now())?;
        state.outboxes.insert(peer, outbox);
        drop(state);
        let addr = addr.map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(peer = %peer, transport = transport.as_str(), addr, "peer connected");
        Ok(())
    }

    /// Handles one decoded (or undecodable) event from a peer.
    pub fn receive(&self, peer: PeerId, event: Result<Option<ClientEvent>, ProtocolError>) {
        let mut state = self.lock();
        let outcome = state.rooms.handle(peer, event, Instant::now());
        state.apply(outcome);
    }

    /// Removes a peer whose connection ended; its room is told.
    pub fn disconnect(&self, peer: PeerId, reason: &str) {
        let mut state = self.lock();
        if state.outboxes.remove(&peer).is_none() {
            return;
        }
        let outcome = state.rooms.disconnect(peer);
        state.apply(outcome);
        drop(state);
        tracing::info!(peer = %peer, reason, "peer disconnected");
    }

    /// Closes every connection, for shutdown.
    pub fn close_all(&self) {
        let outboxes: Vec<_> = self.lock().outboxes.values().cloned().collect();
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
            for change in &changes {
                log_change(change);
            }
            for Delivery { to, event } in deliveries {
                let Some(outbox) = self.outboxes.get(&to) else {
                    continue;
                };
                match outbox.send(&event) {
                    Ok(()) => {}
                    Err(error) => {
                        tracing::warn!(peer = %to, %error, "dropping peer: its queue cannot take more events");
                        if let Some(outbox) = self.outboxes.remove(&to) {
                            outbox.close();
                        }
                        work.push_back(self.rooms.disconnect(to));
                    }
                }
            }
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
