//! One `/ws` connection's life: welcome, then events in and out until either side ends it.
//! Generic over the socket (any `Sink` + `Stream` of axum messages), so tests drive it over
//! channels, as axum's testing-websockets example does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, close_code};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::time::{Instant, sleep_until, timeout};

use super::mailbox::Mailbox;
use crate::hub::{Hub, Outbox, OutboxError};
use crate::metrics::RefusalKind;
use crate::transport::handshake::Admitted;
use crate::wire::{PeerId, ProtocolError, ServerEvent, Transport, ws_frame};

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

/// How long a connection closed for an oversized message is held before it is dropped.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// The hub's way into a `/ws` peer's mailbox.
struct WsOutbox(Arc<Mailbox>);

impl Outbox for WsOutbox {
    fn send(&self, event: &ServerEvent) -> Result<(), OutboxError> {
        self.0.push(ws_frame::encode(event))
    }

    fn close(&self) {
        self.0.close();
    }
}

/// Why the read loop stopped, for the disconnect log line.
enum Ended {
    /// Stopped by us or the peer; the text says how.
    Because(&'static str),
    /// The socket failed.
    Failed(String),
}

/// Runs one connection until it ends; `_admitted` holds its admission slot until then.
pub async fn run<S>(
    mut socket: S,
    addr: SocketAddr,
    hub: Hub,
    settings: WsSettings,
    _admitted: Option<Admitted>,
) where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin,
{
    let peer = PeerId::random();
    let mailbox = Arc::new(Mailbox::new(settings.queue));
    // The mailbox is empty, so the welcome always goes out first.
    let _ = mailbox.push(ws_frame::encode(&ServerEvent::Welcome(peer)));
    hub.connect(
        peer,
        Transport::WebSocket,
        Some(addr),
        Arc::new(WsOutbox(mailbox.clone())),
    );

    let mut pings = tokio::time::interval_at(
        Instant::now() + settings.ping_interval,
        settings.ping_interval,
    );
    let mut pong_deadline: Option<Instant> = None;
    // Set when the server closed with a close frame while the client may still be sending.
    let mut linger = false;
    let ended = loop {
        let deadline =
            pong_deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        tokio::select! {
            biased;
            () = mailbox.wait() => {
                if mailbox.is_closed() {
                    close(&mut socket, close_code::AWAY, "server closed the connection".into(), settings.ping_timeout).await;
                    break Ended::Because("closed by server");
                }
                if let Err(error) = flush(&mut socket, &mailbox, settings.ping_timeout).await {
                    break Ended::Failed(error);
                }
            }
            incoming = socket.next() => {
                pong_deadline = None;
                match incoming {
                    Some(Ok(Message::Text(text))) => hub.receive(peer, ws_frame::decode(text.as_str())),
                    Some(Ok(Message::Binary(_))) => hub.receive(peer, Err(ProtocolError::Binary)),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => break Ended::Because("client closed"),
                    Some(Err(error)) => {
                        if is_oversized(&error) {
                            hub.metrics().refused(RefusalKind::size);
                            let reason = format!("message over the {}-byte limit", settings.max_message_bytes);
                            close(&mut socket, close_code::SIZE, reason, settings.ping_timeout).await;
                            linger = true;
                        }
                        break Ended::Failed(format!("read failed: {error}"));
                    }
                }
            }
            _ = pings.tick() => {
                let ping = socket.send(Message::Ping(Default::default()));
                if !matches!(timeout(settings.ping_timeout, ping).await, Ok(Ok(()))) {
                    break Ended::Because("ping could not be sent");
                }
                pong_deadline.get_or_insert(Instant::now() + settings.ping_timeout);
            }
            () = sleep_until(deadline), if pong_deadline.is_some() => break Ended::Because("ping timeout"),
        }
    };
    mailbox.close();
    let reason = match &ended {
        Ended::Because(reason) => reason,
        Ended::Failed(error) => error.as_str(),
    };
    hub.disconnect(peer, reason);
    if linger {
        // Closing a socket with unread input (the rest of an oversized message) sends a TCP
        // reset, which can make the client drop our close frame before reading it and see 1006
        // instead of 1009. Holding the socket a moment lets the frame be read first.
        tokio::time::sleep(CLOSE_LINGER).await;
    }
    drop(socket);
}

/// Whether a read failed because the peer's message was over `max_message_size`. axum wraps
/// tungstenite's error without naming its type, and that type is of a tungstenite version of
/// axum's choosing: depending on it only to downcast pinned a second tungstenite in our own
/// manifest. Its text is stable (`Space limit exceeded: Message too long: N > M`), and the unit
/// tests make it from the very version axum uses, so a change of wording fails them.
pub(super) fn is_oversized(error: &axum::Error) -> bool {
    std::error::Error::source(error).is_some_and(|inner| {
        inner
            .to_string()
            .starts_with("Space limit exceeded: Message too long")
    })
}

/// Sends a close frame, giving up after `limit` (the peer may not be reading).
async fn close<S>(socket: &mut S, code: u16, reason: String, limit: Duration)
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = timeout(limit, socket.send(Message::Close(Some(frame)))).await;
}

/// Writes every waiting frame, each within `limit` (a peer that stops reading is dropped).
async fn flush<S>(socket: &mut S, mailbox: &Mailbox, limit: Duration) -> Result<(), String>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
{
    while let Some(frame) = mailbox.pop() {
        match timeout(limit, socket.send(Message::Text(frame.into()))).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(format!("write failed: {error}")),
            Err(_) => return Err("write timed out".to_owned()),
        }
    }
    Ok(())
}
