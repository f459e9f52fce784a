//! Starting and stopping a server: bind, wire the transports to one hub, serve, shut down.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::cluster::Cluster;
use crate::config::ServerConfig;
use crate::dashboard::{self, Access, DashboardState};
use crate::discovery::{self, AdvertiseConfig, Advertiser, MdnsState, MdnsStatus};
use crate::http::{self, Health};
use crate::hub::Hub;
use crate::media::MediaServer;
use crate::meeting::{self, MeetingConfig};
use crate::metrics::Metrics;
use crate::tls::{CertNames, Certificates, Refresh, TlsConfig, TlsError};
use crate::transport::admission::Admission;
use crate::transport::handshake::Handshake;
use crate::transport::ws::{self, WsSettings};
use crate::transport::{READ_BUFFER_BYTES, socketio};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `--bind` is neither an IP address nor a resolvable host name.
    #[error("cannot listen on '{0}': not an IP address or a host name of this machine")]
    BadAddress(String),
    /// The port is taken.
    #[error(
        "port {port} is already in use on {bind}; stop the other program or choose another port with --port"
    )]
    PortInUse {
        /// The bind address.
        bind: String,
        /// The port.
        port: u16,
    },
    /// The address is not one of this machine's.
    #[error("cannot listen on {0}: that address does not belong to this machine (see --bind)")]
    AddressNotAvailable(SocketAddr),
    /// The HTTPS port is taken.
    #[error(
        "HTTPS port {port} is already in use on {bind}; stop the other program or choose another port with --tls-port"
    )]
    TlsPortInUse {
        /// The bind address.
        bind: String,
        /// The port.
        port: u16,
    },
    /// The certificate could not be generated or loaded.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The media forwarder's port could not be opened.
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    /// Cluster mode could not start.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    /// The private meetings kept by an earlier run could not be read.
    #[error(transparent)]
    Invitations(#[from] crate::invitation_file::InvitationFileError),
    /// Any other socket error.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
}

/// A server accepting connections.
pub struct RunningServer {
    addr: SocketAddr,
    hub: Hub,
    io: SocketIo,
    advertiser: Option<Advertiser>,
    mdns: MdnsState,
    closing: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<()>,
    tls_task: Option<JoinHandle<()>>,
    tls_addr: Option<SocketAddr>,
    meeting: Arc<MeetingConfig>,
    media: Option<MediaServer>,
    cluster: Option<Arc<Cluster>>,
    /// Keeps the private meetings' file up to date; ends after its last save at shutdown.
    invitations_task: Option<JoinHandle<()>>,
    /// The certificate, checked hourly (and when asked) while the server runs.
    certificates: Option<Arc<CertificateKeeper>>,
}

