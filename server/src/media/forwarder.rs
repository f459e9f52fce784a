//! The forwarder: every participant's connection, and the routing between them. Without I/O
//! (str0m's way): datagrams, the core's media changes and the clock go in; datagrams to send and
//! replies for pages come out through [`Io`]. Media goes only between members of one room; a
//! member who leaves stops receiving at once (its connection is dropped with its membership).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{KeyframeRequestKind, MediaData, MediaKind, Mid, Rid};
use str0m::net::{Protocol, Receive};
use str0m::{Event, IceConnectionState, Input, Output};

use super::layers::quality_of;
use super::participant::{OutState, Participant, Reach, SentLayers, TrackIn, fingerprint_of};
use super::stats::{MediaStats, ParticipantStats};
use super::stun::{binding_request, is_stun};
use crate::config::MediaConfig;
use crate::metrics::{MediaDrop, Metrics, RefusalKind};
use crate::rooms::MediaChange;
use crate::wire::{ErrorCode, ErrorReply, PeerId, Quality, RoomId, SfuReply, SfuRequest};

/// The most timeouts one connection is given in one poll because they are already due: enough
/// for every packet a receiver's pacer releases in a few milliseconds.
const MAX_DUE_TIMEOUTS: usize = 256;
/// A timeout this close counts as due: str0m asks for the next paced packet 1 µs on.
const DUE: Duration = Duration::from_micros(10);

/// How often one sender is asked for a keyframe of one layer, at most.
const KEYFRAME_REQUEST_GAP: Duration = Duration::from_millis(300);

/// How many m-lines of an SDP offer its author sends on (`sendonly` or `sendrecv`, not
/// stopped): the tracks a page would make the server take in.
fn sending_m_lines(sdp: &str) -> usize {
    sdp.split("\nm=")
        .skip(1)
        .filter(|section| {
            let stopped = section.split_whitespace().nth(1) == Some("0");
            let sends = section
                .lines()
                .any(|l| matches!(l.trim(), "a=sendonly" | "a=sendrecv"));
            sends && !stopped
        })
        .count()
}

/// The PRIORITY of our consent checks (a host candidate's, RFC 8445's formula).
const CONSENT_PRIORITY: u32 = 0x7e00_00ff;

/// What the forwarder asks of the world.
pub(super) trait Io {
    /// Sends a datagram from one of our addresses (UDP), or a frame on the TCP connection from
    /// `to` (ICE over TCP).
    fn transmit(&mut self, proto: Protocol, from: SocketAddr, to: SocketAddr, data: &[u8]);
    /// Tells a page something about its connection (over its signaling connection).
    fn tell(&mut self, peer: PeerId, reply: SfuReply);
    /// Tells a page what it did wrong (an `error`): over a limit.
    fn warn(&mut self, peer: PeerId, error: ErrorReply);
}

/// What one participant's connection produced that concerns the others of its room, taken out
/// of the connection first and applied after (str0m's chat example does the same): while one
/// connection is being polled, no other may be written to.
// `Media` is large (str0m's MediaData) and the others small; they live only in one Vec per
// pass, and boxing would allocate once per frame.
#[allow(clippy::large_enum_variant)]
enum Propagated {
    /// The page sends a new track (by its index in the page's tracks): it goes to the others.
    TrackOpened(PeerId, usize),
    /// The page stopped sending a track (a screen share ended).
    TrackEnded(PeerId, Mid),
    /// The first media on a simulcast layer: receivers' layers are chosen again.
    NewLayer,
    /// A frame or audio packet, to forward to the others.
    Media(PeerId, MediaData),
    /// A sender is to send a keyframe of one layer (a receiver lost a picture, or we did).
    Keyframe {
        origin: PeerId,
        mid: Mid,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
    },
    /// The connection ended or failed.
    Gone(PeerId),
}

