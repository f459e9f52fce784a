//! Shared fixture: an in-process server on a free loopback port and a small `/ws` client.
#![allow(dead_code)]

use std::time::Duration;

use free_meetings::{RunningServer, ServerConfig};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// Any single awaited event longer than this fails the test.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Starts a server on 127.0.0.1 with a free port.
pub async fn server(config: ServerConfig) -> RunningServer {
    let mut config = ServerConfig {
        bind: "127.0.0.1".into(),
        port: 0,
        mdns: false,
        // Tests run side by side: none shares the user's private meetings.
        meetings_file: None,
        ..config
    };
    // Tests run side by side: the media port is picked too.
    if let Some(media) = &mut config.media {
        media.port = 0;
    }
    free_meetings::start(config).await.expect("server starts")
}

/// A `/ws` client that knows its peer id.
pub struct WsClient {
    pub id: String,
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Connects and reads the welcome frame.
    pub async fn connect(server: &RunningServer) -> Self {
        let url = format!("ws://{}/ws", server.local_addr());
        let (stream, _) = connect_async(url).await.expect("websocket handshake");
        let mut client = Self {
            id: String::new(),
            stream,
        };
        let welcome = client.next("connect").await;
        client.id = welcome["id"].as_str().expect("id").to_owned();
        client
    }

    /// Sends `{"event", "data"}`.
    pub async fn send(&mut self, event: &str, data: Value) {
        let frame = json!({ "event": event, "data": data }).to_string();
        self.stream.send(Message::text(frame)).await.expect("send");
    }

    /// Joins a room and returns `init-users`.
    pub async fn join(&mut self, room: &str, name: &str) -> Value {
        self.send("join-room", json!({"roomId": room, "userName": name}))
            .await;
        self.next("init-users").await
    }

    /// The data of the next frame named `event`, skipping others.
    pub async fn next(&mut self, event: &str) -> Value {
        tokio::time::timeout(TIMEOUT, async {
            loop {
                match self.stream.next().await {
                    Some(Ok(Message::Text(text))) => {
                        let frame: Value = serde_json::from_str(&text).expect("JSON frame");
                        if frame["event"] == event {
                            return frame["data"].clone();
                        }
                    }
                    Some(Ok(_)) => {}
                    other => panic!("connection ended while waiting for {event}: {other:?}"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {event}"))
    }

    /// Reads until the server closes the connection; returns whether it did within the timeout.
    pub async fn closed_by_server(&mut self) -> bool {
        tokio::time::timeout(TIMEOUT, async {
            loop {
                match self.stream.next().await {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await
        .is_ok()
    }
}