/// How long shutdown waits for connections to close before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Binds and starts serving in the background.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    let listener = bind(&config.bind, config.port).await?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: SocketAddr::from(([0, 0, 0, 0], config.port)),
        source,
    })?;
    let (tls, tls_listener) = match &config.tls {
        Some(tls_config) => {
            let (tls, listener) = start_tls(&config, tls_config).await?;
            (Some(tls), Some(listener))
        }
        None => (None, None),
    };
    let acceptor = tls
        .as_ref()
        .map(|t| t.certificates.acceptor())
        .transpose()?;
    let tls_addr = tls_listener.as_ref().and_then(|l| l.local_addr().ok());
    let meeting = Arc::new(MeetingConfig {
        ice_servers: config.ice_servers.clone(),
        https_port: tls_addr.map(|a| a.port()),
        fingerprint: tls.as_ref().map(|t| t.certificates.served()),
    });
    let metrics = Arc::new(Metrics::new());
    let (media_tx, media_rx) = crate::hub::media_queue(crate::hub::MEDIA_REQUESTS_QUEUED);
    let mut limits = config.limits.clone();
    if config.cluster.is_some() {
        // The cluster's admission counts the room's cap over every node.
        limits.max_peers_per_room = usize::MAX;
    }
    let hub = Hub::new(
        limits,
        metrics.clone(),
        config.media.is_some().then_some(media_tx),
    );
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let invitations_task = match (&config.meetings_file, &config.cluster) {
        (Some(path), None) => {
            let saved = crate::invitation_file::load(path)?;
            let restored = hub.restore_invitations(saved);
            tracing::info!(restored, file = %path.display(), "private meetings kept in");
            Some(tokio::spawn(crate::invitation_file::keep(
                hub.clone(),
                path.clone(),
                closing.subscribe(),
            )))
        }
        _ => None,
    };
    let cluster = match &config.cluster {
        Some(options) => Some(Arc::new(
            Cluster::start(options.clone(), hub.clone()).await?,
        )),
        None => None,
    };
    // ICE over TCP shares the HTTPS port: the listener hands media connections over.
    let (media_tcp_tx, media_tcp_rx) = match (&config.media, tls_addr) {
        (Some(media), Some(_)) if media.tcp => {
            let (tx, rx) = tokio::sync::mpsc::channel(64);
            (Some(tx), Some(rx))
        }
        _ => (None, None),
    };
    let media = match &config.media {
        Some(media_config) => Some(
            MediaServer::start(
                media_config,
                addr.ip(),
                hub.clone(),
                media_rx,
                metrics.clone(),
                media_tcp_rx.map(|handed| crate::media::MediaTcp {
                    port: tls_addr.map_or(0, |a| a.port()),
                    handed,
                }),
            )
            .await?,
        ),
        None => None,
    };
    let (layer, io) = SocketIo::builder()
        .ping_interval(config.ping_interval)
        .ping_timeout(config.ping_timeout)
        .max_buffer_size(config.peer_queue)
        .max_payload(config.max_message_bytes as u64)
        .ws_max_message_size(config.max_message_bytes)
        .ws_max_frame_size(config.max_message_bytes)
        // 4 KiB by default, allocated per idle peer.
        .ws_read_buffer_size(READ_BUFFER_BYTES)
        .build_layer();
    socketio::attach(&io, hub.clone(), config.ping_interval + config.ping_timeout);
    let mdns = MdnsState::default();
    let ws_settings = WsSettings {
        ping_interval: config.ping_interval,
        ping_timeout: config.ping_timeout,
        max_message_bytes: config.max_message_bytes,
        queue: config.peer_queue,
    };
    let dashboard_state = DashboardState {
        hub: hub.clone(),
        listen: addr,
        mdns: mdns.clone(),
        meeting: meeting.clone(),
        closing: closing_rx,
        media: media.as_ref().map(|m| m.stats().clone()),
    };
    let access = Access::new(
        config.dashboard_token.clone(),
        config.window_origins.clone(),
    );
    let features = [
        ws::routes(hub.clone(), ws_settings),
        crate::trust::routes(tls.as_ref().map(|t| t.certificates.served())),
        dashboard::routes(dashboard_state.clone(), access),
        dashboard::metrics_routes(
            dashboard_state,
            Access::metrics(config.metrics_token.clone()),
        ),
        meeting::routes(
            meeting.clone(),
            meeting::MeetingMaker::new(hub.clone(), Arc::new(config.origins.clone())),
            config.static_dir.clone(),
            config
                .static_csp
                .as_deref()
                .and_then(|csp| axum::http::HeaderValue::from_str(csp).ok()),
        ),
    ];
    let host = http::host::HostCheck::new(Arc::new(config.own_names.clone()), metrics.clone());
    let handshake = Handshake {
        origins: Arc::new(config.origins.clone()),
        metrics,
        admission: Admission::new(
            connection_cap(config.max_connections),
            config.max_connections_per_address,
        ),
    };
    let health = Health {
        hub: hub.clone(),
        mdns: mdns.clone(),
        cluster: cluster.clone(),
        media: media.as_ref().map(MediaServer::watch_addrs),
    };
    let first = http::https_first::HttpsFirst {
        https_port: tls_addr.filter(|_| config.https_redirect).map(|a| a.port()),
    };
    let app = http::router(features, health, layer, handshake, host, first);
    let tls_task = match (tls_listener, acceptor) {
        (Some(listener), Some(acceptor)) => Some(tokio::spawn(crate::http::serve::serve(
            listener,
            app.clone(),
            Some(crate::http::serve::Tls {
                acceptor,
                media: media_tcp_tx,
            }),
            config.header_timeout,
            closing.subscribe(),
            SHUTDOWN_GRACE,
        ))),
        _ => None,
    };
    let task = tokio::spawn(crate::http::serve::serve(
        listener,
        app,
        None,
        config.header_timeout,
        closing.subscribe(),
        SHUTDOWN_GRACE,
    ));
    tracing::info!(%addr, "listening");
    if let (Some(tls_addr), Some(tls)) = (tls_addr, &tls) {
        let fingerprint = tls.certificates.served().get().fingerprint;
        tracing::info!(%tls_addr, %fingerprint, "HTTPS listening; people can check the certificate's SHA-256 fingerprint in their browser");
    }
    log_reachable(addr, meeting.https_port);
    let advertiser = advertise(&config, addr, &meeting, tls.as_deref(), &mdns);
    if let Some(tls) = &tls {
        tokio::spawn(keep_certificate(tls.clone(), closing.subscribe()));
    }
    Ok(RunningServer {
        addr,
        hub,
        io,
        advertiser,
        mdns,
        closing,
        task,
        tls_task,
        tls_addr,
        meeting,
        media,
        cluster,
        invitations_task,
        certificates: tls,
    })
}

