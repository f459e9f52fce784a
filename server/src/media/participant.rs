//! One page's connection to the forwarder: its str0m `Rtc`, the tracks it sends us (`TrackIn`),
//! the tracks we send it (`TrackOut`, one per track of every other member of its room), and the
//! SDP renegotiations that add and remove those. The page offers first; after that the server
//! offers whenever others' tracks come or go, and, being the impolite side of the exchange,
//! ignores a page's offer that crosses its own (the page rolls back and answers ours).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use str0m::bwe::Bitrate;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid, Rid};
use str0m::{Candidate, Rtc};

use super::consent::{Consent, ice_credentials};
use super::layers::{LayerSent, VideoWant, allocate, estimator_targets, quality_of};
use super::timeline::Timeline;
use crate::wire::{PeerId, Quality, RoomId, StreamId};

/// How long a layer may go without data before it no longer counts as sent.
const LAYER_SILENCE: Duration = Duration::from_secs(3);
/// How far a layer may fall behind another layer of the same track that still carries data
/// before it counts as stopped (the browser dropped it: CPU, bandwidth): its receivers then
/// fall back to the next layer at once. Above two frame intervals of a top layer slowed to
/// 5 fps, so a slowed layer is not taken for a stopped one.
const SIBLING_SILENCE: Duration = Duration::from_millis(400);
/// The bandwidth estimate a new connection starts from.
const START_BITRATE: Bitrate = Bitrate::kbps(1_500);
/// The least the estimator sustains (padding when media is quiet), and the least it probes for:
/// below these the top layer of even one video could not be found.
const MIN_BITRATE: u64 = 300_000;
const MIN_DESIRED: u64 = 2_000_000;
/// What each forwarded audio track may cost (Opus at its usual rates, with headers).
const AUDIO_BITRATE: u64 = 64_000;

/// A track the page sends us.
#[derive(Debug)]
pub(super) struct TrackIn {
    pub mid: Mid,
    pub kind: MediaKind,
    /// The page's own stream id for it (`msid`), which its `state` uses to name a screen.
    pub stream_id: String,
    /// Each simulcast layer seen, with when it last carried data and what it carries.
    pub layers: Vec<LayerIn>,
    /// When a keyframe was last asked for, per layer.
    pub keyframe_asked: Vec<(Option<Rid>, Instant)>,
    /// The layers the page was last told anyone takes (`sfu-layers`), once it sends several.
    pub hinted: Option<Vec<String>>,
}

/// One simulcast layer (or the only one) of a track the page sends us.
#[derive(Debug)]
pub(super) struct LayerIn {
    pub rid: Option<Rid>,
    /// When it last carried data.
    pub last: Instant,
    /// Bytes since `since`, turned into `bitrate` once a second has passed.
    bytes: u64,
    since: Instant,
    /// Bits per second over the last full second (0 until then).
    pub bitrate: u64,
    /// Fallen silent behind another layer of its track (see `SIBLING_SILENCE`).
    stopped: bool,
}

/// The layers of one sender's video sent lately: each with its rid, quality and bitrate.
pub(super) type SentLayers = Vec<(Option<Rid>, LayerSent)>;

impl TrackIn {
    /// The layers sent lately.
    pub fn sent(&self, now: Instant) -> SentLayers {
        let newest = self.layers.iter().map(|l| l.last).max();
        self.layers
            .iter()
            .filter(|l| now.saturating_duration_since(l.last) < LAYER_SILENCE)
            .filter(|l| {
                newest.is_none_or(|n| n.saturating_duration_since(l.last) < SIBLING_SILENCE)
            })
            .map(|l| {
                let quality = quality_of(l.rid.as_deref());
                (
                    l.rid,
                    LayerSent {
                        quality,
                        bitrate: l.bitrate,
                    },
                )
            })
            .collect()
    }

    /// Whether a keyframe of `rid` may be asked for now (at most one per `gap` per layer), and
    /// notes that it is.
    pub fn may_ask_keyframe(&mut self, rid: Option<Rid>, gap: Duration, now: Instant) -> bool {
        match self.keyframe_asked.iter_mut().find(|(r, _)| *r == rid) {
            Some((_, at)) if now.saturating_duration_since(*at) < gap => false,
            Some((_, at)) => {
                *at = now;
                true
            }
            None => {
                self.keyframe_asked.push((rid, now));
                true
            }
        }
    }

