//! The media forwarder (an SFU): for rooms whose media goes through the server, each page sends
//! its camera, microphone and screen once, to the server, and the server forwards them to the
//! other members of the room, choosing for each receiver the simulcast layer that fits the tile
//! it shows and the bandwidth it has. It is built on str0m (sans-IO WebRTC): one UDP port for
//! every participant, ICE-lite on our side, DTLS-SRTP, no decoding and nothing stored. The core
//! decides which rooms use it and who is in them (`rooms::MediaChange`); the pages negotiate with
//! it over their existing signaling connection (`sfu-offer`, `sfu-answer`, `sfu-want`).
//!
//! Rooms are spread over worker threads (`--media-threads`, one per core by default), each
//! carrying its rooms' connections whole: [`demux`] reads the sockets and hands every datagram
//! and change to the worker of its room, as [`placement`] decides; a [`worker`] drives one
//! [`forwarder`], which holds its participants and the routing between them, without I/O;
//! [`participant`] is one page's connection; [`layers`] the layer choice, [`timeline`] the RTP time
//! kept continuous across layer switches; [`consent`] and
//! [`stun`] what keeps media from going where it was not asked for; [`stats`] what observers
//! read.

mod consent;
mod demux;
mod forwarder;
pub mod layers;
mod participant;
mod placement;
pub mod stats;
mod stun;
pub mod tcp;
mod timeline;
mod worker;

#[cfg(test)]
mod tests;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::watch;

pub use stats::{MediaStats, ParticipantStats};

use crate::config::MediaConfig;
use crate::discovery::lan_addrs;
use crate::hub::Hub;
use crate::metrics::Metrics;

/// Why the forwarder could not start.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error(
        "media port {port} (UDP) is already in use on {addr}; stop the other program or choose another port with --media-port (or --media mesh)"
    )]
    PortInUse { addr: IpAddr, port: u16 },
    #[error("cannot open the media port on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("no address to offer for media: the server listens on {0}")]
    NoAddress(IpAddr),
    #[error("cannot start a media forwarding thread: {0}")]
    Thread(io::Error),
}

/// ICE over TCP on the HTTPS port: the port pages are told, and the connections the HTTPS
/// listener hands over (those that do not start with a TLS handshake).
pub struct MediaTcp {
    pub port: u16,
    pub handed: tokio::sync::mpsc::Receiver<tokio::net::TcpStream>,
}

/// A running forwarder.
pub struct MediaServer {
    /// The addresses pages are offered, as the forwarder's task keeps them (they follow the
    /// machine's network).
    addrs: watch::Receiver<Vec<SocketAddr>>,
    stats: MediaStats,
    stop: watch::Sender<bool>,
    /// The thread reading the sockets (the workers end with it).
    io: std::thread::JoinHandle<()>,
}

impl MediaServer {
    /// Opens the media port on every address a page may reach us at (those the HTTP server
    /// listens on, and loopback for pages on this machine), and starts forwarding the work the
    /// core sends down `changes`.
    pub async fn start(
        config: &MediaConfig,
        listen: IpAddr,
        hub: Hub,
        changes: crate::hub::MediaInbox,
        metrics: Arc<Metrics>,
        tcp: Option<MediaTcp>,
    ) -> Result<Self, MediaError> {
        // str0m's DTLS and SRTP use the process-wide crypto provider; installing it twice is a
        // no-op, so several servers in one process (the tests) share it.
        str0m::crypto::from_feature_flags().install_process_default();
        let ips = media_ips(listen);
        if ips.is_empty() {
            return Err(MediaError::NoAddress(listen));
        }
        let mut port = config.port;
        let mut sockets = Vec::new();
        for ip in ips {
            let socket = bind(ip, port)?;
            if port == 0 {
                port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
            }
            if let Ok(addr) = socket.local_addr() {
                sockets.push((addr, socket));
            }
        }
        let addrs: Vec<SocketAddr> = sockets.iter().map(|(addr, _)| *addr).collect();
        let stats = MediaStats::default();
        let threads = config.threads.clamp(1, usize::from(u8::MAX));
        let (report, reports) = tokio::sync::mpsc::unbounded_channel();
        let mut workers = Vec::with_capacity(threads);
        for index in 0..threads {
            let forwarder = forwarder::Forwarder::new(
                addrs.clone(),
                tcp.as_ref().map(|t| t.port),
                config,
                metrics.clone(),
                stats.clone(),
            )
            .for_worker(index as u8);
            let senders = sockets
                .iter()
                .map(|(addr, socket)| Ok((*addr, socket.try_clone()?)))
                .collect::<io::Result<Vec<_>>>()
                .map_err(MediaError::Thread)?;
            let handle = worker::spawn(
                index,
                forwarder,
                senders,
                hub.clone(),
                metrics.clone(),
                report.clone(),
            )
            .map_err(MediaError::Thread)?;
            workers.push(handle);
        }
        // Without TCP, nothing is ever handed over: a channel whose sender is gone at once.
        let handed = match tcp {
            Some(tcp) => tcp.handed,
            None => tokio::sync::mpsc::channel(1).1,
        };
        let (stop, stop_rx) = watch::channel(false);
        let (addrs_tx, addrs_rx) = watch::channel(addrs.clone());
        let place = demux::Place {
            listen,
            port,
            addrs: addrs_tx,
            handed,
        };
        metrics.media_worker_load(&vec![0; threads]);
        // The sockets are read on a thread of their own too, with its own runtime and reactor:
        // a busy signaling runtime does not delay media (the sockets are registered there).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(MediaError::Thread)?;
        let io = std::thread::Builder::new()
            .name("media-io".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let sockets = sockets
                        .into_iter()
                        .filter_map(|(addr, socket)| match UdpSocket::from_std(socket) {
                            Ok(socket) => Some((addr, Arc::new(socket))),
                            Err(error) => {
                                tracing::error!(%addr, %error, "cannot read the media port there");
                                None
                            }
                        })
                        .collect();
                    let demux = demux::Demux {
                        sockets,
                        place,
                        workers,
                        placement: placement::Placement::new(threads),
                        reports,
                        hub,
                        metrics,
                    };
                    demux.run(changes, stop_rx).await;
                });
            })
            .map_err(MediaError::Thread)?;
        let ports: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        tracing::info!(
            addrs = ports.join(" "),
            public = config.public_address.map(tracing::field::display),
            threads,
            "media forwarder listening (UDP)"
        );
        Ok(Self {
            addrs: addrs_rx,
            stats,
            stop,
            io,
        })
    }

    /// The addresses pages are given, as they change.
    pub fn watch_addrs(&self) -> watch::Receiver<Vec<SocketAddr>> {
        self.addrs.clone()
    }

    /// The addresses (all on the media port) pages are given as candidates now.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.addrs.borrow().clone()
    }

    /// What observers read.
    pub fn stats(&self) -> &MediaStats {
        &self.stats
    }

    /// Stops forwarding; every media connection ends with it.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let io = self.io;
        let _ = tokio::task::spawn_blocking(move || io.join()).await;
    }
}