/// Binds the HTTPS port and loads (or first generates) the certificate.
async fn start_tls(
    config: &ServerConfig,
    tls: &TlsConfig,
) -> Result<(Arc<CertificateKeeper>, TcpListener), StartError> {
    let listener = bind(&config.bind, tls.port).await.map_err(|e| match e {
        StartError::PortInUse { bind, port } => StartError::TlsPortInUse { bind, port },
        other => other,
    })?;
    let alias = config.mdns_alias.clone();
    // --public-name too: a name added later gets a new certificate that names it.
    let public_names: Vec<String> = config.own_names.names().to_vec();
    let names = certificate_names(alias.as_deref(), &public_names);
    // Generating a key pair and touching files: keep it off the async workers.
    let source = tls.source.clone();
    let certificates = tokio::task::spawn_blocking(move || Certificates::load(source, &names))
        .await
        .map_err(|e| StartError::Listen {
            addr: SocketAddr::from(([0, 0, 0, 0], tls.port)),
            source: io::Error::other(e),
        })??;
    let keeper = CertificateKeeper {
        certificates: Arc::new(certificates),
        alias,
        public_names,
    };
    Ok((Arc::new(keeper), listener))
}

/// The names and addresses a generated certificate must carry: this machine's host name (plain
/// and `.local`), the mDNS alias, the `--public-name`s, `localhost`, the LAN addresses and
/// loopback. Read again at each check: a machine may be given a new address while it runs.
fn certificate_names(alias: Option<&str>, public_names: &[String]) -> CertNames {
    let mut names = CertNames::for_this_machine(
        &discovery::machine_hostname(),
        alias,
        &discovery::lan_addresses().0,
    );
    for name in public_names {
        if !names.dns.contains(name) {
            names.dns.push(name.clone());
        }
    }
    names
}

/// The certificate being served and what decides the names it must carry.
struct CertificateKeeper {
    certificates: Arc<Certificates>,
    alias: Option<String>,
    public_names: Vec<String>,
}

/// How often a running server checks its certificate: well inside the 30 days a generated one
/// is renewed before its end, and soon after a certbot renewal of the user's files.
const CERTIFICATE_CHECK: Duration = Duration::from_secs(60 * 60);

