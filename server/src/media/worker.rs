//! One forwarder worker: a thread of its own that owns the connections of the rooms placed on it
//! (a [`Forwarder`]) and drives them: the datagrams and core changes the demultiplexer hands it,
//! and the clock. It sends on the media sockets itself (each worker has its own handle on them),
//! so forwarded media never waits for another thread. Its thread runs a single-threaded tokio
//! runtime for the timer and the channels only: a busy signaling runtime, or another worker's
//! rooms, cannot delay it.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

use str0m::net::Protocol;
use tokio::sync::mpsc;

use super::consent::ice_credentials;
use super::forwarder::{Forwarder, Io};
use crate::hub::Hub;
use crate::metrics::{MediaDrop, Metrics};
use crate::rooms::MediaChange;
use crate::wire::{ErrorReply, PeerId, ServerEvent, SfuReply};

/// Datagrams waiting for one worker at most: past it they are dropped and counted
/// (`media_dropped_datagrams{reason="worker_busy"}`), as a full socket buffer would.
pub(super) const DATAGRAMS_QUEUED: usize = 8192;
/// Datagrams taken in at most before the connections are driven again: enough to empty a
/// burst in one pass, few enough that what they produce goes out promptly.
const DATAGRAMS_PER_STEP: usize = 64;

/// Work for a worker other than datagrams; never dropped.
pub(super) enum Work {
    /// From the core, for a peer placed on this worker.
    Change(MediaChange),
    /// Our addresses changed: the candidates from now on, and the sockets to send from.
    Addresses(Vec<(SocketAddr, UdpSocket)>),
    /// A page's ICE-over-TCP connection, whose frames now come to this worker.
    TcpLink {
        remote: SocketAddr,
        writer: mpsc::Sender<Vec<u8>>,
    },
    TcpClosed {
        remote: SocketAddr,
    },
    /// Tests: the worker fails, as a bug would make it.
    #[cfg(test)]
    Panic,
}

/// A datagram (UDP) or an RFC 4571 frame (TCP) for a connection of this worker.
pub(super) struct Datagram {
    /// When it was read off the socket: its arrival time for the connection (the page's
    /// bandwidth estimate is built on these), however long it then waited for this worker.
    pub at: Instant,
    pub proto: Protocol,
    pub local: SocketAddr,
    pub source: SocketAddr,
    pub data: Vec<u8>,
}

/// What a worker tells the demultiplexer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Report {
    /// The ICE username fragment the worker gave a page, told before the page can know it (so
    /// that the page's first check finds its way).
    Registered(PeerId, String),
    /// The worker's thread failed (a panic): its rooms are to move to another.
    Died(usize),
}

/// The demultiplexer's end of a worker.
pub(super) struct WorkerHandle {
    pub work: mpsc::UnboundedSender<Work>,
    pub datagrams: mpsc::Sender<Datagram>,
    thread: std::thread::JoinHandle<()>,
}

impl WorkerHandle {
    /// Hands a datagram over; a worker that is that far behind drops it, counted.
    pub fn datagram(&self, datagram: Datagram, metrics: &Metrics) {
        if self.datagrams.try_send(datagram).is_err() {
            metrics.media_dropped(MediaDrop::worker_busy);
        }
    }

    pub fn work(&self, work: Work) {
        // A worker outlives the demultiplexer's handles: a send fails only during shutdown.
        let _ = self.work.send(work);
    }

    /// Waits for the thread to end (its channels must be closed first).
    pub fn join(self) {
        drop(self.work);
        drop(self.datagrams);
        let _ = self.thread.join();
    }
}

/// Starts worker `index` on a thread of its own.
pub(super) fn spawn(
    index: usize,
    forwarder: Forwarder,
    sockets: Vec<(SocketAddr, UdpSocket)>,
    hub: Hub,
    metrics: Arc<Metrics>,
    reports: mpsc::UnboundedSender<Report>,
) -> io::Result<WorkerHandle> {
    let (work_tx, work) = mpsc::unbounded_channel();
    let (datagrams_tx, datagrams) = mpsc::channel(DATAGRAMS_QUEUED);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let worker = Worker {
        forwarder,
        sockets,
        links: HashMap::new(),
        hub,
        metrics,
        reports: reports.clone(),
    };
    let thread = std::thread::Builder::new()
        .name(format!("media-{index}"))
        .spawn(move || {
            // A bug in one worker takes down only its rooms: their pages are told and
            // reconnect, through another worker.
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runtime.block_on(worker.run(work, datagrams))
            }));
            if run.is_err() {
                let _ = reports.send(Report::Died(index));
            }
        })?;
    Ok(WorkerHandle {
        work: work_tx,
        datagrams: datagrams_tx,
        thread,
    })
}