/// Every participant and the rules between them.
pub(super) struct Forwarder {
    /// Members of SFU rooms, as the core opened them (a connection comes with the first offer).
    members: HashMap<PeerId, RoomId>,
    participants: HashMap<PeerId, Participant>,
    /// Which participant a remote address belongs to, once it has talked to us.
    by_source: HashMap<SocketAddr, PeerId>,
    /// Where pages reach us: given to every page as its candidates.
    reach: Reach,
    /// The most bits per second sent in total before receivers get lower layers.
    max_bitrate: u64,
    /// Per page: most tracks sent, most bits per second sent.
    max_tracks_in: usize,
    max_bitrate_in: u64,
    /// Whether receivers' bandwidth is estimated (and what they are sent paced).
    estimate: bool,
    /// Over the total budget (with hysteresis): every receiver a step lower.
    pressure: bool,
    metrics: Arc<Metrics>,
    stats: MediaStats,
    last_layers: Option<Instant>,
    /// Which worker this is: the first byte of its consent questions, so that their answers
    /// come back to it.
    worker: u8,
    /// Tests: when each frame reached the forwarder, and on which layer.
    #[cfg(test)]
    pub arrivals: Vec<(Instant, Option<str0m::media::Rid>)>,
}

impl Forwarder {
    pub fn new(
        candidates: Vec<SocketAddr>,
        tcp_port: Option<u16>,
        config: &MediaConfig,
        metrics: Arc<Metrics>,
        stats: MediaStats,
    ) -> Self {
        Self {
            members: HashMap::new(),
            participants: HashMap::new(),
            by_source: HashMap::new(),
            reach: Reach {
                addrs: candidates,
                tcp_port,
                public: config.public_address,
            },
            max_bitrate: config.max_bitrate,
            max_tracks_in: config.max_tracks_in,
            max_bitrate_in: config.max_bitrate_in,
            estimate: config.estimate,
            pressure: false,
            metrics,
            stats,
            last_layers: None,
            worker: 0,
            #[cfg(test)]
            arrivals: Vec::new(),
        }
    }

    /// The forwarder of worker `index` (see placement.rs).
    pub fn for_worker(mut self, index: u8) -> Self {
        self.worker = index;
        self
    }

    /// Work from the core: a member opened or closed, or something a page said.
    pub fn change(&mut self, change: MediaChange, now: Instant, io: &mut impl Io) {
        match change {
            MediaChange::Open { peer, room } => {
                self.members.insert(peer, room);
            }
            MediaChange::Close { peer } => {
                self.members.remove(&peer);
                self.drop_participant(peer, None, io);
            }
            MediaChange::Request { peer, request } => {
                let Some(room) = self.members.get(&peer).cloned() else {
                    return; // closed meanwhile
                };
                match request {
                    SfuRequest::Offer(sdp) => self.offer(peer, room, &sdp, now, io),
                    SfuRequest::Answer(sdp) => self.answer(peer, &sdp, io),
                    SfuRequest::Want(wants) => {
                        if let Some(p) = self.participants.get_mut(&peer) {
                            p.want(wants);
                            self.last_layers = None; // choose again at the next poll
                        }
                    }
                }
            }
        }
    }

