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

use crate::hub::{Hub, Outbox, OutboxError, Transport};
use crate::protocol::{ClientEvent, ProtocolError, ServerEvent};
use crate::rooms::PeerId;

/// Wires the default namespace to the hub.
pub fn attach(io: &SocketIo, hub: Hub) {
    let register = move |socket: SocketRef| {
        let hub = hub.clone();
        async move { register(socket, hub) }
    };
    io.ns("/", connected.with(register));
}

/// Runs once socketioxide has marked the socket connected: from now on events can be emitted.
async fn connected(socket: SocketRef) {
    if let Some(gate) = socket.extensions.get::<Arc<Gate>>() {
        gate.open(|event| emit(&socket, event));
    }
}

fn register(socket: SocketRef, hub: Hub) -> Result<(), crate::rooms::Refusal> {
    let peer = PeerId::from(socket.id);
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
    });
    hub.connect(peer, Transport::SocketIo, addr, outbox)?;
    socket.on_fallback(Events { hub: hub.clone() });
    socket.on_disconnect(async move |socket: SocketRef, reason: DisconnectReason| {
        hub.disconnect(PeerId::from(socket.id), &reason.to_string());
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
        let peer = PeerId::from(socket.id);
        self.hub.receive(peer, decode(&value));
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
    ClientEvent::decode_packet(text)
}

/// A Socket.IO peer's outbox: socketioxide's own bounded per-socket queue.
struct SocketIoOutbox {
    socket: SocketRef,
    gate: Arc<Gate>,
}

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
    match socket.emit(event.name(), &event.data()) {
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
            // The disconnect packet itself needs a free slot: retry until the socket drains
            // or the ping timeout ends it.
            tokio::spawn(async move {
                for _ in 0..300 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
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
            sent.push(event.to_ws_frame());
            Ok(())
        });
        assert_eq!(sent, [left(0).to_ws_frame(), left(1).to_ws_frame()]);
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