/// The addresses to offer pages for a forwarder listening on `listen`: its LAN addresses
/// (every one when it listens on all), and loopback for pages on this machine.
pub(super) fn media_ips(listen: IpAddr) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = lan_addrs(SocketAddr::new(listen, 0))
        .into_iter()
        .map(|a| a.ip())
        .collect();
    if listen.is_unspecified() {
        ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    ips
}

/// The receive buffer asked of the kernel for each media socket. Every participant's packets
/// land in one socket, so a forwarder that is not scheduled for a few tens of milliseconds (a
/// busy machine) must find them queued, not dropped: the default (208 KiB, about 150 datagrams
/// once the kernel counts its overhead) overflowed with five browsers on a busy two-core
/// machine. The kernel caps what it grants at twice `net.core.rmem_max`.
const RECEIVE_BUFFER: usize = 4 << 20;

/// The send buffer asked for each media socket: one incoming frame becomes a copy for every
/// receiver at once (a keyframe to 30 people is hundreds of datagrams in one step), which the
/// default buffer cannot hold. The kernel caps it at twice `net.core.wmem_max`; what is still
/// dropped is counted (`media_dropped_datagrams{reason="send_buffer_full"}`).
const SEND_BUFFER: usize = 4 << 20;

/// Opens the media port on `ip`, non-blocking, for the runtime that will read it to take up.
pub(super) fn bind(ip: IpAddr, port: u16) -> Result<std::net::UdpSocket, MediaError> {
    let addr = SocketAddr::new(ip, port);
    let refused = |source: io::Error| match source.kind() {
        io::ErrorKind::AddrInUse => MediaError::PortInUse { addr: ip, port },
        _ => MediaError::Bind { addr, source },
    };
    let socket = std::net::UdpSocket::bind(addr).map_err(refused)?;
    socket.set_nonblocking(true).map_err(refused)?;
    let buffer = socket2::SockRef::from(&socket);
    if let Err(error) = buffer.set_recv_buffer_size(RECEIVE_BUFFER) {
        tracing::debug!(%error, "could not enlarge the media socket's receive buffer");
    }
    if let Ok(granted) = buffer.recv_buffer_size()
        && granted < RECEIVE_BUFFER
    {
        tracing::debug!(
            granted,
            asked = RECEIVE_BUFFER,
            "media socket receive buffer capped by net.core.rmem_max"
        );
    }
    if let Err(error) = buffer.set_send_buffer_size(SEND_BUFFER) {
        tracing::debug!(%error, "could not enlarge the media socket's send buffer");
    }
    if let Ok(granted) = buffer.send_buffer_size()
        && granted < SEND_BUFFER
    {
        tracing::debug!(
            granted,
            asked = SEND_BUFFER,
            "media socket send buffer capped by net.core.wmem_max"
        );
    }
    Ok(socket)
}