    fn offer(&mut self, peer: PeerId, room: RoomId, sdp: &str, now: Instant, io: &mut impl Io) {
        let sending = sending_m_lines(sdp);
        if sending > self.max_tracks_in {
            let why = format!(
                "the offer sends {sending} tracks, over the server's limit of {} (--media-max-tracks): not connected",
                self.max_tracks_in
            );
            self.metrics.refused(RefusalKind::media);
            io.warn(peer, ErrorReply::new(ErrorCode::MediaRefused, why.clone()));
            io.tell(peer, SfuReply::Failed(why));
            return;
        }
        // A new connection from the same page (it reloaded or started over) brings a new
        // DTLS fingerprint: the old participant goes, whatever str0m would make of the offer.
        let fingerprint = fingerprint_of(sdp);
        if self
            .participants
            .get(&peer)
            .is_some_and(|p| p.fingerprint != fingerprint)
        {
            self.drop_participant(peer, None, io);
        }
        let parse = || SdpOffer::from_sdp_string(sdp);
        let offer = match parse() {
            Ok(offer) => offer,
            Err(error) => {
                io.tell(
                    peer,
                    SfuReply::Failed(format!("the offer could not be read: {error}")),
                );
                return;
            }
        };
        let offer = match self.participants.get_mut(&peer) {
            None => offer,
            Some(p) => match p.page_offers(offer) {
                Ok(Some(answer)) => {
                    p.renegotiate_later();
                    io.tell(peer, SfuReply::Answer(answer.to_sdp_string()));
                    return;
                }
                Ok(None) => {
                    // Ours is in flight: the page answers it and offers again.
                    tracing::debug!(peer = %peer, "the page's offer crossed ours: ours goes on");
                    return;
                }
                // A new connection from the same page (it reloaded or started over): the old
                // one goes, this one is answered afresh.
                Err(_) => {
                    self.drop_participant(peer, None, io);
                    match parse() {
                        Ok(offer) => offer,
                        Err(_) => return,
                    }
                }
            },
        };
        match Participant::answer(peer, room.clone(), &self.reach, offer, self.estimate, now) {
            Ok((mut p, answer)) => {
                p.fingerprint = fingerprint;
                p.learn_ice(sdp, &answer.to_sdp_string());
                io.tell(peer, SfuReply::Answer(answer.to_sdp_string()));
                // Everyone already here: their tracks go to the newcomer.
                for other in self.participants.values().filter(|o| o.room == room) {
                    for track in &other.tracks_in {
                        p.add_track(other.peer, track);
                    }
                }
                log_private!(info, [peer = %peer,], [room = %room,], [], "media connection opened");
                if self.participants.insert(peer, p).is_none() {
                    self.metrics.media_participant_counted(true);
                }
            }
            Err(error) => {
                io.tell(
                    peer,
                    SfuReply::Failed(format!("the offer was refused: {error}")),
                );
            }
        }
    }

    fn answer(&mut self, peer: PeerId, sdp: &str, io: &mut impl Io) {
        let Some(p) = self.participants.get_mut(&peer) else {
            return;
        };
        let answer = match SdpAnswer::from_sdp_string(sdp) {
            Ok(answer) => answer,
            Err(error) => {
                io.tell(
                    peer,
                    SfuReply::Failed(format!("the answer could not be read: {error}")),
                );
                return;
            }
        };
        if let Err(error) = p.page_answers(answer) {
            // The connection is in no state to go on: the page starts over with a new one.
            let why = format!("the answer was refused: {error}");
            self.drop_participant(peer, Some(&why), io);
        }
    }

    /// Removes a participant; the others stop receiving its tracks, and the page is told why
    /// when `why` is given (its connection failed while it is still in the room).
    fn drop_participant(&mut self, peer: PeerId, why: Option<&str>, io: &mut impl Io) {
        let Some(mut gone) = self.participants.remove(&peer) else {
            return;
        };
        gone.rtc.disconnect();
        self.by_source.retain(|_, p| *p != peer);
        for other in self
            .participants
            .values_mut()
            .filter(|o| o.room == gone.room)
        {
            other.remove_tracks_of(peer, None);
        }
        self.stats.remove(peer);
        self.metrics.media_participant_counted(false);
        if let Some(why) = why {
            tracing::info!(peer = %peer, why, "media connection lost");
            io.tell(peer, SfuReply::Failed(why.to_owned()));
        } else {
            tracing::info!(peer = %peer, "media connection closed");
        }
    }

    /// A datagram on one of our sockets. True if a connection took it: then [`Self::poll`] has
    /// work to do; a dropped one (garbage, or nobody's) costs nothing more.
    #[cfg(test)]
    pub fn datagram(
        &mut self,
        local: SocketAddr,
        source: SocketAddr,
        data: &[u8],
        now: Instant,
    ) -> bool {
        self.receive(Protocol::Udp, local, source, data, now)
    }