impl CertificateKeeper {
    /// Checks the certificate now (off the async workers: it may generate a key), and logs
    /// what changed or why the one in use stays.
    async fn refresh(&self) -> Result<Refresh, TlsError> {
        let certificates = self.certificates.clone();
        let names = certificate_names(self.alias.as_deref(), &self.public_names);
        let outcome = tokio::task::spawn_blocking(move || certificates.refresh(&names))
            .await
            .unwrap_or_else(|e| Err(TlsError::Interrupted(e.to_string())));
        let fingerprint = self.certificates.served().get().fingerprint;
        match &outcome {
            Ok(Refresh::Unchanged) => tracing::debug!("the TLS certificate is still good"),
            Ok(Refresh::Renewed { why }) => {
                tracing::info!(%why, %fingerprint, "TLS certificate renewed; new connections get it (devices that installed the old one need this one: /trust)")
            }
            Ok(Refresh::Reloaded) => {
                tracing::info!(%fingerprint, "TLS certificate files changed on disk and were read again; new connections get them")
            }
            Err(error) => {
                tracing::warn!(%error, %fingerprint, "cannot refresh the TLS certificate; still serving the one in use")
            }
        }
        outcome
    }
}

/// Checks the certificate every [`CERTIFICATE_CHECK`] until the server closes.
async fn keep_certificate(
    keeper: Arc<CertificateKeeper>,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(CERTIFICATE_CHECK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => {
                let _ = keeper.refresh().await;
            }
            _ = closing.changed() => return,
        }
    }
}

/// Descriptors kept for everything that is not a peer: the listener, mDNS sockets, files,
/// and connections still in their HTTP handshake.
const SPARE_DESCRIPTORS: u64 = 256;

/// The connection cap: `--max-connections`, lowered to fit the open-file limit, so that past it
/// handshakes get a clean 503 instead of the process running out of descriptors.
fn connection_cap(configured: usize) -> usize {
    let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
        return configured;
    };
    let fits = usize::try_from(soft.saturating_sub(SPARE_DESCRIPTORS).max(1)).unwrap_or(usize::MAX);
    if fits < configured {
        tracing::info!(
            connections = fits,
            open_file_limit = soft,
            "at most {fits} connections: the open-file limit is {soft} (raise it with ulimit -n)"
        );
        return fits;
    }
    configured
}

/// Logs the URLs other machines can use, which work even where multicast is blocked.
fn log_reachable(addr: SocketAddr, tls_port: Option<u16>) {
    let addrs = discovery::lan_addrs(addr);
    if addrs.is_empty() {
        tracing::warn!("no LAN interface is up: only this machine can connect for now");
        return;
    }
    let urls = |scheme: &str, port: u16| -> String {
        let urls: Vec<String> = addrs
            .iter()
            .map(|&a| discovery::url(scheme, a, port))
            .collect();
        urls.join(" ")
    };
    tracing::info!(urls = urls("http", addr.port()), "reachable by address at");
    if let Some(tls_port) = tls_port {
        tracing::info!(
            urls = urls("https", tls_port),
            "meeting page for other machines at"
        );
    }
}

/// Starts the LAN announcement when asked and when it makes sense; a failure is logged and
/// shown in `/health`, never fatal: the server works by address without it.
fn advertise(
    config: &ServerConfig,
    addr: SocketAddr,
    meeting: &MeetingConfig,
    tls: Option<&CertificateKeeper>,
    state: &MdnsState,
) -> Option<Advertiser> {
    if !config.mdns {
        return None;
    }
    if addr.ip().is_loopback() {
        tracing::info!("not announcing on the LAN: listening on loopback only (see --bind)");
        return None;
    }
    let hostname = discovery::machine_hostname();
    let instance = config
        .instance_name
        .clone()
        .unwrap_or_else(|| format!("Free Meetings on {hostname}"));
    let advertise = AdvertiseConfig {
        instance,
        hostname,
        alias: config.mdns_alias.clone(),
        port: addr.port(),
        tls_port: meeting.https_port,
        fingerprint: tls.map(|t| t.certificates.fingerprints()),
        only_ip: (!addr.ip().is_unspecified()).then(|| addr.ip()),
    };
    match Advertiser::start(advertise, state.clone()) {
        Ok(advertiser) => Some(advertiser),
        Err(error) => {
            tracing::warn!(%error, "LAN announcement unavailable (is multicast blocked?); peers can still connect by address");
            let message = error.to_string();
            state.set(MdnsStatus {
                enabled: false,
                error: Some(message),
                ..MdnsStatus::default()
            });
            None
        }
    }
}