    /// Notes `bytes` of data on a layer; true if the layer choice must be redone: the layer is
    /// new, or another layer of the track has just fallen silent behind it.
    pub fn saw(&mut self, rid: Option<Rid>, bytes: usize, now: Instant) -> bool {
        let mut fell_silent = false;
        for other in self.layers.iter_mut().filter(|l| l.rid != rid) {
            let silent = now.saturating_duration_since(other.last) >= SIBLING_SILENCE;
            fell_silent |= silent && !other.stopped;
            other.stopped = silent;
        }
        self.note(rid, bytes, now) || fell_silent
    }

    fn note(&mut self, rid: Option<Rid>, bytes: usize, now: Instant) -> bool {
        let Some(layer) = self.layers.iter_mut().find(|l| l.rid == rid) else {
            self.layers.push(LayerIn {
                rid,
                last: now,
                bytes: bytes as u64,
                since: now,
                bitrate: 0,
                stopped: false,
            });
            return true;
        };
        // A layer that comes back is a change too.
        let resumed = std::mem::take(&mut layer.stopped);
        layer.last = now;
        layer.bytes += bytes as u64;
        let elapsed = now.saturating_duration_since(layer.since);
        if elapsed >= Duration::from_secs(1) {
            layer.bitrate = (layer.bytes as f64 * 8.0 / elapsed.as_secs_f64()) as u64;
            layer.bytes = 0;
            layer.since = now;
        }
        resumed
    }
}

/// Where a track we send stands in the SDP negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OutState {
    ToOpen,
    Negotiating(Mid),
    Open(Mid),
    ToStop(Mid),
    Stopping(Mid),
    /// Its track ended (a screen share stopped): the m-line is set inactive, not stopped, so
    /// that the sender's next track of the same stream reuses it (str0m does not recycle a
    /// stopped m-line, and each share would otherwise leave one in the page's SDP for good).
    ToPause(Mid),
    Pausing(Mid),
    Idle(Mid),
    /// A new track of the same stream takes the idle m-line again.
    ToResume(Mid),
    Resuming(Mid),
}

/// A track we send the page: another member's track.
#[derive(Debug)]
pub(super) struct TrackOut {
    pub origin: PeerId,
    pub origin_mid: Mid,
    pub kind: MediaKind,
    /// The origin's peer id (16 characters) then the origin's own stream id: the page maps it
    /// to a person and, with their `state`, to camera or screen. No separator: SDP keeps only
    /// some punctuation in a stream id (str0m drops `~`), and the peer id's length is fixed.
    pub stream_id: String,
    pub state: OutState,
    /// The layer forwarded now (`Some(None)`: a track without simulcast).
    pub layer: Option<Option<Rid>>,
    /// The layer to switch to at its next keyframe.
    pub next_layer: Option<Option<Rid>>,
    /// The RTP time sent, continuous across layer switches.
    pub timeline: Timeline,
}

impl TrackOut {
    pub fn mid(&self) -> Option<Mid> {
        match self.state {
            OutState::ToOpen => None,
            OutState::Negotiating(m)
            | OutState::Open(m)
            | OutState::ToStop(m)
            | OutState::Stopping(m)
            | OutState::ToPause(m)
            | OutState::Pausing(m)
            | OutState::Idle(m)
            | OutState::ToResume(m)
            | OutState::Resuming(m) => Some(m),
        }
    }

    /// Decides whether a frame of the origin's layer `rid` goes to the page, switching layers
    /// only on a keyframe of the new one, so the page's decoder never sees a broken picture.
    pub fn forwards(&mut self, rid: Option<Rid>, keyframe: bool) -> bool {
        if self.kind == MediaKind::Audio {
            return true;
        }
        if self.next_layer == Some(rid) && keyframe {
            tracing::debug!(origin = %self.origin, from = ?self.layer, to = ?rid, "layer switched at a keyframe");
            self.layer = Some(rid);
            self.next_layer = None;
        }
        self.layer == Some(rid)
    }
}

