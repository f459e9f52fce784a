//! A minimal client of Janus's WebSocket API (`janus-protocol`), enough to drive its videoroom
//! plugin as the media scenario's comparison: one session, a handle per publisher and per
//! subscriber, requests matched to their replies by transaction, keepalives while it runs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Waiting requests, by transaction.
type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

/// One Janus session over one WebSocket.
pub struct Janus {
    out: mpsc::UnboundedSender<Message>,
    waiting: Waiting,
    session: u64,
    next: std::sync::atomic::AtomicU64,
}

impl Janus {
    /// Connects to Janus at `addr` (its WebSocket transport) and creates a session, kept alive
    /// until the returned value is dropped.
    pub async fn connect(addr: SocketAddr) -> Result<Self> {
        let mut request = format!("ws://{addr}/").into_client_request()?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "janus-protocol".parse()?);
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .with_context(|| format!("cannot reach Janus at ws://{addr}"))?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut queue) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let waiting: Waiting = Arc::default();
        let replies = waiting.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(reply) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                // "ack" only says a request was received; its outcome comes in a later event.
                if reply["janus"] == "ack" {
                    continue;
                }
                let Some(transaction) = reply["transaction"].as_str() else {
                    continue; // webrtcup, media, slowlink, hangup: not waited for
                };
                let waiter = replies.lock().ok().and_then(|mut w| w.remove(transaction));
                if let Some(waiter) = waiter {
                    let _ = waiter.send(reply);
                }
            }
        });
        let mut janus = Self {
            out,
            waiting,
            session: 0,
            next: 0.into(),
        };
        let created = janus.call(json!({"janus": "create"})).await?;
        janus.session = created["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("Janus created no session: {created}"))?;
        let keepalive = janus.out.clone();
        let session = janus.session;
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(20));
            loop {
                every.tick().await;
                let ping = json!({"janus": "keepalive", "session_id": session, "transaction": "k"});
                if keepalive.send(Message::text(ping.to_string())).is_err() {
                    break;
                }
            }
        });
        Ok(janus)
    }

    /// Sends a request and waits for its outcome (`success`, `event` or `error`).
    async fn call(&self, mut request: Value) -> Result<Value> {
        let transaction = format!(
            "t{}",
            self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        request["transaction"] = json!(transaction);
        if self.session != 0 {
            request["session_id"] = json!(self.session);
        }
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .map_err(|_| anyhow!("janus client poisoned"))?
            .insert(transaction, tx);
        self.out
            .send(Message::text(request.to_string()))
            .map_err(|_| anyhow!("Janus closed the connection"))?;
        let reply = tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .map_err(|_| anyhow!("Janus did not answer {request}"))??;
        if reply["janus"] == "error" {
            bail!("Janus refused {request}: {}", reply["error"]);
        }
        if let Some(error) = reply["plugindata"]["data"]["error"].as_str() {
            bail!("the videoroom refused {}: {error}", request["body"]);
        }
        Ok(reply)
    }

    /// Attaches a videoroom handle.
    pub async fn attach(&self) -> Result<u64> {
        let reply = self
            .call(json!({"janus": "attach", "plugin": "janus.plugin.videoroom"}))
            .await?;
        reply["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("no handle in {reply}"))
    }

    /// A videoroom request on `handle`, with an SDP when given; returns the plugin's data and
    /// the SDP Janus sent back, if any.
    pub async fn message(
        &self,
        handle: u64,
        body: Value,
        jsep: Option<(&str, String)>,
    ) -> Result<(Value, Option<String>)> {
        let mut request = json!({"janus": "message", "handle_id": handle, "body": body});
        if let Some((kind, sdp)) = jsep {
            request["jsep"] = json!({"type": kind, "sdp": sdp});
        }
        let mut reply = self.call(request).await?;
        let sdp = reply["jsep"]["sdp"].as_str().map(str::to_owned);
        Ok((reply["plugindata"]["data"].take(), sdp))
    }

    /// Tells Janus a handle has no more candidates than those in its SDP.
    pub fn candidates_done(&self, handle: u64) {
        let done = json!({
            "janus": "trickle",
            "session_id": self.session,
            "handle_id": handle,
            "transaction": "c",
            "candidate": {"completed": true},
        });
        let _ = self.out.send(Message::text(done.to_string()));
    }
}
