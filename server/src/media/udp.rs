//! The forwarder's I/O: its UDP sockets (one per address it offers as a candidate, all on the
//! media port), the core's media changes, the clock, and the pages' replies through the hub. One
//! task runs it all: the forwarder has no threads of its own, as str0m intends.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::task::Poll;
use std::time::{Duration, Instant};

use str0m::net::Protocol;
use tokio::io::ReadBuf;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};

use super::forwarder::{Forwarder, Io};
use super::tcp::{self, TcpEvent};
use crate::hub::{Hub, MediaInbox};
use crate::metrics::{MediaDrop, Metrics};
use crate::wire::{PeerId, ServerEvent, SfuReply};

/// Largest datagram read (a full Ethernet MTU, with room to spare).
const DATAGRAM_MAX: usize = 2048;

/// What the forwarder sends and says during one step, carried out once it returns.
struct Effects<'a> {
    /// Each socket with its address, looked up once.
    sockets: &'a [(SocketAddr, Arc<UdpSocket>)],
    /// Pages connected over TCP, by their address.
    tcp: &'a HashMap<SocketAddr, TcpLink>,
    tells: Vec<(PeerId, SfuReply)>,
    warnings: Vec<(PeerId, String)>,
    metrics: &'a Metrics,
}

/// A page's TCP connection, as the forwarder's task keeps it.
struct TcpLink {
    writer: mpsc::Sender<Vec<u8>>,
    opened: Instant,
    /// A frame of it was taken by a participant's connection: it is a page's.
    proven: bool,
}

impl Io for Effects<'_> {
    fn transmit(&mut self, proto: Protocol, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        if proto != Protocol::Udp {
            let sent = self
                .tcp
                .get(&to)
                .map(|link| link.writer.try_send(data.to_vec()));
            match sent {
                Some(Ok(())) => {}
                Some(Err(mpsc::error::TrySendError::Full(_))) => {
                    self.metrics.media_dropped(MediaDrop::send_buffer_full)
                }
                _ => self.metrics.media_dropped(MediaDrop::send_failed),
            }
            return;
        }
        let socket = self
            .sockets
            .iter()
            .find(|(addr, _)| *addr == from)
            .or_else(|| self.sockets.first())
            .map(|(_, socket)| socket);
        if let Some(socket) = socket
            && let Err(error) = socket.try_send_to(data, to)
        {
            // UDP: a full send buffer drops the datagram, as the network would; counted, so
            // that loss at a receiver can be told apart from loss on the way.
            let reason = if error.kind() == std::io::ErrorKind::WouldBlock {
                MediaDrop::send_buffer_full
            } else {
                MediaDrop::send_failed
            };
            self.metrics.media_dropped(reason);
        }
    }

    fn tell(&mut self, peer: PeerId, reply: SfuReply) {
        self.tells.push((peer, reply));
    }

    fn warn(&mut self, peer: PeerId, message: String) {
        self.warnings.push((peer, message));
    }
}

/// Where the forwarder listens, to follow the machine's addresses.
pub(super) struct Place {
    /// The address the server listens on (`0.0.0.0`: every LAN address).
    pub listen: IpAddr,
    /// The media port, the same on every address.
    pub port: u16,
    /// The addresses offered now, for observers.
    pub addrs: watch::Sender<Vec<SocketAddr>>,
    /// TCP connections the HTTPS listener hands over (ICE over TCP).
    pub handed: mpsc::Receiver<TcpStream>,
}

/// How often the machine's addresses are looked at (a cheap netlink call): a new Wi-Fi, a new
/// DHCP lease, or the LAN coming up after the tray app started at login.
const ADDRESS_CHECK: Duration = Duration::from_secs(2);

/// Runs the forwarder until `stop` turns true.
pub(super) async fn run(
    mut sockets: Vec<(SocketAddr, Arc<UdpSocket>)>,
    mut place: Place,
    mut forwarder: Forwarder,
    mut changes: MediaInbox,
    hub: Hub,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; DATAGRAM_MAX];
    let mut next = Instant::now();
    let mut first_socket = 0;
    let mut address_check = tokio::time::interval(ADDRESS_CHECK);
    address_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (tcp_events_tx, mut tcp_events) = mpsc::channel::<TcpEvent>(4096);
    let mut links: HashMap<SocketAddr, TcpLink> = HashMap::new();
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let mut recheck = false;
        let mut tcp_event = None;
        let mut effects = Effects {
            tcp: &links,
            sockets: &sockets,
            tells: Vec::new(),
            warnings: Vec::new(),
            metrics: &metrics,
        };
        let deadline = tokio::time::Instant::from_std(next);
        tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            // Memberships before requests: a page's first offer never overtakes its `Open`.
            change = changes.membership.recv() => {
                let Some(change) = change else { break };
                forwarder.change(change, Instant::now(), &mut effects);
            }
            change = changes.requests.recv() => {
                let Some(change) = change else { break };
                forwarder.change(change, Instant::now(), &mut effects);
            }
            (index, received) = recv_any(&sockets, &mut buf, &mut first_socket) => {
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
            _ = address_check.tick() => recheck = true,
            Some(stream) = place.handed.recv() => {
                tokio::spawn(tcp::serve(stream, tcp_events_tx.clone(), open.clone()));
                continue;
            }
            Some(event) = tcp_events.recv() => {
                if let TcpEvent::Frame { remote, local, data } = &event {
                    let taken = forwarder.receive(Protocol::Tcp, *local, *remote, data, Instant::now());
                    if !taken {
                        continue;
                    }
                }
                tcp_event = Some(event);
            }
        }
        next = forwarder.poll(Instant::now(), &mut effects);
        for (peer, reply) in effects.tells {
            hub.deliver(peer, ServerEvent::Sfu(reply));
        }
        for (peer, message) in effects.warnings {
            hub.deliver(peer, ServerEvent::Error(message));
        }
        match tcp_event {
            Some(TcpEvent::Opened { remote, writer, .. }) => {
                let link = TcpLink {
                    writer,
                    opened: Instant::now(),
                    proven: false,
                };
                links.insert(remote, link);
            }
            Some(TcpEvent::Frame { remote, .. }) => {
                if let Some(link) = links.get_mut(&remote) {
                    link.proven = true;
                }
            }
            Some(TcpEvent::Closed { remote }) => {
                links.remove(&remote);
            }
            None => {}
        }
        if recheck {
            // A connection that sent nothing a page's connection took is not a page's: its
            // writer goes, which ends it.
            links.retain(|_, link| link.proven || link.opened.elapsed() < tcp::FIRST_FRAME);
        }
        if recheck && follow_addresses(&mut sockets, &place, &mut forwarder).await {
            first_socket = 0;
            next = Instant::now(); // the restart offers go out at once
        }
    }
    tracing::debug!("media forwarder stopped");
}