/// One page's connection.
pub(super) struct Participant {
    pub peer: PeerId,
    pub room: RoomId,
    pub rtc: Rtc,
    pending: Option<SdpPendingOffer>,
    pub tracks_in: Vec<TrackIn>,
    pub tracks_out: Vec<TrackOut>,
    /// The quality the page wants of each stream it receives, by our stream id.
    pub wants: HashMap<String, Quality>,
    /// The latest bandwidth estimate towards the page.
    pub bandwidth: Option<u64>,
    /// Frames and audio packets forwarded to the page.
    pub forwarded: u64,
    /// (when, bytes received, bytes sent) at the last statistics, for bitrates.
    pub last_counts: Option<(Instant, u64, u64)>,
    /// Losing packets, by its page's reports (see [`super::layers::lossy`]): its videos go a
    /// step lower.
    pub lossy: bool,
    /// What the estimator was last told to sustain and to probe for (see
    /// [`estimator_targets`]).
    estimator_targets: (u64, u64),
    /// When its first offer was answered: how long connecting and the first media took is
    /// logged from here (a slow start is the network's, the page's or ours).
    pub opened: Instant,
    /// Bytes received from the page in the current second (its start, the count): the
    /// per-page bitrate cap.
    window: (Instant, u64),
    /// When the page was last told it sends over the cap.
    warned: Option<Instant>,
    /// The DTLS fingerprint of the page's connection, from its first offer: an offer with
    /// another is a new connection (the page started over), never a renegotiation.
    pub fingerprint: Option<String>,
    /// Our addresses changed: the next offer restarts ICE, so the page checks the new ones.
    restart_ice: bool,
    /// Where media may go (see `consent.rs`).
    pub consent: Consent,
    /// The page's ICE username fragment and password, and ours, as last negotiated: what a
    /// consent request to the page is made with.
    pub ice: Option<(String, String)>,
    pub local_ufrag: Option<String>,
    /// Where the DTLS handshake's packets last went, before the connection was up.
    pub handshake_dest: Option<std::net::SocketAddr>,
    /// The connection said it has nothing to do before this time, and nothing was given to it
    /// since: a poll may pass it by (in a big room, most connections most of the time). None:
    /// it must be polled. Everything that gives the connection something clears it.
    pub idle_until: Option<Instant>,
}

/// Where pages can reach the forwarder: what each page is given as our candidates.
#[derive(Debug)]
pub(super) struct Reach {
    /// The addresses the media sockets listen on, all on the media port.
    pub addrs: Vec<std::net::SocketAddr>,
    /// The TCP port pages may also come over (ICE over TCP, passive), when there is one.
    pub tcp_port: Option<u16>,
    /// The address a NAT maps to ours, port for port (`--media-public-address`).
    pub public: Option<std::net::IpAddr>,
}

impl Reach {
    /// Our candidates: UDP on each address (preferred: host UDP ranks above TCP), and a passive
    /// TCP candidate on `tcp_port` of each when pages may also come over TCP (RFC 6544). The
    /// public address is offered as one more host candidate, not a server-reflexive one: an
    /// ICE-lite agent (str0m) refuses those, and needs none, since a page's checks come in
    /// through the NAT to an address it listens on, which is what it pairs with.
    fn candidates(&self) -> Vec<Candidate> {
        let Some(port) = self.addrs.first().map(|a| a.port()) else {
            return Vec::new();
        };
        let mut ips: Vec<std::net::IpAddr> = self.addrs.iter().map(|a| a.ip()).collect();
        if let Some(public) = self.public
            && !ips.contains(&public)
        {
            ips.push(public);
        }
        let mut candidates: Vec<Candidate> = ips
            .iter()
            .filter_map(|&ip| Candidate::host(std::net::SocketAddr::new(ip, port), "udp").ok())
            .collect();
        if let Some(port) = self.tcp_port {
            candidates.extend(ips.iter().filter_map(|&ip| {
                Candidate::builder()
                    .tcp()
                    .host(std::net::SocketAddr::new(ip, port))
                    .tcptype(str0m::net::TcpType::Passive)
                    .build()
                    .ok()
            }));
        }
        candidates
    }
}

/// The first `a=fingerprint:` of an SDP (session or media level).
pub(super) fn fingerprint_of(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=fingerprint:"))
        .map(|f| f.trim().to_ascii_lowercase())
}

