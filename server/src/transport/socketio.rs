//! Socket.IO v4 adapter over socketioxide.
//!
//! Two socketioxide behaviours shape this file:
//! - handlers set in the namespace callback run after the CONNECT ack, so an event sent right
//!   after connecting could find no handler; we register in a connect middleware instead;
//! - stock message handlers are each spawned as a task, which reorders one sender's messages;
//!   [`Events`] handles every event on the socket's own read task, in arrival order.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::SocketRef;
use socketioxide::handler::{ConnectHandler, MessageHandler};
use socketioxide::socket::{DisconnectReason, Socket};
use socketioxide::{SendError, SocketError, SocketIo};
use socketioxide_core::Value;

use crate::hub::{Hub, Outbox, OutboxError};
use crate::wire::{
    BadPeerId, ClientEvent, PeerId, ProtocolError, ServerEvent, Transport, socketio_packet,
};

/// Wires the default namespace to the hub. `heartbeat` is how long socketioxide takes to end a
/// peer that stops answering (ping interval + ping timeout).
pub fn attach(io: &SocketIo, hub: Hub, heartbeat: Duration) {
    let register = move |socket: SocketRef| {
        let hub = hub.clone();
        async move { register(socket, hub, heartbeat) }
    };
    io.ns("/", connected.with(register));
}

/// A Socket.IO peer keeps its socket id as its peer id: that is the `socket.id` its client
/// library shows, and what other peers address signals to.
fn peer_of(socket: &Socket<LocalAdapter>) -> Result<PeerId, BadPeerId> {
    socket.id.as_str().parse()
}

/// Runs once socketioxide has marked the socket connected: from now on events can be emitted.
async fn connected(socket: SocketRef) {
    if let Some(gate) = socket.extensions.get::<Arc<Gate>>() {
        gate.open(|event| emit(&socket, event));
    }
}

/// Registers a new socket with the hub; an error refuses the Socket.IO connection.
fn register(socket: SocketRef, hub: Hub, heartbeat: Duration) -> Result<(), BadPeerId> {
    let peer = peer_of(&socket)?;
    let addr = socket
        .req_parts()
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let gate = Arc::new(Gate::default());
    socket.extensions.insert(gate.clone());
    let outbox = Arc::new(SocketIoOutbox {
        socket: socket.clone(),
        gate,
        heartbeat,
    });
    hub.connect(peer, Transport::SocketIo, addr, outbox);
    socket.on_fallback(Events { hub: hub.clone() });
    socket.on_disconnect(async move |_: SocketRef, reason: DisconnectReason| {
        hub.disconnect(peer, &reason.to_string());
    });
    Ok(())
}

/// Marker for [`Events`]' `MessageHandler` impl.
pub struct OnReadTask;

/// Handles every event of one socket synchronously, so none is reordered.
#[derive(Clone)]
struct Events {
    hub: Hub,
}

impl MessageHandler<LocalAdapter, OnReadTask> for Events {
    fn call(&self, socket: Arc<Socket<LocalAdapter>>, value: Value, _ack: Option<i64>) {
        // Registration refused any socket whose id is not a peer id.
        if let Ok(peer) = peer_of(&socket) {
            self.hub.receive(peer, decode(&value));
        }
    }
}

/// Decodes a Socket.IO event packet `["name", data, ...]`.
fn decode(value: &Value) -> Result<Option<ClientEvent>, ProtocolError> {
    let Value::Str(text, binaries) = value else {
        return Err(ProtocolError::Binary);
    };
    if binaries.as_ref().is_some_and(|b| !b.is_empty()) {
        return Err(ProtocolError::Binary);
    }
    socketio_packet::decode(text)
}

/// A Socket.IO peer's outbox: socketioxide's own bounded per-socket queue.
struct SocketIoOutbox {
    socket: SocketRef,
    gate: Arc<Gate>,
    heartbeat: Duration,
}

/// How often a disconnect that found the socket's queue full is tried again.
const CLOSE_RETRY: Duration = Duration::from_millis(200);

/// Holds a new socket's events until socketioxide marks it connected. The peer is registered
/// in the connect middleware (so its first events are handled), but socketioxide sends the
/// CONNECT packet before flagging the socket connected, and refuses to emit until then: an
/// answer to an event that arrives in between would otherwise be lost.
#[derive(Default)]
struct Gate {
    open: AtomicBool,
    pending: Mutex<Vec<ServerEvent>>,
}

