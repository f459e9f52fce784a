//! The forwarder's front door: its UDP sockets (one per address it offers as a candidate, all on
//! the media port), the pages' ICE-over-TCP connections, and the core's media changes. One task,
//! on a thread and runtime of its own (`media-io`), reads them all and hands each item to the
//! worker that carries its room ([`Placement`]); the workers do the forwarding. It also follows
//! the machine's addresses.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::task::Poll;
use std::time::{Duration, Instant};

use str0m::net::{DatagramRecv, Protocol};
use tokio::io::ReadBuf;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};

use super::placement::Placement;
use super::tcp::{self, TcpEvent};
use super::worker::{Datagram, Report, Work, WorkerHandle};
use crate::hub::{Hub, MediaInbox};
use crate::metrics::{MediaDrop, Metrics};
use crate::rooms::MediaChange;
use crate::wire::{ServerEvent, SfuReply};

/// Largest datagram read (a full Ethernet MTU, with room to spare).
const DATAGRAM_MAX: usize = 2048;

/// How often the machine's addresses are looked at (a cheap netlink call): a new Wi-Fi, a new
/// DHCP lease, or the LAN coming up after the tray app started at login.
const ADDRESS_CHECK: Duration = Duration::from_secs(2);

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

/// A page's TCP connection, as the demultiplexer keeps it.
struct TcpLink {
    writer: mpsc::Sender<Vec<u8>>,
    opened: Instant,
    /// The worker its frames go to, once one of them named a page's username.
    worker: Option<usize>,
}

/// The demultiplexer's state.
pub(super) struct Demux {
    pub sockets: Vec<(SocketAddr, Arc<UdpSocket>)>,
    pub place: Place,
    pub workers: Vec<WorkerHandle>,
    pub placement: Placement,
    pub reports: mpsc::UnboundedReceiver<Report>,
    /// To tell pages whose worker failed.
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
}

impl Demux {
    /// Runs until `stop` turns true, then stops the workers.
    pub async fn run(mut self, mut changes: MediaInbox, mut stop: watch::Receiver<bool>) {
        let mut buf = vec![0u8; DATAGRAM_MAX];
        let mut first_socket = 0;
        let mut address_check = tokio::time::interval(ADDRESS_CHECK);
        address_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let (tcp_events_tx, mut tcp_events) = mpsc::channel::<TcpEvent>(4096);
        let mut links: HashMap<SocketAddr, TcpLink> = HashMap::new();
        let open = Arc::new(AtomicUsize::new(0));
        loop {
            let mut recheck = false;
            tokio::select! {
                biased;
                _ = stop.wait_for(|stop| *stop) => break,
                // A worker's username before any datagram: the page's first check may be next.
                Some(report) = self.reports.recv() => self.report(report),
                // Memberships before requests: a page's first offer never overtakes its `Open`.
                change = changes.membership.recv() => {
                    let Some(change) = change else { break };
                    self.dispatch(change);
                }
                change = changes.requests.recv() => {
                    let Some(change) = change else { break };
                    self.dispatch(change);
                }
                (index, received) = recv_any(&self.sockets, &mut buf, &mut first_socket) => {
                    if let Ok((len, source)) = received {
                        let local = self.sockets[index].0;
                        self.hand(Protocol::Udp, local, source, &buf[..len]);
                    }
                }
                _ = address_check.tick() => {
                    // A connection that sent nothing a page's connection took is not a page's:
                    // its writer goes, which ends it.
                    links.retain(|_, link| {
                        link.worker.is_some() || link.opened.elapsed() < tcp::FIRST_FRAME
                    });
                    recheck = true;
                }
                Some(stream) = self.place.handed.recv() => {
                    // Accepted by the HTTPS listener's runtime: moved to this one's reactor.
                    let stream = stream.into_std().and_then(TcpStream::from_std);
                    match stream {
                        Ok(stream) => {
                            tokio::spawn(tcp::serve(stream, tcp_events_tx.clone(), open.clone()));
                        }
                        Err(error) => tracing::debug!(%error, "an ICE-over-TCP connection was lost on its way"),
                    }
                }
                Some(event) = tcp_events.recv() => match event {
                    TcpEvent::Opened { remote, writer, .. } => {
                        let link = TcpLink { writer, opened: Instant::now(), worker: None };
                        links.insert(remote, link);
                    }
                    TcpEvent::Frame { remote, local, data } => {
                        let Some(worker) = self.route(Protocol::Tcp, remote, &data) else {
                            continue;
                        };
                        let Some(link) = links.get_mut(&remote) else { continue };
                        if link.worker != Some(worker) {
                            if let Some(before) = link.worker {
                                self.workers[before].work(Work::TcpClosed { remote });
                            }
                            link.worker = Some(worker);
                            let writer = link.writer.clone();
                            self.workers[worker].work(Work::TcpLink { remote, writer });
                        }
                        let datagram = Datagram {
                            at: Instant::now(),
                            proto: Protocol::Tcp,
                            local,
                            source: remote,
                            data,
                        };
                        self.workers[worker].datagram(datagram, &self.metrics);
                    }
                    TcpEvent::Closed { remote } => {
                        if let Some(worker) = links.remove(&remote).and_then(|l| l.worker) {
                            self.workers[worker].work(Work::TcpClosed { remote });
                        }
                    }
                },
            }
            if recheck && self.follow_addresses() {
                first_socket = 0;
            }
        }
        for worker in self.workers {
            let _ = tokio::task::spawn_blocking(move || worker.join()).await;
        }
        tracing::debug!("media forwarder stopped");
    }