    /// A datagram (UDP) or an RFC 4571 frame (ICE over TCP) from `source` to our `local`. True
    /// if a connection took it.
    pub fn receive(
        &mut self,
        proto: Protocol,
        local: SocketAddr,
        source: SocketAddr,
        data: &[u8],
        now: Instant,
    ) -> bool {
        // The answer to one of our consent questions is ours, not a connection's.
        if is_stun(data)
            && self
                .participants
                .values_mut()
                .any(|p| p.consent.answered(source, data))
        {
            return true;
        }
        let Ok(contents) = data.try_into() else {
            self.metrics.media_dropped(MediaDrop::garbage);
            return false;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto,
                source,
                destination: local,
                contents,
            },
        );
        let known = self.by_source.get(&source).copied().filter(|peer| {
            self.participants
                .get(peer)
                .is_some_and(|p| p.rtc.accepts(&input))
        });
        let peer = known.or_else(|| {
            self.participants
                .values()
                .find(|p| p.rtc.accepts(&input))
                .map(|p| p.peer)
        });
        let Some(peer) = peer else {
            self.metrics.media_dropped(MediaDrop::unknown);
            return false;
        };
        self.by_source.insert(source, peer);
        let Some(p) = self.participants.get_mut(&peer) else {
            return false;
        };
        p.idle_until = None;
        if let Err(error) = p.rtc.handle_input(input) {
            // A malformed or unauthenticated packet: counted and dropped, never fatal.
            tracing::debug!(peer = %peer, %error, "media input refused");
            self.metrics.media_dropped(MediaDrop::malformed);
            return false;
        }
        true
    }

    /// Time passes for every connection that is due.
    pub fn timeout(&mut self, now: Instant) {
        for p in self.participants.values_mut() {
            if p.idle_until.is_some_and(|at| at > now + DUE) {
                continue;
            }
            p.idle_until = None;
            if let Err(error) = p.rtc.handle_input(Input::Timeout(now)) {
                tracing::debug!(peer = %p.peer, %error, "media timeout handling failed");
            }
        }
    }

    /// Drives every connection until each waits for time or input: sends what they send,
    /// forwards what they receive, negotiates what changed. Returns when to be called again.
    pub fn poll(&mut self, now: Instant, io: &mut impl Io) -> Instant {
        self.choose_layers_and_tell(now, io);
        let mut next = now + Duration::from_millis(500);
        loop {
            let mut propagated: Vec<Propagated> = Vec::new();
            for p in self.participants.values_mut() {
                if let Some(at) = p.idle_until.filter(|at| *at > now + DUE) {
                    next = next.min(at);
                    continue;
                }
                if let Some(offer) = p.offer() {
                    io.tell(p.peer, SfuReply::Offer(offer.to_sdp_string()));
                }
                // str0m's pacer releases one packet per timeout it is given, asking for the next
                // at once: those are handled here, not by a trip through the event loop (whose
                // timer would release one packet per millisecond, below what a receiver of many
                // videos needs). Only while they release packets, and bounded: a connection
                // can ask for an immediate timeout with nothing to send.
                let mut due_timeouts = 0;
                let mut sent_since_timeout = false;
                loop {
                    if !p.rtc.is_alive() {
                        propagated.push(Propagated::Gone(p.peer));
                        break;
                    }
                    let output = match p.rtc.poll_output() {
                        Ok(output) => output,
                        Err(error) => {
                            tracing::debug!(peer = %p.peer, %error, "media connection failed");
                            propagated.push(Propagated::Gone(p.peer));
                            break;
                        }
                    };
                    match output {
                        Output::Timeout(at)
                            if at <= now + DUE
                                && due_timeouts < MAX_DUE_TIMEOUTS
                                && (due_timeouts == 0 || sent_since_timeout) =>
                        {
                            due_timeouts += 1;
                            sent_since_timeout = false;
                            if let Err(error) = p.rtc.handle_input(Input::Timeout(at.max(now))) {
                                tracing::debug!(peer = %p.peer, %error, "media timeout handling failed");
                            }
                        }
                        Output::Timeout(at) => {
                            next = next.min(at);
                            p.idle_until = Some(at);
                            break;
                        }
                        Output::Transmit(t) => {
                            sent_since_timeout = true;
                            let stun = is_stun(&t.contents);
                            if stun || !p.consent.settled() {
                                if !stun {
                                    p.handshake_dest = Some(t.destination);
                                }
                                io.transmit(t.proto, t.source, t.destination, &t.contents);
                            } else if p.consent.allows(t.destination) {
                                io.transmit(t.proto, t.source, t.destination, &t.contents);
                            } else {
                                // Media to an address that has not shown it wants it: held
                                // back, and the address asked (see consent.rs).
                                self.metrics.media_dropped(MediaDrop::unconsented);
                                if let (Some((ufrag, pwd)), Some(ours)) = (&p.ice, &p.local_ufrag)
                                    && let Some(id) = p.consent.ask(t.destination, self.worker, now)
                                {
                                    tracing::info!(peer = %p.peer, to = %t.destination, "media asked to go to a new address: asking it for consent first");
                                    let username = format!("{ufrag}:{ours}");
                                    let request = binding_request(
                                        id,
                                        &username,
                                        pwd,
                                        false,
                                        false,
                                        CONSENT_PRIORITY,
                                    );
                                    io.transmit(t.proto, t.source, t.destination, &request);
                                }
                            }
                        }
                        Output::Event(event) => match event {
                            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                                propagated.push(Propagated::Gone(p.peer));
                                break;
                            }
                            Event::MediaAdded(added) => {
                                if !added.direction.is_receiving() {
                                    continue; // a receive-only slot of the page's: nothing to forward
                                }
                                let Some(media) = p.rtc.media(added.mid) else {
                                    continue;
                                };
                                p.tracks_in.push(TrackIn {
                                    mid: added.mid,
                                    kind: added.kind,
                                    stream_id: media.stream_id().to_owned(),
                                    layers: Vec::new(),
                                    keyframe_asked: Vec::new(),
                                    hinted: None,
                                });
                                propagated
                                    .push(Propagated::TrackOpened(p.peer, p.tracks_in.len() - 1));
                            }
                            Event::MediaChanged(changed) if !changed.direction.is_receiving() => {
                                // The page stopped sending a track (a screen share ended).
                                if let Some(i) =
                                    p.tracks_in.iter().position(|t| t.mid == changed.mid)
                                {
                                    p.tracks_in.remove(i);
                                    propagated.push(Propagated::TrackEnded(p.peer, changed.mid));
                                }
                            }
                            Event::Connected => {
                                // The DTLS handshake completed there: a path both ways.
                                if let Some(dest) = p.handshake_dest {
                                    p.consent.grant(dest);
                                }
                                tracing::info!(peer = %p.peer, after_ms = now.saturating_duration_since(p.opened).as_millis() as u64, "media connected (ICE and DTLS done)");
                            }
                            Event::MediaData(data) => {
                                #[cfg(test)]
                                self.arrivals.push((now, data.rid));
                                if !p.within_bitrate(data.data.len(), self.max_bitrate_in, now) {
                                    self.metrics.media_over_cap();
                                    if p.may_warn_over_cap(now) {
                                        io.warn(p.peer, ErrorReply::new(ErrorCode::MediaOverBitrate, format!("you send more than the server's limit of {} kbit/s (--media-max-bitrate-in): your video is not forwarded in full; lower its quality", self.max_bitrate_in / 1000)));
                                    }
                                    continue;
                                }
                                let mut video = false;
                                if let Some(track) =
                                    p.tracks_in.iter_mut().find(|t| t.mid == data.mid)
                                {
                                    let new_layer = track.saw(data.rid, data.data.len(), now);
                                    if new_layer {
                                        tracing::debug!(peer = %p.peer, mid = %data.mid, rid = ?data.rid, after_ms = now.saturating_duration_since(p.opened).as_millis() as u64, "first media on a layer");
                                    }
                                    if new_layer {
                                        propagated.push(Propagated::NewLayer);
                                    }
                                    video = track.kind == MediaKind::Video;
                                }
                                if !data.contiguous && video {
                                    propagated.push(Propagated::Keyframe {
                                        origin: p.peer,
                                        mid: data.mid,
                                        rid: data.rid,
                                        kind: KeyframeRequestKind::Pli,
                                    });
                                }
                                propagated.push(Propagated::Media(p.peer, data));
                            }
                            Event::KeyframeRequest(request) => {
                                // The page lost a picture: ask its sender for a keyframe of the
                                // layer we forward.
                                if let Some(out) =
                                    p.tracks_out.iter().find(|t| t.mid() == Some(request.mid))
                                {
                                    propagated.push(Propagated::Keyframe {
                                        origin: out.origin,
                                        mid: out.origin_mid,
                                        rid: out.layer.flatten(),
                                        kind: request.kind,
                                    });
                                }
                            }
                            Event::EgressBitrateEstimate(str0m::bwe::BweKind::Twcc {
                                estimate,
                                ..
                            }) => {
                                tracing::trace!(peer = %p.peer, %estimate, "bandwidth estimate");
                                p.bandwidth = Some(estimate.as_u64());
                            }
                            Event::PeerStats(peer_stats) => {
                                record_stats(p, &peer_stats, &self.stats, &self.metrics)
                            }
                            _ => {}
                        },
                    }
                }
            }
            // What each connection produced is applied only now, in the order it came, once
            // no connection is borrowed: it changes others' connections.
            if propagated.is_empty() {
                return next;
            }
            let mut layers_chosen = false;
            for item in propagated {
                match item {
                    Propagated::TrackOpened(origin, index) => self.announce_track(origin, index),
                    Propagated::TrackEnded(origin, mid) => self.end_track(origin, mid),
                    // Receivers may take the new layer from this very frame on.
                    Propagated::NewLayer if !layers_chosen => {
                        layers_chosen = true;
                        self.last_layers = None;
                        self.choose_layers_and_tell(now, io);
                    }
                    Propagated::NewLayer => {}
                    Propagated::Media(origin, data) => self.forward(origin, &data),
                    Propagated::Keyframe {
                        origin,
                        mid,
                        rid,
                        kind,
                    } => self.request_keyframe(origin, mid, rid, kind, now),
                    Propagated::Gone(peer) => self.drop_participant(
                        peer,
                        Some("the media connection to the server was lost"),
                        io,
                    ),
                }
            }
        }
    }

    /// Our addresses changed (a new network, a DHCP lease, the LAN coming up after start):
    /// they are the candidates from now on, and every page is offered them with an ICE
    /// restart. False when nothing changed.
    pub fn set_addresses(&mut self, addrs: Vec<SocketAddr>) -> bool {
        if addrs == self.reach.addrs {
            return false;
        }
        self.reach.addrs = addrs;
        for p in self.participants.values_mut() {
            p.new_addresses(&self.reach);
        }
        true
    }

    /// `origin` stopped sending one track (a screen share ended): every other member of its
    /// room stops receiving it (the m-line is stopped in the next offer to each).
    fn end_track(&mut self, origin: PeerId, mid: Mid) {
        let Some(room) = self.participants.get(&origin).map(|p| p.room.clone()) else {
            return;
        };
        for other in self
            .participants
            .values_mut()
            .filter(|o| o.room == room && o.peer != origin)
        {
            other.remove_tracks_of(origin, Some(mid));
        }
        self.last_layers = None;
    }

    /// How many stream wants a page's connection holds (tests: bounded by what it receives).
    #[cfg(test)]
    pub fn wants_held(&self, peer: PeerId) -> usize {
        self.participants.get(&peer).map_or(0, |p| p.wants.len())
    }

    /// A new track of `origin` goes to every other member of its room.
    fn announce_track(&mut self, origin: PeerId, index: usize) {
        let Some(p) = self.participants.get(&origin) else {
            return;
        };
        let room = p.room.clone();
        let Some(track) = p.tracks_in.get(index) else {
            return;
        };
        let track = TrackIn {
            mid: track.mid,
            kind: track.kind,
            stream_id: track.stream_id.clone(),
            layers: Vec::new(),
            keyframe_asked: Vec::new(),
            hinted: None,
        };
        for other in self
            .participants
            .values_mut()
            .filter(|o| o.room == room && o.peer != origin)
        {
            other.add_track(origin, &track);
        }
        self.last_layers = None;
    }

    /// Writes one frame (or audio packet) of `origin` to every member of its room that takes it.
    fn forward(&mut self, origin: PeerId, data: &MediaData) {
        let Some(room) = self.participants.get(&origin).map(|p| p.room.clone()) else {
            return;
        };
        let keyframe = data.is_keyframe();
        let (mut count, mut bytes) = (0u64, 0u64);
        for p in self
            .participants
            .values_mut()
            .filter(|p| p.room == room && p.peer != origin)
        {
            let Some(out) = p
                .tracks_out
                .iter_mut()
                .find(|t| t.origin == origin && t.origin_mid == data.mid)
            else {
                continue;
            };
            let OutState::Open(mid) = out.state else {
                continue;
            };
            if !out.forwards(data.rid, keyframe) {
                continue;
            }
            let Some(writer) = p.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                continue;
            };
            // Only a frame that is written moves the time line on.
            let time = out.timeline.rewrite(data.rid, data.time, data.network_time);
            p.idle_until = None;
            if let Err(error) = writer.write(pt, data.network_time, time, data.data.clone()) {
                tracing::debug!(peer = %p.peer, %error, "forwarding failed");
                continue;
            }
            p.forwarded += 1;
            count += 1;
            bytes += data.data.len() as u64;
        }
        self.metrics.media_forwarded(count, bytes);
    }

    fn request_keyframe(
        &mut self,
        origin: PeerId,
        mid: Mid,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
        now: Instant,
    ) {
        let Some(p) = self.participants.get_mut(&origin) else {
            return;
        };
        if let Some(track) = p.tracks_in.iter_mut().find(|t| t.mid == mid)
            && !track.may_ask_keyframe(rid, KEYFRAME_REQUEST_GAP, now)
        {
            return;
        }
        p.idle_until = None;
        if let Some(mut writer) = p.rtc.writer(mid) {
            let _ = writer.request_keyframe(rid, kind);
        }
    }

    /// Chooses the layers (unless throttled) and tells each sender what changed of the layers
    /// anyone takes.
    fn choose_layers_and_tell(&mut self, now: Instant, io: &mut impl Io) {
        if self.choose_layers(now) {
            for (sender, stream, active) in self.layer_hints() {
                io.tell(sender, SfuReply::Layers { stream, active });
            }
        }
    }

    /// Which simulcast layers of each sender's videos anyone could take now: a layer above what
    /// every receiver wants is chosen by nobody (`allocate` never picks above the want), so its
    /// sender is told it may stop encoding it; the lowest layer always stays. Only changes are
    /// returned: (sender, its own stream id, the layers to keep).
    fn layer_hints(&mut self) -> Vec<(PeerId, String, Vec<String>)> {
        let mut hints = Vec::new();
        let wanted: HashMap<(PeerId, Mid), Quality> = self
            .participants
            .values()
            .flat_map(|receiver| {
                receiver.tracks_out.iter().map(move |t| {
                    let quality = receiver
                        .wants
                        .get(&t.stream_id)
                        .copied()
                        .unwrap_or(Quality::Medium);
                    ((t.origin, t.origin_mid), quality)
                })
            })
            .fold(HashMap::new(), |mut max, (key, quality)| {
                let entry = max.entry(key).or_insert(Quality::Off);
                *entry = (*entry).max(quality);
                max
            });
        for sender in self.participants.values_mut() {
            for track in sender
                .tracks_in
                .iter_mut()
                .filter(|t| t.kind == MediaKind::Video && t.layers.len() > 1)
            {
                let ceiling = wanted
                    .get(&(sender.peer, track.mid))
                    .copied()
                    .unwrap_or(Quality::Off);
                let lowest = track
                    .layers
                    .iter()
                    .map(|l| quality_of(l.rid.as_deref()))
                    .min()
                    .unwrap_or(Quality::Low);
                let mut active: Vec<String> = track
                    .layers
                    .iter()
                    .filter_map(|l| {
                        let quality = quality_of(l.rid.as_deref());
                        (quality <= ceiling || quality == lowest)
                            .then(|| l.rid.map(|r| r.to_string()))
                            .flatten()
                    })
                    .collect();
                active.sort();
                if track.hinted.as_ref() != Some(&active) {
                    tracing::debug!(peer = %sender.peer, mid = %track.mid, ?active, "sender told which layers anyone takes");
                    track.hinted = Some(active.clone());
                    hints.push((sender.peer, track.stream_id.clone(), active));
                }
            }
        }
        hints
    }

    /// Chooses every receiver's layers, at most twice a second (or at once after a change).
    /// True when it chose (not throttled).
    fn choose_layers(&mut self, now: Instant) -> bool {
        if self
            .last_layers
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_millis(500))
        {
            return false;
        }
        self.last_layers = Some(now);
        let sent: HashMap<(PeerId, Mid), SentLayers> = self
            .participants
            .values()
            .flat_map(|p| {
                p.tracks_in
                    .iter()
                    .filter(|t| t.kind == MediaKind::Video)
                    .map(|t| ((p.peer, t.mid), t.sent(now)))
            })
            .collect();
        let total_out: u64 = self.stats.all().values().map(|s| s.bitrate_out).sum();
        // Hysteresis: on past the budget, off again below 90% of it.
        self.pressure = if self.pressure {
            total_out * 10 > self.max_bitrate * 9
        } else {
            total_out > self.max_bitrate
        };
        let mut requests = Vec::new();
        for p in self.participants.values_mut() {
            requests.extend(p.choose_layers(self.pressure, &sent));
        }
        for (origin, mid, rid) in requests {
            self.request_keyframe(origin, mid, rid, KeyframeRequestKind::Pli, now);
        }
        true
    }
}

