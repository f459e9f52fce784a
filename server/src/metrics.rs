//! Prometheus metrics at `GET /metrics`: what the hub and the handshake guard observe.
//! Nothing here decides anything; the counters only watch the core's outcomes and the
//! transports' refusals. The relayed counter is also the dashboard's traffic figure.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::rooms::Refusal;
use crate::wire::Transport;

/// What kind of refusal an event or a connection met, as the `reason` label says it.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum RefusalKind {
    /// Over the per-connection event rate.
    rate,
    /// A signal or a message over its size limit.
    size,
    /// A web page of a foreign origin.
    origin,
    /// A join into a full room.
    room_full,
    /// A payload that did not validate.
    validation,
    /// A signal to nobody in the sender's room, or before joining.
    routing,
    /// A handshake past the connection cap.
    server_full,
    /// A handshake past the per-address cap.
    address_full,
    /// A media request that does not fit the room's mode (a page that cannot use the SFU in an
    /// SFU room, SFU signaling in a mesh room).
    media,
    /// A join while the node could not reach its cluster.
    cluster,
    /// A request naming a host that is not one of the server's (DNS rebinding).
    host,
    /// A join to a private meeting without its key, or with a wrong one.
    access,
}

impl RefusalKind {
    const ALL: [RefusalKind; 12] = [
        RefusalKind::rate,
        RefusalKind::size,
        RefusalKind::origin,
        RefusalKind::room_full,
        RefusalKind::validation,
        RefusalKind::routing,
        RefusalKind::server_full,
        RefusalKind::address_full,
        RefusalKind::media,
        RefusalKind::cluster,
        RefusalKind::host,
        RefusalKind::access,
    ];
}

impl From<&Refusal> for RefusalKind {
    fn from(refusal: &Refusal) -> Self {
        match refusal {
            Refusal::Invalid(_) => RefusalKind::validation,
            Refusal::RateLimited { .. } => RefusalKind::rate,
            Refusal::SignalTooLarge { .. } => RefusalKind::size,
            Refusal::NotInRoom(_) | Refusal::TargetNotInRoom(_) => RefusalKind::routing,
            Refusal::RoomFull { .. } => RefusalKind::room_full,
            Refusal::NeedsSfu(_) | Refusal::NotInSfuRoom | Refusal::MediaBusy => RefusalKind::media,
            Refusal::ClusterUnavailable => RefusalKind::cluster,
            Refusal::NeedsLink | Refusal::WrongKey | Refusal::Locked | Refusal::NotHost => {
                RefusalKind::access
            }
            Refusal::NotHere(_) => RefusalKind::routing,
            Refusal::HostControlsUnavailable => RefusalKind::cluster,
        }
    }
}

