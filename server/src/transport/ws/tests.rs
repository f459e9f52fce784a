//! Protects a `/ws` connection's life, driven over channels instead of a socket: the welcome
//! comes first, events reach the hub and answers come back, binary frames get an error and the
//! connection stays, an oversized message closes with 1009 and is counted, a silent peer is
//! dropped at the ping timeout, and every ending tells the hub.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{Message, close_code};
use futures_util::{Sink, Stream};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::error::CapacityError;

use super::connection::{WsSettings, is_oversized, run};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::rooms::{Limits, MediaPolicy, RateLimit, RoomAccess};

/// The server's end of a fake socket: reads what the test sends, writes what the test reads.
struct ChannelSocket {
    incoming: mpsc::UnboundedReceiver<Result<Message, axum::Error>>,
    outgoing: mpsc::UnboundedSender<Message>,
}

impl Stream for ChannelSocket {
    type Item = Result<Message, axum::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_recv(cx)
    }
}

impl Sink<Message> for ChannelSocket {
    type Error = axum::Error;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), axum::Error> {
        self.outgoing.send(message).map_err(axum::Error::new)
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        Poll::Ready(Ok(()))
    }
}

/// The test's end: a client of one connection run by a spawned task.
struct Client {
    send: mpsc::UnboundedSender<Result<Message, axum::Error>>,
    receive: mpsc::UnboundedReceiver<Message>,
    task: tokio::task::JoinHandle<()>,
    id: String,
}

const SETTINGS: WsSettings = WsSettings {
    ping_interval: Duration::from_secs(25),
    ping_timeout: Duration::from_secs(20),
    max_message_bytes: 1024,
    queue: 16,
};

fn hub() -> Hub {
    let limits = Limits {
        max_peers_per_room: 10,
        max_signal_bytes: 1024,
        rate: RateLimit {
            per_second: 100.0,
            burst: 100.0,
        },
        media: MediaPolicy::Mesh,
        access: RoomAccess::Open,
    };
    Hub::new(limits, Arc::new(Metrics::new()), None)
}

impl Client {
    async fn connect(hub: &Hub, settings: WsSettings) -> Self {
        let (send, incoming) = mpsc::unbounded_channel();
        let (outgoing, receive) = mpsc::unbounded_channel();
        let socket = ChannelSocket { incoming, outgoing };
        let addr = "127.0.0.1:4000".parse().unwrap();
        let task = tokio::spawn(run(socket, addr, hub.clone(), settings, None));
        let mut client = Self {
            send,
            receive,
            task,
            id: String::new(),
        };
        let welcome = client.next_frame().await;
        assert_eq!(welcome["event"], "connect", "the welcome comes first");
        client.id = welcome["data"]["id"].as_str().unwrap().to_owned();
        client
    }

    fn emit(&self, event: &str, data: Value) {
        let frame = json!({ "event": event, "data": data }).to_string();
        self.send.send(Ok(Message::text(frame))).unwrap();
    }

    async fn next_message(&mut self) -> Message {
        tokio::time::timeout(Duration::from_secs(5), self.receive.recv())
            .await
            .expect("a message within 5 s")
            .expect("the connection is still sending")
    }