/// Events a socket may accumulate before it is connected (it has sent at most a few by then).
const GATE_LIMIT: usize = 64;

impl Gate {
    /// Sends what waited, in order, then lets events through directly.
    fn open(&self, mut send: impl FnMut(&ServerEvent) -> Result<(), OutboxError>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for event in pending.drain(..) {
            let _ = send(&event);
        }
        self.open.store(true, Ordering::Release);
    }

    /// Queues an event while closed; `None` once open (the caller sends it itself).
    fn hold(&self, event: &ServerEvent) -> Option<Result<(), OutboxError>> {
        if self.open.load(Ordering::Acquire) {
            return None;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if self.open.load(Ordering::Acquire) {
            return None;
        }
        if pending.len() >= GATE_LIMIT {
            return Some(Err(OutboxError::Full));
        }
        pending.push(event.clone());
        Some(Ok(()))
    }
}

fn emit(socket: &SocketRef, event: &ServerEvent) -> Result<(), OutboxError> {
    let sent = match event {
        // Two arguments: the text, as the original server sent it (its front-end reads only
        // this one), then `{code}` (a tuple is sent as the event's arguments).
        ServerEvent::Error(error) => socket.emit(
            event.name(),
            &(&error.text, serde_json::json!({ "code": error.code })),
        ),
        _ => socket.emit(event.name(), &event.data()),
    };
    match sent {
        Ok(()) => Ok(()),
        Err(SendError::Socket(SocketError::InternalChannelFull)) => Err(OutboxError::Full),
        Err(SendError::Socket(SocketError::Closed)) => Err(OutboxError::Closed),
        Err(error) => {
            tracing::error!(%error, "could not encode an event for socket.io");
            Ok(())
        }
    }
}

impl Outbox for SocketIoOutbox {
    fn send(&self, event: &ServerEvent) -> Result<(), OutboxError> {
        match self.gate.hold(event) {
            Some(held) => held,
            None => emit(&self.socket, event),
        }
    }

    fn close(&self) {
        let socket = self.socket.clone();
        if let Err(SocketError::InternalChannelFull) = socket.clone().disconnect() {
            // The hub closes a peer mostly because its queue is full, and the disconnect packet
            // needs a slot in that same queue. Until it goes out, the socket stays open while
            // the hub, which has already removed the peer, ignores its events. So retry: a peer
            // that reads again drains its queue within one retry and is disconnected; one that
            // does not read also stops answering pings, and the heartbeat ends it. After one
            // heartbeat the second has happened, so the retries stop there.
            let attempts = self.heartbeat.as_millis() / CLOSE_RETRY.as_millis() + 1;
            tokio::spawn(async move {
                for _ in 0..attempts {
                    tokio::time::sleep(CLOSE_RETRY).await;
                    if !matches!(
                        socket.clone().disconnect(),
                        Err(SocketError::InternalChannelFull)
                    ) {
                        break;
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ws_frame;

    fn left(n: u8) -> ServerEvent {
        let id = format!("AAAAAAAAAAAAAAA{}", (b'A' + n) as char);
        ServerEvent::UserLeft(id.parse().unwrap())
    }

    #[test]
    fn the_gate_holds_events_until_open_then_flushes_them_in_order() {
        let gate = Gate::default();
        assert_eq!(gate.hold(&left(0)), Some(Ok(())));
        assert_eq!(gate.hold(&left(1)), Some(Ok(())));
        let mut sent = Vec::new();
        gate.open(|event| {
            sent.push(ws_frame::encode(event));
            Ok(())
        });
        assert_eq!(
            sent,
            [ws_frame::encode(&left(0)), ws_frame::encode(&left(1))]
        );
        assert_eq!(
            gate.hold(&left(2)),
            None,
            "once open, events go straight out"
        );
    }

    #[test]
    fn a_closed_gate_is_bounded() {
        let gate = Gate::default();
        for _ in 0..GATE_LIMIT {
            assert_eq!(gate.hold(&left(0)), Some(Ok(())));
        }
        assert_eq!(gate.hold(&left(0)), Some(Err(OutboxError::Full)));
    }
}