struct Worker {
    forwarder: Forwarder,
    sockets: Vec<(SocketAddr, UdpSocket)>,
    /// Pages connected over TCP whose frames come here, by their address.
    links: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    hub: Hub,
    metrics: Arc<Metrics>,
    reports: mpsc::UnboundedSender<Report>,
}

impl Worker {
    async fn run(
        mut self,
        mut work: mpsc::UnboundedReceiver<Work>,
        mut datagrams: mpsc::Receiver<Datagram>,
    ) {
        let mut next = Instant::now();
        loop {
            let mut effects = Effects {
                sockets: &self.sockets,
                links: &self.links,
                metrics: &self.metrics,
                tells: Vec::new(),
                warnings: Vec::new(),
            };
            let deadline = tokio::time::Instant::from_std(next);
            tokio::select! {
                biased;
                // Work before datagrams: a page's first offer is answered before its checks.
                item = work.recv() => {
                    let Some(item) = item else { break };
                    let now = Instant::now();
                    match item {
                        Work::Change(change) => self.forwarder.change(change, now, &mut effects),
                        Work::Addresses(sockets) => {
                            let addrs = sockets.iter().map(|(addr, _)| *addr).collect();
                            drop(effects);
                            self.sockets = sockets;
                            self.forwarder.set_addresses(addrs);
                            next = now; // the restart offers go out at once
                            continue;
                        }
                        Work::TcpLink { remote, writer } => {
                            drop(effects);
                            self.links.insert(remote, writer);
                            continue;
                        }
                        Work::TcpClosed { remote } => {
                            drop(effects);
                            self.links.remove(&remote);
                            continue;
                        }
                        #[cfg(test)]
                        Work::Panic => panic!("a media worker fails (test)"),
                    }
                }
                first = datagrams.recv() => {
                    let Some(first) = first else { break };
                    let mut taken = take(&mut self.forwarder, &first);
                    for _ in 1..DATAGRAMS_PER_STEP {
                        let Ok(more) = datagrams.try_recv() else { break };
                        taken |= take(&mut self.forwarder, &more);
                    }
                    if !taken {
                        continue; // dropped: nothing changed, the next wake-up stands
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    self.forwarder.timeout(Instant::now());
                }
            }
            next = self.forwarder.poll(Instant::now(), &mut effects);
            let Effects {
                tells, warnings, ..
            } = effects;
            for (peer, reply) in tells {
                // Our ICE username reaches the demultiplexer before the page: its first check
                // then finds this worker.
                if let SfuReply::Answer(sdp) | SfuReply::Offer(sdp) = &reply
                    && let Some((ufrag, _)) = ice_credentials(sdp)
                {
                    let _ = self.reports.send(Report::Registered(peer, ufrag));
                }
                self.hub.deliver(peer, ServerEvent::Sfu(reply));
            }
            for (peer, message) in warnings {
                self.hub.deliver(peer, ServerEvent::Error(message));
            }
        }
        tracing::debug!("media worker stopped");
    }
}

fn take(forwarder: &mut Forwarder, d: &Datagram) -> bool {
    forwarder.receive(d.proto, d.local, d.source, &d.data, d.at)
}

/// What the forwarder sends and says during one step.
struct Effects<'a> {
    sockets: &'a [(SocketAddr, UdpSocket)],
    links: &'a HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    metrics: &'a Metrics,
    tells: Vec<(PeerId, SfuReply)>,
    warnings: Vec<(PeerId, ErrorReply)>,
}

impl Io for Effects<'_> {
    fn transmit(&mut self, proto: Protocol, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        if proto != Protocol::Udp {
            match self.links.get(&to).map(|w| w.try_send(data.to_vec())) {
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
            && let Err(error) = socket.send_to(data, to)
        {
            // UDP: a full send buffer drops the datagram, as the network would; counted, so
            // that loss at a receiver can be told apart from loss on the way.
            let reason = if error.kind() == io::ErrorKind::WouldBlock {
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

    fn warn(&mut self, peer: PeerId, error: ErrorReply) {
        self.warnings.push((peer, error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_the_kernel_refuses_is_counted() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let sockets = vec![(socket.local_addr().unwrap(), socket)];
        let metrics = Metrics::new();
        let links = HashMap::new();
        let mut effects = Effects {
            sockets: &sockets,
            links: &links,
            metrics: &metrics,
            tells: Vec::new(),
            warnings: Vec::new(),
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