    async fn next_frame(&mut self) -> Value {
        match self.next_message().await {
            Message::Text(text) => serde_json::from_str(text.as_str()).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    async fn ended(self) {
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the connection ends")
            .unwrap();
    }
}

#[tokio::test]
async fn events_go_through_the_hub_and_answers_come_back() {
    let hub = hub();
    let mut ann = Client::connect(&hub, SETTINGS).await;
    let mut bob = Client::connect(&hub, SETTINGS).await;
    ann.emit("join-room", json!({"roomId": "r", "userName": "Ann"}));
    assert_eq!(
        ann.next_frame().await,
        json!({"event": "init-users", "data": []})
    );
    bob.emit("join-room", json!({"roomId": "r", "userName": "Bob"}));
    assert_eq!(bob.next_frame().await["data"][0]["userName"], "Ann");
    assert_eq!(ann.next_frame().await["data"]["userName"], "Bob");
    bob.emit("signal", json!({"to": ann.id, "signal": {"sdp": "v=0"}}));
    assert_eq!(
        ann.next_frame().await,
        json!({"event": "signal", "data": {"from": bob.id, "signal": {"sdp": "v=0"}, "userName": "Bob"}})
    );
    drop(bob.send);
    assert_eq!(
        ann.next_frame().await,
        json!({"event": "user-left", "data": bob.id})
    );
    tokio::time::timeout(Duration::from_secs(5), bob.task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hub.stats().peers, 1, "the hub was told the client closed");
}

#[tokio::test]
async fn binary_and_malformed_frames_get_an_error_and_the_connection_stays() {
    let hub = hub();
    let mut client = Client::connect(&hub, SETTINGS).await;
    client
        .send
        .send(Ok(Message::Binary(vec![1, 2, 3].into())))
        .unwrap();
    assert_eq!(
        client.next_frame().await,
        json!({"event": "error", "data": "binary payloads are not supported", "code": "binary"})
    );
    client.send.send(Ok(Message::text("not json"))).unwrap();
    assert_eq!(client.next_frame().await["event"], "error");
    client.emit("join-room", json!({"roomId": "still", "userName": "Ann"}));
    assert_eq!(client.next_frame().await["event"], "init-users");
}

#[tokio::test]
async fn an_oversized_message_closes_with_1009_and_is_counted() {
    let hub = hub();
    let mut client = Client::connect(&hub, SETTINGS).await;
    let too_long = WsError::Capacity(CapacityError::MessageTooLong {
        size: 2048,
        max_size: 1024,
    });
    client.send.send(Err(axum::Error::new(too_long))).unwrap();
    match client.next_message().await {
        Message::Close(Some(frame)) => {
            assert_eq!(frame.code, close_code::SIZE);
            assert_eq!(frame.reason.as_str(), "message over the 1024-byte limit");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(
        hub.metrics()
            .encode()
            .contains("free_meetings_refused_total{reason=\"size\"} 1")
    );
    client.ended().await;
    assert_eq!(hub.stats().peers, 0);
}

#[test]
fn only_a_capacity_error_is_an_oversized_message() {
    let too_long = WsError::Capacity(CapacityError::MessageTooLong {
        size: 2,
        max_size: 1,
    });
    assert!(is_oversized(&axum::Error::new(too_long)));
    assert!(!is_oversized(&axum::Error::new(WsError::ConnectionClosed)));
    assert!(!is_oversized(&axum::Error::new(std::io::Error::other(
        "message too long"
    ))));
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_answers_pings_is_dropped_at_the_ping_timeout() {
    let hub = hub();
    let settings = WsSettings {
        ping_interval: Duration::from_secs(2),
        ping_timeout: Duration::from_secs(1),
        ..SETTINGS
    };
    let mut client = Client::connect(&hub, settings).await;
    assert!(matches!(client.next_message().await, Message::Ping(_)));
    // The client reads but never answers: after the timeout the connection ends.
    let started = tokio::time::Instant::now();
    client.ended().await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(2),
        "dropped after {waited:?}"
    );
    assert_eq!(hub.stats().peers, 0);
}

#[tokio::test]
async fn a_server_side_close_sends_going_away() {
    let hub = hub();
    let mut client = Client::connect(&hub, SETTINGS).await;
    hub.close_all();
    match client.next_message().await {
        Message::Close(Some(frame)) => assert_eq!(frame.code, close_code::AWAY),
        other => panic!("expected a close frame, got {other:?}"),
    }
    client.ended().await;
    assert_eq!(hub.stats().peers, 0);
}

#[tokio::test]
async fn a_roster_subscription_waits_for_the_next_change_even_after_earlier_ones() {
    let hub = hub();
    let _first = Client::connect(&hub, SETTINGS).await;
    let changes = hub.roster_changes();
    assert!(
        !changes.has_changed().unwrap_or(true),
        "a change before subscribing is not news"
    );
    let _second = Client::connect(&hub, SETTINGS).await;
    assert!(changes.has_changed().unwrap_or(false));
}