/// Why the media forwarder dropped a datagram.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum MediaDrop {
    /// Not STUN, DTLS, RTP or RTCP at all.
    garbage,
    /// Well-formed, but for no participant (unknown ICE username, unknown source).
    unknown,
    /// For a participant, but refused by its connection (malformed or unauthenticated).
    malformed,
    /// Outgoing: the socket's send buffer was full (the forwarder produced faster than the
    /// kernel sent).
    send_buffer_full,
    /// Outgoing: the kernel refused it (no route, the address gone).
    send_failed,
    /// Outgoing media held back: its address has not consented to receive it (a nomination
    /// from a new address, until that address answers our check).
    unconsented,
    /// Incoming: the forwarder worker it belongs to was too far behind to queue it.
    worker_busy,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabel {
    reason: MediaDrop,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MediaLabel {
    media: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabel {
    worker: u32,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: RefusalKind,
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum TransportLabelValue {
    socketio,
    ws,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabel {
    transport: TransportLabelValue,
}

impl From<Transport> for TransportLabel {
    fn from(transport: Transport) -> Self {
        let transport = match transport {
            Transport::SocketIo => TransportLabelValue::socketio,
            Transport::WebSocket => TransportLabelValue::ws,
        };
        Self { transport }
    }
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    connections: Family<TransportLabel, Gauge>,
    rooms: Gauge,
    joins: Counter,
    relayed: Counter,
    chats: Counter,
    refused: Family<ReasonLabel, Counter>,
    relay_seconds: Histogram,
    rooms_by_media: Family<MediaLabel, Gauge>,
    media_participants: Gauge,
    media_worker_participants: Family<WorkerLabel, Gauge>,
    media_forwarded: Counter,
    media_forwarded_bytes: Counter,
    media_over_cap: Counter,
    media_dropped: Family<DropLabel, Counter>,
    media_received_bytes: Counter,
    media_sent_bytes: Counter,
    cluster_nodes: Gauge,
    cluster_connected: Gauge,
    cluster_messages: Family<DirectionLabel, Counter>,
    cluster_redis_seconds: Histogram,
}

/// Which way a cluster message went.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Direction {
    /// Published by this node.
    sent,
    /// Received from the others.
    received,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabel {
    direction: Direction,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabel {
    version: &'static str,
}

/// The process's CPU time, resident memory and file descriptors, read from /proc at each scrape
/// (nothing on a system without it).
#[derive(Debug)]
struct ProcessFigures;

/// What /proc says of this process: (CPU seconds, resident bytes, open files, most open files).
fn process_figures() -> Option<(f64, u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command (which may hold spaces) start after its closing parenthesis;
    // utime and stime are the 12th and 13th from there, in USER_HZ ticks (100 on Linux).
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    let (most, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?;
    Some((ticks as f64 / 100.0, rss_kib * 1024, open, most))
}

impl prometheus_client::collector::Collector for ProcessFigures {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::counter::ConstCounter;
        use prometheus_client::metrics::gauge::ConstGauge;
        let Some((cpu, resident, open, most)) = process_figures() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(cpu);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent, in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        for (name, help, value) in [
            (
                "process_resident_memory_bytes",
                "Resident memory, in bytes",
                resident,
            ),
            ("process_open_fds", "Open file descriptors", open),
            ("process_max_fds", "Most file descriptors it may open", most),
        ] {
            let gauge = ConstGauge::new(value as i64);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Self {
        let mut root = Registry::default();
        // The usual process_* figures, unprefixed, as every Prometheus client library names them.
        root.register_collector(Box::new(ProcessFigures));
        let registry = root.sub_registry_with_prefix("free_meetings");
        let build_info = Family::<BuildLabel, Gauge>::default();
        registry.register(
            "build_info",
            "1, labelled with the version that runs",
            build_info.clone(),
        );
        build_info
            .get_or_create(&BuildLabel {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        let connections = Family::<TransportLabel, Gauge>::default();
        registry.register(
            "connections",
            "Connected peers, by transport",
            connections.clone(),
        );
        let rooms = Gauge::default();
        registry.register("rooms", "Rooms with at least one member", rooms.clone());
        let joins = Counter::default();
        registry.register("joins", "Room joins", joins.clone());
        let relayed = Counter::default();
        registry.register("signals_relayed", "Signals relayed", relayed.clone());
        let chats = Counter::default();
        registry.register(
            "chat_messages",
            "Chat messages sent to a room",
            chats.clone(),
        );
        let refused = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "refused",
            "Events and handshakes refused, by reason",
            refused.clone(),
        );
        // 10 µs to ~1.3 s: a relay is normally tens of microseconds.
        let relay_seconds = Histogram::new(exponential_buckets(1e-5, 4.0, 9));
        registry.register(
            "relay_latency_seconds",
            "Time from a signal's arrival to its queueing for the target",
            relay_seconds.clone(),
        );
        // Every series is listed at zero from the start, so a scraper sees them all.
        for reason in RefusalKind::ALL {
            let _ = refused.get_or_create(&ReasonLabel { reason });
        }
        for transport in Transport::ALL {
            let _ = connections.get_or_create(&transport.into());
        }
        let rooms_by_media = Family::<MediaLabel, Gauge>::default();
        registry.register(
            "rooms_by_media",
            "Rooms by where their media goes (mesh: browser to browser; sfu: through this server)",
            rooms_by_media.clone(),
        );
        for media in ["mesh", "sfu"] {
            let _ = rooms_by_media.get_or_create(&MediaLabel { media });
        }
        let media_participants = Gauge::default();
        registry.register(
            "media_participants",
            "Pages sending their media through the forwarder",
            media_participants.clone(),
        );
        let media_worker_participants = Family::<WorkerLabel, Gauge>::default();
        registry.register(
            "media_worker_participants",
            "Pages each media forwarding thread carries (--media-threads; a room is carried whole by one)",
            media_worker_participants.clone(),
        );
        let media_forwarded = Counter::default();
        registry.register(
            "media_forwarded",
            "Video frames and audio packets forwarded (one per receiver)",
            media_forwarded.clone(),
        );
        let media_forwarded_bytes = Counter::default();
        registry.register(
            "media_forwarded_bytes",
            "Media payload bytes forwarded (one copy per receiver)",
            media_forwarded_bytes.clone(),
        );
        let media_over_cap = Counter::default();
        registry.register(
            "media_over_cap_frames",
            "Frames not forwarded because their sender was over --media-max-bitrate-in",
            media_over_cap.clone(),
        );
        let media_dropped = Family::<DropLabel, Counter>::default();
        registry.register(
            "media_dropped_datagrams",
            "Datagrams on the media port dropped, received or sent, by reason",
            media_dropped.clone(),
        );
        for reason in [
            MediaDrop::garbage,
            MediaDrop::unknown,
            MediaDrop::malformed,
            MediaDrop::send_buffer_full,
            MediaDrop::send_failed,
            MediaDrop::unconsented,
        ] {
            let _ = media_dropped.get_or_create(&DropLabel { reason });
        }
        // Totals, not per-page series: a label per peer would grow without bound, and a rate
        // is the monitoring system's to compute (rate(...[1m]) * 8 for bits per second).
        let media_received_bytes = Counter::default();
        registry.register(
            "media_received_bytes",
            "Bytes the forwarder received from pages (media, with its packet overhead)",
            media_received_bytes.clone(),
        );
        let media_sent_bytes = Counter::default();
        registry.register(
            "media_sent_bytes",
            "Bytes the forwarder sent to pages (media, with its packet overhead)",
            media_sent_bytes.clone(),
        );
        let cluster_nodes = Gauge::default();
        registry.register(
            "cluster_nodes",
            "Cluster mode: nodes registered in Redis at the last heartbeat",
            cluster_nodes.clone(),
        );
        let cluster_connected = Gauge::default();
        registry.register(
            "cluster_connected",
            "Cluster mode: 1 while this node reaches Redis, else 0",
            cluster_connected.clone(),
        );
        let cluster_messages = Family::<DirectionLabel, Counter>::default();
        registry.register(
            "cluster_messages",
            "Cluster mode: messages between nodes (joins, leaves, signals, chat, states)",
            cluster_messages.clone(),
        );
        let cluster_redis_seconds = Histogram::new(exponential_buckets(5e-5, 4.0, 9));
        registry.register(
            "cluster_redis_seconds",
            "Cluster mode: Redis round trip of the node's writes and heartbeats",
            cluster_redis_seconds.clone(),
        );
        Self {
            registry: root,
            connections,
            rooms,
            joins,
            relayed,
            chats,
            refused,
            relay_seconds,
            rooms_by_media,
            media_participants,
            media_worker_participants,
            media_forwarded,
            media_forwarded_bytes,
            media_dropped,
            media_over_cap,
            media_received_bytes,
            media_sent_bytes,
            cluster_nodes,
            cluster_connected,
            cluster_messages,
            cluster_redis_seconds,
        }
    }

    /// A peer connected (+1) or disconnected (-1).
    pub fn connection(&self, transport: Transport, delta: i64) {
        self.connections
            .get_or_create(&transport.into())
            .inc_by(delta);
    }

    /// The number of rooms now, and of those whose media goes through the server.
    pub fn set_rooms(&self, rooms: usize, sfu: usize) {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.rooms.set(gauge(rooms));
        let label = |media| MediaLabel { media };
        self.rooms_by_media
            .get_or_create(&label("sfu"))
            .set(gauge(sfu));
        self.rooms_by_media
            .get_or_create(&label("mesh"))
            .set(gauge(rooms.saturating_sub(sfu)));
    }

    /// A page's media connection opened (`true`) or closed: counted up and down, because each
    /// forwarder worker knows only its own.
    pub fn media_participant_counted(&self, opened: bool) {
        if opened {
            self.media_participants.inc();
        } else {
            self.media_participants.dec();
        }
    }

    /// The pages each media worker carries now (index: worker).
    pub fn media_worker_load(&self, load: &[usize]) {
        for (worker, count) in load.iter().enumerate() {
            self.media_worker_participants
                .get_or_create(&WorkerLabel {
                    worker: u32::try_from(worker).unwrap_or(u32::MAX),
                })
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
    }

    /// `count` frames or packets of `bytes` in all were forwarded.
    pub fn media_forwarded(&self, count: u64, bytes: u64) {
        self.media_forwarded.inc_by(count);
        self.media_forwarded_bytes.inc_by(bytes);
    }

    /// A frame was not forwarded: its sender was over its bitrate cap.
    pub fn media_over_cap(&self) {
        self.media_over_cap.inc();
    }

    /// A datagram on the media port was dropped.
    pub fn media_dropped(&self, reason: MediaDrop) {
        self.media_dropped
            .get_or_create(&DropLabel { reason })
            .inc();
    }

    /// Bytes a participant's media connection received and sent since its last figures.
    pub fn media_bytes(&self, received: u64, sent: u64) {
        self.media_received_bytes.inc_by(received);
        self.media_sent_bytes.inc_by(sent);
    }

    /// A peer joined a room.
    pub fn joined(&self) {
        self.joins.inc();
    }

    /// A signal was relayed after `seconds` in the server.
    pub fn relayed(&self, seconds: f64) {
        self.relayed.inc();
        self.relay_seconds.observe(seconds);
    }

    /// A chat message went to a room.
    pub fn chatted(&self) {
        self.chats.inc();
    }

    /// Cluster mode: how this node stands (nodes seen, Redis reached).
    pub fn cluster_status(&self, nodes: usize, connected: bool) {
        self.cluster_nodes
            .set(i64::try_from(nodes).unwrap_or(i64::MAX));
        self.cluster_connected.set(i64::from(connected));
    }

    /// Cluster mode: `count` messages went `direction`.
    pub fn cluster_messages(&self, direction: Direction, count: u64) {
        self.cluster_messages
            .get_or_create(&DirectionLabel { direction })
            .inc_by(count);
    }

    /// Cluster mode: one Redis round trip.
    pub fn cluster_round_trip(&self, seconds: f64) {
        self.cluster_redis_seconds.observe(seconds);
    }

    /// Signals relayed since start.
    pub fn relayed_total(&self) -> u64 {
        self.relayed.get()
    }

    /// Something was refused.
    pub fn refused(&self, reason: RefusalKind) {
        self.refused.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.refused(RefusalKind::rate);
        metrics.refused(RefusalKind::rate);
        metrics.connection(Transport::WebSocket, 1);
        metrics.relayed(0.00002);
        assert_eq!(metrics.relayed_total(), 1);
        let text = metrics.encode();
        assert!(
            text.contains("free_meetings_refused_total{reason=\"rate\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("free_meetings_refused_total{reason=\"origin\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("free_meetings_connections{transport=\"ws\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("free_meetings_signals_relayed_total 1"),
            "{text}"
        );
        assert!(
            text.contains("free_meetings_relay_latency_seconds_count 1"),
            "{text}"
        );
    }
}
