//! Minimal signaling clients: Socket.IO v4 over the websocket transport (Engine.IO framing done
//! by hand, as the protocol is tiny) and the plain `/ws` JSON protocol, behind one API.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result, anyhow, bail};
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{WebSocketStream, client_async};

/// Which protocol a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Socket.IO v4, websocket transport.
    Sio,
    /// Plain `/ws` JSON frames.
    Ws,
}

/// The sending half: frames go to a writer task that owns the socket.
#[derive(Clone)]
pub struct Sender {
    out: UnboundedSender<Message>,
    transport: Transport,
}

/// The receiving half.
pub struct Receiver {
    stream: SplitStream<WebSocketStream<TcpStream>>,
    transport: Transport,
    out: UnboundedSender<Message>,
}

/// Connects from `source` (a 127.0.0.x address, so many clients do not exhaust one address's
/// ephemeral ports); returns both halves and the peer id the server gave.
pub async fn connect(
    server: SocketAddr,
    source: IpAddr,
    transport: Transport,
) -> Result<(Sender, Receiver, String)> {
    let socket = if server.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(source, 0))?;
    let tcp = socket.connect(server).await.context("tcp connect")?;
    tcp.set_nodelay(true)?;
    let url = match transport {
        Transport::Sio => format!("ws://{server}/socket.io/?EIO=4&transport=websocket"),
        Transport::Ws => format!("ws://{server}/ws"),
    };
    let (ws, _) = client_async(url, tcp)
        .await
        .context("websocket handshake")?;
    let (mut sink, mut stream) = ws.split();
    let id = match transport {
        Transport::Sio => {
            let open = next_text(&mut stream).await?;
            if !open.starts_with('0') {
                bail!("expected an Engine.IO open packet, got {open}");
            }
            sink.send(Message::text("40")).await?;
            let mut connect = next_text(&mut stream).await?;
            while connect == "2" {
                sink.send(Message::text("3")).await?;
                connect = next_text(&mut stream).await?;
            }
            let body = connect
                .strip_prefix("40")
                .ok_or_else(|| anyhow!("expected a Socket.IO CONNECT, got {connect}"))?;
            let v: Value = serde_json::from_str(body)?;
            v["sid"]
                .as_str()
                .ok_or_else(|| anyhow!("CONNECT without sid"))?
                .to_owned()
        }
        Transport::Ws => {
            let welcome: Value = serde_json::from_str(&next_text(&mut stream).await?)?;
            welcome["data"]["id"]
                .as_str()
                .ok_or_else(|| anyhow!("welcome without id"))?
                .to_owned()
        }
    };
    let (out, mut queue) = unbounded_channel::<Message>();
    // Frames that wait together go out in one write: a generator that made a system call per
    // frame spent more CPU than the server it measures (docs/benchmarks.md).
    tokio::spawn(async move {
        'writing: while let Some(message) = queue.recv().await {
            if sink.feed(message).await.is_err() {
                break;
            }
            while let Ok(more) = queue.try_recv() {
                if sink.feed(more).await.is_err() {
                    break 'writing;
                }
            }
            if sink.flush().await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let sender = Sender {
        out: out.clone(),
        transport,
    };
    Ok((
        sender,
        Receiver {
            stream,
            transport,
            out,
        },
        id,
    ))
}

async fn next_text(stream: &mut SplitStream<WebSocketStream<TcpStream>>) -> Result<String> {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection closed"),
        }
    }
}

impl Sender {
    /// Emits one event.
    pub fn emit(&self, event: &str, data: &Value) -> Result<()> {
        let frame = match self.transport {
            Transport::Sio => format!("42{}", json!([event, data])),
            Transport::Ws => json!({"event": event, "data": data}).to_string(),
        };
        self.out
            .send(Message::text(frame))
            .map_err(|_| anyhow!("connection closed"))
    }

    /// Closes the connection.
    pub fn close(&self) {
        let _ = self.out.send(Message::Close(None));
    }
}

impl Receiver {
    /// The next event `(name, data)`, answering Engine.IO pings on the way; `None` when closed.
    pub async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            let text = match self.stream.next().await? {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            };
            match self.transport {
                Transport::Sio => {
                    if text.as_str() == "2" {
                        let _ = self.out.send(Message::text("3"));
                        continue;
                    }
                    let Some(body) = text.strip_prefix("42") else {
                        continue;
                    };
                    let Ok(Value::Array(mut parts)) = serde_json::from_str::<Value>(body) else {
                        continue;
                    };
                    if parts.is_empty() {
                        continue;
                    }
                    let data = if parts.len() > 1 {
                        parts.swap_remove(1)
                    } else {
                        Value::Null
                    };
                    let name = parts[0].as_str().unwrap_or_default().to_owned();
                    return Some((name, data));
                }
                Transport::Ws => {
                    let Ok(mut frame) = serde_json::from_str::<Value>(&text) else {
                        continue;
                    };
                    let name = frame["event"].as_str().unwrap_or_default().to_owned();
                    return Some((name, frame["data"].take()));
                }
            }
        }
    }

    /// Waits for an event by name, skipping others.
    pub async fn expect(&mut self, event: &str) -> Result<Value> {
        while let Some((name, data)) = self.next().await {
            if name == event {
                return Ok(data);
            }
            if name == "error" {
                bail!("server error: {data}");
            }
        }
        bail!("connection closed while waiting for {event}")
    }
}
