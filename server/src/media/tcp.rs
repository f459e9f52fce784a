//! ICE over TCP (RFC 6544, passive candidates; RFC 4571 framing: each packet preceded by its
//! 16-bit length), for networks that let only TCP through to the server. The HTTPS listener
//! hands over every connection whose first byte is not a TLS handshake's (`http::serve`), so
//! media shares the HTTPS port the firewall already opens. Each connection gets a reader that
//! turns frames into events for the forwarder's task, and a writer fed by a bounded queue:
//! a page that stops reading loses frames, as UDP would, and nobody waits for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Largest frame taken: a datagram's worth (DTLS, RTP and STUN stay under an MTU).
const FRAME_MAX: usize = 4096;
/// Frames queued for one connection's writer before new ones are dropped.
const WRITE_QUEUE: usize = 1024;
/// Media TCP connections open at once; past it new ones are closed at once.
pub const CONNECTIONS_MAX: usize = 512;
/// How long a connection may stay without a frame the forwarder took (its first STUN check
/// comes at once from a browser: anything else is not a page).
pub const FIRST_FRAME: Duration = Duration::from_secs(5);

/// What a connection tells the forwarder's task.
#[derive(Debug)]
pub enum TcpEvent {
    Opened {
        remote: SocketAddr,
        local: SocketAddr,
        writer: mpsc::Sender<Vec<u8>>,
    },
    Frame {
        remote: SocketAddr,
        local: SocketAddr,
        data: Vec<u8>,
    },
    Closed {
        remote: SocketAddr,
    },
}

/// Serves one handed-over connection until it ends; `open` counts the connections alive.
pub async fn serve(stream: TcpStream, events: mpsc::Sender<TcpEvent>, open: Arc<AtomicUsize>) {
    if open.fetch_add(1, Ordering::SeqCst) >= CONNECTIONS_MAX {
        open.fetch_sub(1, Ordering::SeqCst);
        tracing::debug!("media TCP connection refused: too many open");
        return;
    }
    let (Ok(remote), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
        open.fetch_sub(1, Ordering::SeqCst);
        return;
    };
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (frames_tx, mut frames) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let opened = TcpEvent::Opened {
        remote,
        local,
        writer: frames_tx,
    };
    if events.send(opened).await.is_err() {
        open.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let write = async move {
        while let Some(frame) = frames.recv().await {
            let Ok(length) = u16::try_from(frame.len()) else {
                continue;
            };
            let mut framed = Vec::with_capacity(frame.len() + 2);
            framed.extend_from_slice(&length.to_be_bytes());
            framed.extend_from_slice(&frame);
            if writer.write_all(&framed).await.is_err() {
                break;
            }
        }
    };
    let read = async {
        let mut buf = vec![0u8; FRAME_MAX];
        loop {
            let mut length = [0u8; 2];
            if reader.read_exact(&mut length).await.is_err() {
                break;
            }
            let length = usize::from(u16::from_be_bytes(length));
            if length > FRAME_MAX {
                tracing::debug!(%remote, length, "media TCP frame too large: connection closed");
                break;
            }
            if reader.read_exact(&mut buf[..length]).await.is_err() {
                break;
            }
            let frame = TcpEvent::Frame {
                remote,
                local,
                data: buf[..length].to_vec(),
            };
            if events.send(frame).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        () = read => {}
        () = write => {}
    }
    let _ = events.send(TcpEvent::Closed { remote }).await;
    open.fetch_sub(1, Ordering::SeqCst);
}
