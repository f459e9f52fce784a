//! Socket.IO v4 adapter over socketioxide.
//!
//! Two socketioxide behaviours shape this file:
//! - handlers set in the namespace callback run after the CONNECT ack, so an event sent right
//!   after connecting could find no handler; we register in a connect middleware instead;
//! - stock message handlers are each spawned as a task, which reorders one sender's messages;
//!   [`Events`] handles every event on the socket's own read task, in arrival order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use serde_json::value::RawValue;
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
    io.ns("/", (async || {}).with(register));
}

fn register(socket: SocketRef, hub: Hub) -> Result<(), crate::rooms::Refusal> {
    let peer = PeerId::from(socket.id);
    let addr = socket
        .req_parts()
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let outbox = Arc::new(SocketIoOutbox(socket.clone()));
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

/// Splits a Socket.IO event packet `["name", data, ...]` and decodes it.
fn decode(value: &Value) -> Result<Option<ClientEvent>, ProtocolError> {
    let Value::Str(text, binaries) = value else {
        return Err(ProtocolError::Binary);
    };
    if binaries.as_ref().is_some_and(|b| !b.is_empty()) {
        return Err(ProtocolError::Binary);
    }
    let parts: Vec<&RawValue> = serde_json::from_str(text).map_err(|_| ProtocolError::BadFrame)?;
    let name: &str = parts
        .first()
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .ok_or(ProtocolError::BadFrame)?;
    ClientEvent::decode(name, parts.get(1).copied())
}

/// A Socket.IO peer's outbox: socketioxide's own bounded per-socket queue.
struct SocketIoOutbox(SocketRef);

impl Outbox for SocketIoOutbox {
    fn send(&self, event: &ServerEvent) -> Result<(), OutboxError> {
        match self.0.emit(event.name(), &event.data()) {
            Ok(()) => Ok(()),
            Err(SendError::Socket(SocketError::InternalChannelFull)) => Err(OutboxError::Full),
            Err(SendError::Socket(SocketError::Closed)) => Err(OutboxError::Closed),
            Err(error) => {
                tracing::error!(%error, "could not encode an event for socket.io");
                Ok(())
            }
        }
    }

    fn close(&self) {
        let socket = self.0.clone();
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