/// Turns str0m's per-second totals into the figures observers show.
fn record_stats(
    p: &mut Participant,
    peer_stats: &str0m::stats::PeerStats,
    stats: &MediaStats,
    metrics: &Metrics,
) {
    let (now, rx, tx) = (
        peer_stats.timestamp,
        peer_stats.peer_bytes_rx,
        peer_stats.peer_bytes_tx,
    );
    let (new_rx, new_tx) = match p.last_counts {
        Some((_, last_rx, last_tx)) => (rx.saturating_sub(last_rx), tx.saturating_sub(last_tx)),
        None => (rx, tx),
    };
    let (bitrate_in, bitrate_out) = match p.last_counts {
        Some((then, last_rx, last_tx)) => {
            let secs = now.saturating_duration_since(then).as_secs_f64().max(0.001);
            (
                (rx.saturating_sub(last_rx) as f64 * 8.0 / secs) as u64,
                (tx.saturating_sub(last_tx) as f64 * 8.0 / secs) as u64,
            )
        }
        None => (0, 0),
    };
    p.last_counts = Some((now, rx, tx));
    if let Some(loss) = peer_stats.egress_loss_fraction {
        let lossy = super::layers::lossy(p.lossy, loss);
        if lossy != p.lossy {
            tracing::debug!(peer = %p.peer, loss, lossy, "receiver loss changed its layers");
            p.lossy = lossy;
        }
    }
    let figures = ParticipantStats {
        bitrate_in,
        bitrate_out,
        forwarded: p.forwarded,
        loss_in: peer_stats.ingress_loss_fraction,
        loss_out: peer_stats.egress_loss_fraction,
        estimate: p.bandwidth,
        layers: p
            .tracks_out
            .iter()
            .filter_map(|t| {
                let layer = t
                    .layer?
                    .map_or_else(|| "whole".to_owned(), |rid| rid.to_string());
                Some((t.stream_id.clone(), layer))
            })
            .collect(),
    };
    metrics.media_bytes(new_rx, new_tx);
    stats.set(p.peer, figures);
}

#[cfg(test)]
impl Forwarder {
    /// Every participant's tracks, for a failing test to show.
    pub(super) fn describe(&self) -> String {
        let mut text = String::new();
        for p in self.participants.values() {
            text += &format!(
                "{} in {}: connected {} in {:?} out {:?}\n",
                p.peer,
                p.room,
                p.rtc.is_connected(),
                p.tracks_in
                    .iter()
                    .map(|t| {
                        let layers: Vec<_> = t.layers.iter().map(|l| (l.rid, l.bitrate)).collect();
                        (t.mid, t.kind, &t.stream_id, layers)
                    })
                    .collect::<Vec<_>>(),
                p.tracks_out
                    .iter()
                    .map(|t| (t.origin, t.state, t.layer, t.next_layer))
                    .collect::<Vec<_>>()
            );
        }
        text
    }
}
