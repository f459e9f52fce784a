//! Protects the plain `/ws` transport end to end: the welcome id, relays, errors that keep the
//! connection, oversized messages, dropped half-open peers and stuck readers.

mod common;

use std::time::Duration;

use common::{WsClient, server};
use free_meetings::ServerConfig;
use free_meetings::rooms::RateLimit;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn ws_peers_join_and_relay_like_socketio_peers() {
    let server = server(ServerConfig::default()).await;
    let mut ann = WsClient::connect(&server).await;
    let mut bob = WsClient::connect(&server).await;
    assert_eq!(ann.id.len(), 16);
    assert_eq!(ann.join("r", "Ann").await, json!([]));
    assert_eq!(
        bob.join("r", "Bob").await,
        json!([{"id": ann.id, "userName": "Ann"}])
    );
    assert_eq!(
        ann.next("user-joined").await,
        json!({"id": bob.id, "userName": "Bob"})
    );

    let signal = json!({"type": "offer", "sdp": "v=0\r\n"});
    ann.send("signal", json!({"to": bob.id, "signal": signal}))
        .await;
    assert_eq!(
        bob.next("signal").await,
        json!({"from": ann.id, "signal": signal, "userName": "Ann"})
    );
    bob.send("leave-room", json!(null)).await;
    assert_eq!(ann.next("user-left").await, json!(bob.id));
    server.shutdown().await;
}

#[tokio::test]
async fn bad_frames_get_an_error_and_the_connection_stays() {
    let server = server(ServerConfig::default()).await;
    let mut ann = WsClient::connect(&server).await;
    ann.stream.send(Message::text("{")).await.unwrap();
    assert!(ann.next("error").await.as_str().unwrap().contains("JSON"));
    ann.stream
        .send(Message::binary(vec![0u8; 10]))
        .await
        .unwrap();
    assert!(ann.next("error").await.as_str().unwrap().contains("binary"));
    ann.send("join-room", json!({"roomId": "r"})).await;
    assert!(
        ann.next("error")
            .await
            .as_str()
            .unwrap()
            .contains("userName")
    );
    assert_eq!(ann.join("r", "Ann").await, json!([]));
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_message_closes_only_that_connection() {
    let config = ServerConfig {
        max_message_bytes: 64 * 1024,
        ..ServerConfig::default()
    };
    let server = server(config).await;
    let mut ann = WsClient::connect(&server).await;
    let mut bob = WsClient::connect(&server).await;
    let mut big = WsClient::connect(&server).await;
    ann.join("r", "Ann").await;
    bob.join("r", "Bob").await;
    big.join("r", "Big").await;
    let huge = json!({"event": "signal", "data": {"to": ann.id, "signal": "x".repeat(100_000)}});
    big.stream
        .send(Message::text(huge.to_string()))
        .await
        .unwrap();
    assert!(big.closed_by_server().await);
    assert_eq!(ann.next("user-left").await, json!(big.id));
    ann.send("signal", json!({"to": bob.id, "signal": 1})).await;
    assert_eq!(bob.next("signal").await["signal"], json!(1));
    server.shutdown().await;
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_dropped() {
    let config = ServerConfig {
        ping_interval: Duration::from_millis(200),
        ping_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let server = server(config).await;
    let mut ann = WsClient::connect(&server).await;
    let mut silent = WsClient::connect(&server).await;
    ann.join("r", "Ann").await;
    silent.join("r", "Silent").await;
    // From here `silent` never reads, so its pings go unanswered; Ann keeps reading.
    assert_eq!(ann.next("user-left").await, json!(silent.id));
    assert_eq!(server.hub().stats().peers, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_stuck_reader_is_dropped_and_others_are_not_delayed() {
    let mut config = ServerConfig {
        peer_queue: 8,
        ping_interval: Duration::from_secs(60),
        ..ServerConfig::default()
    };
    config.limits.rate = RateLimit {
        per_second: 1e6,
        burst: 1e6,
    };
    let server = server(config).await;
    let mut sender = WsClient::connect(&server).await;
    let mut stuck = WsClient::connect(&server).await;
    let mut ann = WsClient::connect(&server).await;
    let mut bob = WsClient::connect(&server).await;
    sender.join("flood", "Sender").await;
    stuck.join("flood", "Stuck").await;
    ann.join("quiet", "Ann").await;
    bob.join("quiet", "Bob").await;

    // `stuck` never reads again. Flood it until the server gives up on it: its socket buffers
    // fill, then its bounded queue, then it is dropped and the sender is told. Bounded loop.
    let payload = "p".repeat(32 * 1024);
    let flood = json!({"event": "signal", "data": {"to": stuck.id, "signal": payload}}).to_string();
    let mut dropped = false;
    for _ in 0..20_000 {
        sender
            .stream
            .send(Message::text(flood.clone()))
            .await
            .unwrap();
        if server.hub().stats().peers == 3 {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the stuck reader was never dropped");
    assert_eq!(sender.next("user-left").await, json!(stuck.id));
    ann.send("signal", json!({"to": bob.id, "signal": "unaffected"}))
        .await;
    assert_eq!(bob.next("signal").await["signal"], json!("unaffected"));
    server.shutdown().await;
}