    /// A change from the core goes to the worker of its peer's room.
    fn dispatch(&mut self, change: MediaChange) {
        let worker = match &change {
            MediaChange::Open { peer, room } => {
                let (worker, left) = self.placement.open(*peer, room.clone());
                if let Some(left) = left {
                    self.workers[left].work(Work::Change(MediaChange::Close { peer: *peer }));
                }
                Some(worker)
            }
            MediaChange::Close { peer } => self.placement.close(*peer),
            // A request from a page that closed meanwhile: nobody to take it.
            MediaChange::Request { peer, .. } => self.placement.worker_of(*peer),
        };
        if matches!(change, MediaChange::Open { .. } | MediaChange::Close { .. }) {
            self.metrics.media_worker_load(self.placement.load());
        }
        if let Some(worker) = worker {
            self.workers[worker].work(Work::Change(change));
        }
    }

    fn report(&mut self, report: Report) {
        match report {
            Report::Registered(peer, ufrag) => self.placement.registered(peer, &ufrag),
            Report::Died(worker) => self.worker_died(worker),
        }
    }

    /// A worker's thread failed: its rooms move to the others, and their pages are told that
    /// their media connection was lost, so that they connect again (to the new worker).
    fn worker_died(&mut self, worker: usize) {
        let moved = self.placement.worker_died(worker);
        tracing::error!(
            worker,
            pages = moved.len(),
            "a media forwarding thread failed: its meetings move to another thread and reconnect"
        );
        for (peer, room, to) in moved {
            if let Some(to) = to {
                self.workers[to].work(Work::Change(MediaChange::Open { peer, room }));
            }
            let why = "the server's media thread for this meeting failed".to_owned();
            self.hub
                .deliver(peer, ServerEvent::Sfu(SfuReply::Failed(why)));
        }
        self.metrics.media_worker_load(self.placement.load());
    }

    /// The worker a datagram goes to; one for nobody is counted here.
    fn route(&mut self, proto: Protocol, source: SocketAddr, data: &[u8]) -> Option<usize> {
        while let Ok(report) = self.reports.try_recv() {
            self.report(report);
        }
        let worker = self.placement.route((proto, source), data);
        if worker.is_none() {
            let reason = if DatagramRecv::try_from(data).is_err() {
                MediaDrop::garbage
            } else {
                MediaDrop::unknown
            };
            self.metrics.media_dropped(reason);
        }
        worker
    }

    fn hand(&mut self, proto: Protocol, local: SocketAddr, source: SocketAddr, data: &[u8]) {
        if let Some(worker) = self.route(proto, source, data) {
            let datagram = Datagram {
                at: Instant::now(),
                proto,
                local,
                source,
                data: data.to_vec(),
            };
            self.workers[worker].datagram(datagram, &self.metrics);
        }
    }