async fn bind(host: &str, port: u16) -> Result<TcpListener, StartError> {
    let bad_address = || StartError::BadAddress(host.to_owned());
    let addr = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| bad_address())?
        .next()
        .ok_or_else(bad_address)?;
    listen(addr).map_err(|source| match source.kind() {
        io::ErrorKind::AddrInUse => StartError::PortInUse {
            bind: host.to_owned(),
            port,
        },
        io::ErrorKind::AddrNotAvailable => StartError::AddressNotAvailable(addr),
        _ => StartError::Listen { addr, source },
    })
}

/// Pending connections the kernel may queue before refusing more. The common default of 128
/// overflows when hundreds of people (or a reconnect storm) join at once: the dropped SYNs then
/// cost each of them a one-second retransmit. The kernel caps this at net.core.somaxconn.
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

impl RunningServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The hub, for observers.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// How to reach this server right now (URLs, `.local` names, the meeting link).
    pub fn status(&self) -> dashboard::Status {
        dashboard::collect_status(self.addr, &self.mdns, &self.meeting)
    }

    /// The HTTPS address, when TLS is on.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// The certificate's SHA-256 fingerprint, when TLS is on (the one served now).
    pub fn fingerprint(&self) -> Option<String> {
        self.meeting
            .fingerprint
            .as_ref()
            .map(|c| c.get().fingerprint)
    }

    /// Checks the certificate now, as the hourly check does: renews a generated one near its
    /// end or missing a name, reads the user's files again when they changed (`serve` calls it
    /// on SIGHUP). `None` without TLS.
    pub async fn refresh_certificate(&self) -> Option<Result<Refresh, TlsError>> {
        Some(self.certificates.as_ref()?.refresh().await)
    }

    /// The media forwarder's UDP addresses, when it runs.
    pub fn media_addrs(&self) -> Vec<SocketAddr> {
        self.media.as_ref().map_or_else(Vec::new, |m| m.addrs())
    }

    /// LAN announcement status.
    pub fn mdns(&self) -> &MdnsState {
        &self.mdns
    }

    /// Pauses or resumes the LAN announcement; false when announcing is off for this server.
    pub async fn set_announcing(&self, on: bool) -> bool {
        let Some(advertiser) = &self.advertiser else {
            return false;
        };
        if on {
            if let Err(error) = advertiser.resume() {
                tracing::warn!(%error, "could not resume the LAN announcement");
                return false;
            }
        } else {
            advertiser.pause().await;
        }
        true
    }

    /// Says goodbye on the LAN, stops accepting, disconnects every peer, and waits (briefly)
    /// for connections to end.
    pub async fn shutdown(self) {
        if let Some(advertiser) = self.advertiser {
            advertiser.stop().await;
        }
        self.closing.send_replace(true);
        if let Some(cluster) = &self.cluster {
            cluster.leave().await;
        }
        let peers = self.hub.stats().peers;
        tracing::info!(peers, "shutting down: disconnecting peers");
        self.io.close().await;
        self.hub.close_all();
        if let Some(tls_task) = self.tls_task {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, tls_task).await;
        }
        if let Some(media) = self.media {
            media.shutdown().await;
        }
        if let Some(invitations) = self.invitations_task {
            let _ = invitations.await;
        }
        match tokio::time::timeout(SHUTDOWN_GRACE, self.task).await {
            Ok(Ok(())) => tracing::info!("stopped"),
            Ok(Err(error)) => tracing::warn!(%error, "server task failed"),
            Err(_) => tracing::warn!("some connections did not close in time; stopping anyway"),
        }
    }
}
