//! The plain WebSocket transport at `/ws`: JSON text frames `{"event": NAME, "data": PAYLOAD}`
//! carrying the same events as Socket.IO, for clients without a Socket.IO library.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, Extension, State};
use axum::response::Response;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

use super::guard::Admitted;
use crate::http::AppState;
use crate::hub::{Hub, Outbox, OutboxError, Transport};
use crate::metrics::Reason;
use crate::protocol::{ClientEvent, ProtocolError, ServerEvent};
use crate::rooms::PeerId;

/// Read buffer per `/ws` connection, as socketioxide uses for its websocket transport.
pub(crate) const READ_BUFFER_BYTES: usize = 1024;

/// Connection settings for `/ws` peers.
#[derive(Debug, Clone, Copy)]
pub struct WsSettings {
    /// How often the server pings.
    pub ping_interval: Duration,
    /// How long a ping may go unanswered (also bounds one write).
    pub ping_timeout: Duration,
    /// Largest incoming message; a bigger one closes the connection.
    pub max_message_bytes: usize,
    /// Events queued for the peer before it is dropped as stuck.
    pub queue: usize,
}

/// `GET /ws`: upgrades and runs the connection.
pub async fn handler(
    upgrade: WebSocketUpgrade,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    State(state): State<AppState>,
    admitted: Option<Extension<Admitted>>,
) -> Response {
    let admitted = admitted.map(|Extension(admitted)| admitted);
    let settings = state.ws;
    upgrade
        .max_message_size(settings.max_message_bytes)
        .max_frame_size(settings.max_message_bytes)
        // tungstenite preallocates its read buffer per connection (128 KiB by default): most
        // frames are small signals, and a bigger frame just takes more reads.
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| run(socket, addr, state.hub, settings, admitted))
}

/// A `/ws` peer's bounded queue of outgoing frames. Unlike a channel it allocates nothing while
/// empty, which is how an idle peer spends its life.
struct Mailbox {
    frames: Mutex<VecDeque<String>>,
    limit: usize,
    ready: Notify,
    closed: AtomicBool,
}

impl Mailbox {
    fn new(limit: usize) -> Self {
        Self {
            frames: Mutex::new(VecDeque::new()),
            limit: limit.max(1),
            ready: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    fn push(&self, frame: String) -> Result<(), OutboxError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(OutboxError::Closed);
        }
        let mut frames = self.frames.lock().unwrap_or_else(|p| p.into_inner());
        if frames.len() >= self.limit {
            return Err(OutboxError::Full);
        }
        frames.push_back(frame);
        drop(frames);
        self.ready.notify_one();
        Ok(())
    }

    fn pop(&self) -> Option<String> {
        self.frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    /// Marks the mailbox closed (nothing more is accepted) and wakes the connection.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.ready.notify_one();
    }
}

struct WsOutbox(Arc<Mailbox>);

impl Outbox for WsOutbox {
    fn send(&self, event: &ServerEvent) -> Result<(), OutboxError> {
        self.0.push(event.to_ws_frame())
    }

    fn close(&self) {
        self.0.close();
    }
}

/// One incoming text frame.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// Decodes one text frame into a client event.
pub fn decode(text: &str) -> Result<Option<ClientEvent>, ProtocolError> {
    let frame: Frame = serde_json::from_str(text).map_err(|_| ProtocolError::BadFrame)?;
    ClientEvent::decode(&frame.event, frame.data)
}

/// Runs one connection; `_admitted` holds its admission slot until it ends.
async fn run(
    mut socket: WebSocket,
    addr: SocketAddr,
    hub: Hub,
    settings: WsSettings,
    _admitted: Option<Admitted>,
) {
    let peer = PeerId::random();
    let mailbox = Arc::new(Mailbox::new(settings.queue));
    // The mailbox is empty, so the welcome always goes out first.
    let _ = mailbox.push(ServerEvent::Welcome(peer).to_ws_frame());
    let outbox = Arc::new(WsOutbox(mailbox.clone()));
    if let Err(refusal) = hub.connect(peer, Transport::WebSocket, Some(addr), outbox) {
        let frame = CloseFrame {
            code: close_code::AGAIN,
            reason: refusal.to_string().into(),
        };
        let _ = socket.send(Message::Close(Some(frame))).await;
        return;
    }

    let mut pings = tokio::time::interval_at(
        Instant::now() + settings.ping_interval,
        settings.ping_interval,
    );
    let mut pong_deadline: Option<Instant> = None;
    // Set when the server closed with a close frame while the client may still be sending.
    let mut linger = false;
    let reason = loop {
        let deadline =
            pong_deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        tokio::select! {
            biased;
            () = mailbox.ready.notified() => {
                if mailbox.closed.load(Ordering::Acquire) {
                    let frame = CloseFrame { code: close_code::AWAY, reason: "server closed the connection".into() };
                    let _ = tokio::time::timeout(settings.ping_timeout, socket.send(Message::Close(Some(frame)))).await;
                    break "closed by server".to_owned();
                }
                if let Err(reason) = flush(&mut socket, &mailbox, settings.ping_timeout).await {
                    break reason;
                }
            }
            incoming = socket.next() => {
                pong_deadline = None;
                match incoming {
                    Some(Ok(Message::Text(text))) => hub.receive(peer, decode(text.as_str())),
                    Some(Ok(Message::Binary(_))) => hub.receive(peer, Err(ProtocolError::Binary)),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => break "client closed".to_owned(),
                    Some(Err(error)) => {
                        let error = error.to_string();
                        if error.contains("too long") || error.contains("limit exceeded") {
                            hub.metrics().refused(Reason::size);
                            let reason = format!("message over the {}-byte limit", settings.max_message_bytes);
                            let frame = CloseFrame { code: close_code::SIZE, reason: reason.into() };
                            let _ = tokio::time::timeout(settings.ping_timeout, socket.send(Message::Close(Some(frame)))).await;
                            linger = true;
                        }
                        break format!("read failed: {error}");
                    }
                }
            }
            _ = pings.tick() => {
                let ping = socket.send(Message::Ping(Default::default()));
                if !matches!(tokio::time::timeout(settings.ping_timeout, ping).await, Ok(Ok(()))) {
                    break "ping could not be sent".to_owned();
                }
                pong_deadline.get_or_insert(Instant::now() + settings.ping_timeout);
            }
            () = sleep_until(deadline), if pong_deadline.is_some() => break "ping timeout".to_owned(),
        }
    };
    mailbox.close();
    hub.disconnect(peer, &reason);
    if linger {
        // Closing a socket with unread input (the rest of an oversized message) sends a TCP
        // reset, which can make the client drop our close frame before reading it and see 1006
        // instead of 1009. Holding the socket a moment lets the frame be read first.
        tokio::time::sleep(CLOSE_LINGER).await;
    }
    drop(socket);
}

/// How long a connection closed for an oversized message is held before it is dropped.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Writes every waiting frame, each within `timeout` (a peer that stops reading is dropped).
async fn flush(socket: &mut WebSocket, mailbox: &Mailbox, timeout: Duration) -> Result<(), String> {
    while let Some(frame) = mailbox.pop() {
        match tokio::time::timeout(timeout, socket.send(Message::Text(frame.into()))).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(format!("write failed: {error}")),
            Err(_) => return Err("write timed out".to_owned()),
        }
    }
    Ok(())
}