impl Participant {
    /// A connection for `peer`, answering `offer`; reachable as `reach` says (ICE-lite: the
    /// page finds us there, we never look for it).
    pub fn answer(
        peer: PeerId,
        room: RoomId,
        reach: &Reach,
        offer: SdpOffer,
        estimate: bool,
        now: Instant,
    ) -> Result<(Self, SdpAnswer), str0m::RtcError> {
        let mut builder = Rtc::builder()
            .set_ice_lite(true)
            // VP8 is what every browser sends with simulcast; Opus for audio.
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .set_stats_interval(Some(Duration::from_secs(1)));
        if estimate {
            builder = builder.enable_bwe(Some(START_BITRATE));
        }
        let mut rtc = builder.build(now);
        for candidate in reach.candidates() {
            rtc.add_local_candidate(candidate);
        }
        let answer = rtc.sdp_api().accept_offer(offer)?;
        if estimate {
            rtc.bwe()
                .set_bitrate(Bitrate::bps(MIN_BITRATE), Bitrate::bps(MIN_DESIRED));
        }
        let participant = Self {
            peer,
            room,
            rtc,
            pending: None,
            tracks_in: Vec::new(),
            tracks_out: Vec::new(),
            wants: HashMap::new(),
            window: (now, 0),
            warned: None,
            fingerprint: None,
            restart_ice: false,
            consent: Consent::default(),
            ice: None,
            local_ufrag: None,
            idle_until: None,
            handshake_dest: None,
            bandwidth: None,
            forwarded: 0,
            last_counts: None,
            lossy: false,
            estimator_targets: (MIN_BITRATE, MIN_DESIRED),
            opened: now,
        };
        Ok((participant, answer))
    }

    /// A renegotiation offered by the page: answered, unless our own offer is in flight (then
    /// the page's is ignored: it rolls back, answers ours, and offers again).
    pub fn page_offers(&mut self, offer: SdpOffer) -> Result<Option<SdpAnswer>, str0m::RtcError> {
        self.idle_until = None;
        if self.pending.is_some() {
            return Ok(None);
        }
        let page = offer.to_sdp_string();
        let answer = self.rtc.sdp_api().accept_offer(offer)?;
        self.learn_ice(&page, &answer.to_sdp_string());
        Ok(Some(answer))
    }

    /// Notes both sides' ICE credentials from a negotiation (an ICE restart changes them).
    pub fn learn_ice(&mut self, page: &str, ours: &str) {
        if let Some(credentials) = ice_credentials(page) {
            self.ice = Some(credentials);
        }
        if let Some((ufrag, _)) = ice_credentials(ours) {
            self.local_ufrag = Some(ufrag);
        }
    }

    /// The page's answer to our offer.
    pub fn page_answers(&mut self, answer: SdpAnswer) -> Result<(), str0m::RtcError> {
        self.idle_until = None;
        let Some(pending) = self.pending.take() else {
            tracing::debug!(peer = %self.peer, "an answer came with no offer of ours pending: ignored");
            return Ok(());
        };
        tracing::debug!(peer = %self.peer, "the page answered our offer");
        let page = answer.to_sdp_string();
        self.rtc.sdp_api().accept_answer(pending, answer)?;
        if let Some(credentials) = ice_credentials(&page) {
            self.ice = Some(credentials);
        }
        for track in &mut self.tracks_out {
            match track.state {
                OutState::Negotiating(mid) | OutState::Resuming(mid) => {
                    track.state = OutState::Open(mid)
                }
                OutState::Pausing(mid) => track.state = OutState::Idle(mid),
                _ => {}
            }
        }
        self.tracks_out
            .retain(|t| !matches!(t.state, OutState::Stopping(_)));
        Ok(())
    }

    /// Counts `bytes` received from the page now; false once the page is over `cap` bits per
    /// second in the current second (the frame is then not forwarded).
    pub fn within_bitrate(&mut self, bytes: usize, cap: u64, now: Instant) -> bool {
        if now.saturating_duration_since(self.window.0) >= Duration::from_secs(1) {
            self.window = (now, 0);
        }
        self.window.1 += bytes as u64;
        self.window.1 * 8 <= cap
    }