    /// Opens the media port on addresses that appeared and closes it on those that went; true
    /// when the set changed (every worker then offers the new set to its pages, with an ICE
    /// restart).
    fn follow_addresses(&mut self) -> bool {
        let now = super::media_ips(self.place.listen);
        let had: Vec<IpAddr> = self.sockets.iter().map(|(addr, _)| addr.ip()).collect();
        if now.iter().all(|ip| had.contains(ip)) && had.iter().all(|ip| now.contains(ip)) {
            return false;
        }
        self.sockets.retain(|(addr, _)| now.contains(&addr.ip()));
        for ip in now.iter().filter(|ip| !had.contains(ip)) {
            let opened = super::bind(*ip, self.place.port)
                .map_err(|e| e.to_string())
                .and_then(|socket| UdpSocket::from_std(socket).map_err(|e| e.to_string()));
            match opened {
                Ok(socket) => {
                    if let Ok(addr) = socket.local_addr() {
                        self.sockets.push((addr, Arc::new(socket)));
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot open the media port on a new address"),
            }
        }
        let addrs: Vec<SocketAddr> = self.sockets.iter().map(|(addr, _)| *addr).collect();
        let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        tracing::info!(
            addrs = shown.join(" "),
            "media addresses changed: offering them to every page"
        );
        for worker in &self.workers {
            match senders(&self.sockets) {
                Ok(sockets) => worker.work(Work::Addresses(sockets)),
                Err(error) => tracing::warn!(%error, "cannot hand the media sockets to a worker"),
            }
        }
        self.place.addrs.send_replace(addrs);
        true
    }
}

/// Each socket again, for a worker to send from on its own thread (the same sockets: a
/// datagram from any of them leaves from the media port).
fn senders(
    sockets: &[(SocketAddr, Arc<UdpSocket>)],
) -> std::io::Result<Vec<(SocketAddr, std::net::UdpSocket)>> {
    sockets
        .iter()
        .map(|(addr, socket)| {
            let clone = socket2::SockRef::from(socket.as_ref()).try_clone()?;
            Ok((*addr, clone.into()))
        })
        .collect()
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
    use crate::config::MediaConfig;
    use crate::hub::recorded::Recorded;
    use crate::media::forwarder::Forwarder;
    use crate::media::stats::MediaStats;
    use crate::rooms::{Limits, MediaPolicy, RateLimit, RoomAccess};
    use crate::wire::{PeerId, RoomId, Transport};

    #[tokio::test]
    async fn a_worker_that_fails_takes_down_only_its_rooms_which_are_told_and_move() {
        let metrics = Arc::new(Metrics::new());
        let limits = Limits {
            max_peers_per_room: 50,
            max_signal_bytes: 64 * 1024,
            rate: RateLimit {
                per_second: 1e9,
                burst: 1e9,
            },
            media: MediaPolicy::Sfu,
            access: RoomAccess::Open,
        };
        let hub = Hub::new(limits, metrics.clone(), None);
        let (ann, bob) = (PeerId::random(), PeerId::random());
        let (ann_told, bob_told) = (Arc::new(Recorded::default()), Arc::new(Recorded::default()));
        hub.connect(ann, Transport::WebSocket, None, ann_told.clone());
        hub.connect(bob, Transport::WebSocket, None, bob_told.clone());
        let config = MediaConfig {
            port: 0,
            max_bitrate: 400_000_000,
            tcp: false,
            max_tracks_in: 8,
            max_bitrate_in: 10_000_000,
            estimate: false,
            threads: 2,
            public_address: None,
        };
        let (report, reports) = mpsc::unbounded_channel();
        let workers = (0..2)
            .map(|index| {
                let forwarder = Forwarder::new(
                    Vec::new(),
                    None,
                    &config,
                    metrics.clone(),
                    MediaStats::default(),
                )
                .for_worker(index as u8);
                super::super::worker::spawn(
                    index,
                    forwarder,
                    Vec::new(),
                    hub.clone(),
                    metrics.clone(),
                    report.clone(),
                )
                .unwrap()
            })
            .collect();
        let (addrs, _) = watch::channel(Vec::new());
        let (_, handed) = mpsc::channel(1);
        let mut demux = Demux {
            sockets: Vec::new(),
            place: Place {
                listen: "127.0.0.1".parse().unwrap(),
                port: 0,
                addrs,
                handed,
            },
            workers,
            placement: Placement::new(2),
            reports,
            hub,
            metrics: metrics.clone(),
        };
        let (north, south) = (
            RoomId::parse("north").unwrap(),
            RoomId::parse("south").unwrap(),
        );
        demux.dispatch(MediaChange::Open {
            peer: ann,
            room: north,
        });
        demux.dispatch(MediaChange::Open {
            peer: bob,
            room: south,
        });
        assert_eq!(demux.placement.worker_of(bob), Some(1));
        demux.workers[1].work(Work::Panic);
        let died = demux.reports.recv().await.unwrap();
        assert_eq!(died, Report::Died(1));
        demux.report(died);
        let why = "sfu-failed: the server's media thread for this meeting failed";
        assert_eq!(bob_told.all(), [why]);
        assert!(
            ann_told.all().is_empty(),
            "another room's page is untouched"
        );
        assert_eq!(demux.placement.worker_of(bob), Some(0), "its room moved");
        assert!(
            metrics
                .encode()
                .contains(r#"free_meetings_media_worker_participants{worker="0"} 2"#)
        );
        for worker in demux.workers {
            worker.join();
        }
    }

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
}
