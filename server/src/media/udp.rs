//! The forwarder's I/O: its UDP sockets (one per address it offers as a candidate, all on the
//! media port), the core's media changes, the clock, and the pages' replies through the hub. One
//! task runs it all: the forwarder has no threads of its own, as str0m intends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use super::forwarder::{Forwarder, Io};
use crate::hub::Hub;
use crate::rooms::MediaChange;
use crate::wire::{PeerId, ServerEvent, SfuReply};

/// Largest datagram read (a full Ethernet MTU, with room to spare).
const DATAGRAM_MAX: usize = 2048;

/// What the forwarder sends and says during one step, carried out once it returns.
struct Effects<'a> {
    /// Each socket with its address, looked up once.
    sockets: &'a [(SocketAddr, Arc<UdpSocket>)],
    tells: Vec<(PeerId, SfuReply)>,
}

impl Io for Effects<'_> {
    fn transmit(&mut self, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let socket = self
            .sockets
            .iter()
            .find(|(addr, _)| *addr == from)
            .or_else(|| self.sockets.first())
            .map(|(_, socket)| socket);
        if let Some(socket) = socket {
            // UDP: a full send buffer drops the datagram, as the network would.
            let _ = socket.try_send_to(data, to);
        }
    }

    fn tell(&mut self, peer: PeerId, reply: SfuReply) {
        self.tells.push((peer, reply));
    }
}

/// Runs the forwarder until `stop` turns true.
pub(super) async fn run(
    sockets: Vec<(SocketAddr, Arc<UdpSocket>)>,
    mut forwarder: Forwarder,
    mut changes: mpsc::UnboundedReceiver<MediaChange>,
    hub: Hub,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; DATAGRAM_MAX];
    let mut next = Instant::now();
    loop {
        let mut effects = Effects {
            sockets: &sockets,
            tells: Vec::new(),
        };
        let deadline = tokio::time::Instant::from_std(next);
        tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            change = changes.recv() => {
                let Some(change) = change else { break };
                forwarder.change(change, Instant::now(), &mut effects);
            }
            (index, received) = recv_any(&sockets, &mut buf) => {
                let taken = received.is_ok_and(|(len, source)| {
                    forwarder.datagram(sockets[index].0, source, &buf[..len], Instant::now())
                });
                if !taken {
                    continue; // dropped: nothing changed, the next wake-up stands
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                forwarder.timeout(Instant::now());
            }
        }
        next = forwarder.poll(Instant::now(), &mut effects);
        for (peer, reply) in effects.tells {
            hub.deliver(peer, ServerEvent::Sfu(reply));
        }
    }
    tracing::debug!("media forwarder stopped");
}

/// The next datagram on any of the sockets: which one, and what `recv_from` said.
async fn recv_any(
    sockets: &[(SocketAddr, Arc<UdpSocket>)],
    buf: &mut [u8],
) -> (usize, std::io::Result<(usize, SocketAddr)>) {
    std::future::poll_fn(|cx| {
        for (index, (_, socket)) in sockets.iter().enumerate() {
            let mut read = ReadBuf::new(buf);
            if let Poll::Ready(result) = socket.poll_recv_from(cx, &mut read) {
                return Poll::Ready((index, result.map(|from| (read.filled().len(), from))));
            }
        }
        Poll::Pending
    })
    .await
}