    /// Whether to tell the page again that it sends over the cap (at most every 10 s).
    pub fn may_warn_over_cap(&mut self, now: Instant) -> bool {
        let due = self
            .warned
            .is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(10));
        if due {
            self.warned = Some(now);
        }
        due
    }

    /// The qualities the page asks of the streams it receives. Only streams it does receive are
    /// kept, so what a page can make the server hold is bounded by its tracks, however many
    /// `sfu-want`s it sends.
    pub fn want(&mut self, wants: BTreeMap<StreamId, Quality>) {
        for (stream, quality) in wants {
            let receives = self
                .tracks_out
                .iter()
                .any(|t| t.stream_id == stream.as_str());
            if receives {
                let before = self.wants.insert(stream.as_str().to_owned(), quality);
                if before != Some(quality) {
                    tracing::debug!(peer = %self.peer, stream = stream.as_str(), ?quality, "the page wants a stream at a new quality");
                }
            }
        }
    }

    /// Starts sending `origin`'s track to this page (negotiated on the next `offer`).
    pub fn add_track(&mut self, origin: PeerId, track: &TrackIn) {
        self.idle_until = None;
        let exists = self
            .tracks_out
            .iter()
            .any(|t| t.origin == origin && t.origin_mid == track.mid);
        let stream_id = format!("{origin}{}", track.stream_id);
        // A new track of a stream whose last track ended (the next screen share): its m-line
        // is taken again.
        let idle = self.tracks_out.iter_mut().find(|t| {
            t.origin == origin
                && t.kind == track.kind
                && t.stream_id == stream_id
                && matches!(t.state, OutState::ToPause(_) | OutState::Idle(_))
        });
        if !exists && let Some(out) = idle {
            out.origin_mid = track.mid;
            out.layer = None;
            out.next_layer = None;
            out.state = match out.state {
                OutState::ToPause(m) => OutState::Open(m),
                OutState::Idle(m) => OutState::ToResume(m),
                other => other,
            };
            return;
        }
        if !exists {
            self.tracks_out.push(TrackOut {
                origin,
                origin_mid: track.mid,
                kind: track.kind,
                stream_id: format!("{origin}{}", track.stream_id),
                state: OutState::ToOpen,
                layer: None,
                next_layer: None,
                timeline: Timeline::default(),
            });
        }
    }

    /// Stops sending every track of `origin` (gone, or its track ended).
    pub fn remove_tracks_of(&mut self, origin: PeerId, mid: Option<Mid>) {
        self.idle_until = None;
        let ending = |t: &TrackOut| t.origin == origin && mid.is_none_or(|m| m == t.origin_mid);
        let gone: Vec<String> = self
            .tracks_out
            .iter()
            .filter(|t| ending(t))
            .map(|t| t.stream_id.clone())
            .collect();
        self.wants.retain(|stream, _| !gone.contains(stream));
        self.tracks_out.retain_mut(|t| {
            if t.origin != origin || mid.is_some_and(|m| m != t.origin_mid) {
                return true;
            }
            match (t.state, mid) {
                (OutState::ToOpen, _) => false,
                // Only this track ended: its m-line waits for the stream's next track.
                (OutState::Open(m) | OutState::Resuming(m) | OutState::ToResume(m), Some(_)) => {
                    t.state = OutState::ToPause(m);
                    true
                }
                (
                    OutState::Negotiating(m)
                    | OutState::Open(m)
                    | OutState::ToPause(m)
                    | OutState::Pausing(m)
                    | OutState::Idle(m)
                    | OutState::ToResume(m)
                    | OutState::Resuming(m),
                    _,
                ) => {
                    t.state = OutState::ToStop(m);
                    true
                }
                (OutState::ToStop(_) | OutState::Stopping(_), _) => true,
            }
        });
    }

    /// The server's addresses are now `reach`: they become candidates, and the next offer
    /// restarts ICE so that the page finds them (the old ones may be gone).
    pub fn new_addresses(&mut self, reach: &Reach) {
        self.idle_until = None;
        for candidate in reach.candidates() {
            self.rtc.add_local_candidate(candidate);
        }
        self.restart_ice = true;
    }

    /// An offer adding and stopping tracks, or restarting ICE, if any is due and none is in
    /// flight.
    pub fn offer(&mut self) -> Option<SdpOffer> {
        let changed = self.tracks_out.iter().any(|t| {
            matches!(
                t.state,
                OutState::ToOpen
                    | OutState::ToStop(_)
                    | OutState::ToPause(_)
                    | OutState::ToResume(_)
            )
        });
        if self.pending.is_some() || !(changed || self.restart_ice) {
            return None;
        }
        let mut change = self.rtc.sdp_api();
        if std::mem::take(&mut self.restart_ice) {
            change.ice_restart(true);
        }
        for track in &mut self.tracks_out {
            match track.state {
                OutState::ToOpen => {
                    let mid = change.add_media(
                        track.kind,
                        Direction::SendOnly,
                        Some(track.stream_id.clone()),
                        Some(format!("{}{}", track.origin, track.origin_mid)),
                        None,
                    );
                    track.state = OutState::Negotiating(mid);
                }
                OutState::ToStop(mid) => {
                    change.stop_media(mid);
                    track.state = OutState::Stopping(mid);
                }
                OutState::ToPause(mid) => {
                    change.set_direction(mid, Direction::Inactive);
                    track.state = OutState::Pausing(mid);
                }
                OutState::ToResume(mid) => {
                    change.set_direction(mid, Direction::SendOnly);
                    track.state = OutState::Resuming(mid);
                }
                _ => {}
            }
        }
        if !change.has_changes() {
            return None;
        }
        let (offer, pending) = change.apply()?;
        self.pending = Some(pending);
        tracing::debug!(peer = %self.peer, tracks = self.tracks_out.len(), "offered the page a renegotiation");
        if let Some((ufrag, _)) = ice_credentials(&offer.to_sdp_string()) {
            self.local_ufrag = Some(ufrag);
        }
        Some(offer)
    }

    /// After a page's offer was answered, our half-negotiated changes are redone.
    pub fn renegotiate_later(&mut self) {
        self.idle_until = None;
        for track in &mut self.tracks_out {
            match track.state {
                OutState::Negotiating(_) => track.state = OutState::ToOpen,
                OutState::Stopping(mid) => track.state = OutState::ToStop(mid),
                OutState::Pausing(mid) => track.state = OutState::ToPause(mid),
                OutState::Resuming(mid) => track.state = OutState::ToResume(mid),
                _ => {}
            }
        }
    }

    /// Chooses the layer of every video this page receives, given what each sender sends
    /// (by origin and mid). Returns the layers whose keyframe is now awaited, to be asked of
    /// their senders: a switch happens only on a keyframe.
    pub fn choose_layers(
        &mut self,
        pressure: bool,
        sent: &HashMap<(PeerId, Mid), SentLayers>,
    ) -> Vec<(PeerId, Mid, Option<Rid>)> {
        self.idle_until = None;
        let videos: Vec<(usize, &SentLayers)> = self
            .tracks_out
            .iter()
            .enumerate()
            .filter(|(_, t)| t.kind == MediaKind::Video && matches!(t.state, OutState::Open(_)))
            .filter_map(|(i, t)| Some((i, sent.get(&(t.origin, t.origin_mid))?)))
            // A sender that paused (a busy machine): keep what is forwarded, and switch nothing,
            // so that its video resumes without waiting for a keyframe.
            .filter(|(_, layers)| !layers.is_empty())
            .collect();
        let wants: Vec<VideoWant> = videos
            .iter()
            .map(|(i, layers)| VideoWant {
                wanted: self
                    .wants
                    .get(&self.tracks_out[*i].stream_id)
                    .copied()
                    .unwrap_or(Quality::Medium),
                sent: layers.iter().map(|(_, l)| *l).collect(),
            })
            .collect();
        let audio = self
            .tracks_out
            .iter()
            .filter(|t| t.kind == MediaKind::Audio)
            .count() as u64;
        // Audio goes to everyone whatever the estimate; video shares what is left.
        let budget = self
            .bandwidth
            .map(|b| b.saturating_sub(audio * AUDIO_BITRATE));
        let chosen = allocate(budget, pressure || self.lossy, &wants);
        let (sustain, desired) = estimator_targets(&wants, &chosen);
        let targets = (
            (sustain + audio * AUDIO_BITRATE).max(MIN_BITRATE),
            (desired + audio * AUDIO_BITRATE).max(MIN_DESIRED),
        );
        if targets != self.estimator_targets {
            tracing::trace!(peer = %self.peer, ?budget, ?targets, videos = wants.len(), forwarded = chosen.iter().flatten().count(), "estimator targets");
            self.estimator_targets = targets;
            self.rtc
                .bwe()
                .set_bitrate(Bitrate::bps(targets.0), Bitrate::bps(targets.1));
        }
        let mut keyframes = Vec::new();
        for ((i, layers), quality) in videos.into_iter().zip(chosen) {
            let out = &mut self.tracks_out[i];
            let target = quality.and_then(|q| {
                layers
                    .iter()
                    .find(|(_, l)| l.quality == q)
                    .map(|(rid, _)| *rid)
            });
            match target {
                None => {
                    out.layer = None;
                    out.next_layer = None;
                }
                Some(rid) if out.layer != Some(rid) && out.next_layer != Some(rid) => {
                    tracing::debug!(peer = %self.peer, origin = %out.origin, from = ?out.layer, to = ?rid, "layer switch asked");
                    out.next_layer = Some(rid);
                    keyframes.push((out.origin, out.origin_mid, rid));
                }
                // Still waiting for that layer's keyframe: ask again (a request can be lost, or
                // arrive while the sender is busy).
                Some(rid) if out.next_layer == Some(rid) => {
                    keyframes.push((out.origin, out.origin_mid, rid));
                }
                Some(_) => {}
            }
        }
        keyframes
    }
}