/// Opens the media port on addresses that appeared and closes it on those that went; true when
/// the set changed (the forwarder then offers the new set to every page, with an ICE restart).
async fn follow_addresses(
    sockets: &mut Vec<(SocketAddr, Arc<UdpSocket>)>,
    place: &Place,
    forwarder: &mut Forwarder,
) -> bool {
    let now: Vec<IpAddr> = super::media_ips(place.listen);
    let had: Vec<IpAddr> = sockets.iter().map(|(addr, _)| addr.ip()).collect();
    if now.iter().all(|ip| had.contains(ip)) && had.iter().all(|ip| now.contains(ip)) {
        return false;
    }
    sockets.retain(|(addr, _)| now.contains(&addr.ip()));
    for ip in now.iter().filter(|ip| !had.contains(ip)) {
        match super::bind(*ip, place.port).await {
            Ok(socket) => {
                if let Ok(addr) = socket.local_addr() {
                    sockets.push((addr, Arc::new(socket)));
                }
            }
            Err(error) => tracing::warn!(%error, "cannot open the media port on a new address"),
        }
    }
    let addrs: Vec<SocketAddr> = sockets.iter().map(|(addr, _)| *addr).collect();
    let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    tracing::info!(
        addrs = shown.join(" "),
        "media addresses changed: offering them to every page"
    );
    forwarder.set_addresses(addrs.clone());
    place.addrs.send_replace(addrs);
    true
}

/// The next datagram on any of the sockets: which one, and what `recv_from` said. The sockets
/// are polled in turn from `first`, which moves past the one that answered: a flood on one
/// address cannot keep the others' datagrams waiting.
async fn recv_any(
    sockets: &[(SocketAddr, Arc<UdpSocket>)],
    buf: &mut [u8],
    first: &mut usize,
) -> (usize, std::io::Result<(usize, SocketAddr)>) {
    std::future::poll_fn(|cx| {
        let count = sockets.len();
        for offset in 0..count {
            let index = (*first + offset) % count;
            let mut read = ReadBuf::new(buf);
            if let Poll::Ready(result) = sockets[index].1.poll_recv_from(cx, &mut read) {
                *first = (index + 1) % count;
                return Poll::Ready((index, result.map(|from| (read.filled().len(), from))));
            }
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn socket() -> (SocketAddr, Arc<UdpSocket>) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        (socket.local_addr().unwrap(), Arc::new(socket))
    }

    #[tokio::test]
    async fn a_flood_on_one_socket_does_not_keep_another_waiting() {
        let sockets = vec![socket().await, socket().await];
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for _ in 0..100 {
            sender.send_to(b"flood", sockets[0].0).await.unwrap();
        }
        sender.send_to(b"other", sockets[1].0).await.unwrap();
        // Both sockets have something queued (loopback delivers at once); poll until the
        // quiet one answers.
        let mut buf = vec![0u8; DATAGRAM_MAX];
        let mut first = 0;
        let mut reads = 0;
        loop {
            let (index, received) = recv_any(&sockets, &mut buf, &mut first).await;
            received.unwrap();
            reads += 1;
            if index == 1 {
                break;
            }
            assert!(
                reads < 100,
                "the quiet socket waited behind the whole flood"
            );
        }
        assert!(
            reads <= 2,
            "the quiet socket's datagram came after {reads} reads"
        );
    }

    #[tokio::test]
    async fn a_datagram_the_kernel_refuses_is_counted() {
        let sockets = vec![socket().await];
        // tokio tries a send only once the reactor has seen the socket writable.
        sockets[0].1.writable().await.unwrap();
        let metrics = Metrics::new();
        let links = HashMap::new();
        let mut effects = Effects {
            tcp: &links,
            sockets: &sockets,
            tells: Vec::new(),
            warnings: Vec::new(),
            metrics: &metrics,
        };
        // An IPv4 socket cannot send to an IPv6 address.
        effects.transmit(
            Protocol::Udp,
            sockets[0].0,
            "[::1]:9".parse().unwrap(),
            b"x",
        );
        let text = metrics.encode();
        assert!(
            text.contains(r#"free_meetings_media_dropped_datagrams_total{reason="send_failed"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"reason="send_buffer_full"} 0"#), "{text}");
    }
}
