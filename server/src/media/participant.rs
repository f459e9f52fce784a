//! One page's connection to the forwarder: its str0m `Rtc`, the tracks it sends us (`TrackIn`),
//! the tracks we send it (`TrackOut`, one per track of every other member of its room), and the
//! SDP renegotiations that add and remove those. The page offers first; after that the server
//! offers whenever others' tracks come or go, and, being the impolite side of the exchange,
//! ignores a page's offer that crosses its own (the page rolls back and answers ours).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use str0m::bwe::Bitrate;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid, Rid};
use str0m::{Candidate, Rtc};

use super::layers::{VideoWant, allocate, quality_of};
use crate::wire::{PeerId, Quality, RoomId};

/// How long a layer may go without data before it no longer counts as sent.
const LAYER_SILENCE: Duration = Duration::from_secs(3);
/// The bandwidth estimate a new connection starts from, and the most the server probes for.
const START_BITRATE: Bitrate = Bitrate::kbps(1_500);
const DESIRED_BITRATE: Bitrate = Bitrate::mbps(10);

/// A track the page sends us.
#[derive(Debug)]
pub(super) struct TrackIn {
    pub mid: Mid,
    pub kind: MediaKind,
    /// The page's own stream id for it (`msid`), which its `state` uses to name a screen.
    pub stream_id: String,
    /// Each simulcast layer seen, with when it last carried data.
    pub layers: Vec<(Option<Rid>, Instant)>,
    /// When a keyframe was last asked for, per layer.
    pub keyframe_asked: Vec<(Option<Rid>, Instant)>,
}

/// The layers of one sender's video sent lately: each with its quality.
pub(super) type SentLayers = Vec<(Quality, Option<Rid>)>;

impl TrackIn {
    /// The layers sent lately.
    pub fn sent(&self, now: Instant) -> SentLayers {
        self.layers
            .iter()
            .filter(|(_, at)| now.saturating_duration_since(*at) < LAYER_SILENCE)
            .map(|(rid, _)| (quality_of(rid.as_ref().map(|r| &**r)), *rid))
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

    /// Notes data on a layer; true if the layer is new (the layer choice must be redone).
    pub fn saw(&mut self, rid: Option<Rid>, now: Instant) -> bool {
        match self.layers.iter_mut().find(|(r, _)| *r == rid) {
            Some((_, at)) => {
                *at = now;
                false
            }
            None => {
                self.layers.push((rid, now));
                true
            }
        }
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
}

impl TrackOut {
    pub fn mid(&self) -> Option<Mid> {
        match self.state {
            OutState::ToOpen => None,
            OutState::Negotiating(m)
            | OutState::Open(m)
            | OutState::ToStop(m)
            | OutState::Stopping(m) => Some(m),
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
}

impl Participant {
    /// A connection for `peer`, answering `offer`; reachable at `candidates` (ICE-lite: the
    /// page finds us there, we never look for it).
    pub fn answer(
        peer: PeerId,
        room: RoomId,
        candidates: &[std::net::SocketAddr],
        offer: SdpOffer,
        now: Instant,
    ) -> Result<(Self, SdpAnswer), str0m::RtcError> {
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            // VP8 is what every browser sends with simulcast; Opus for audio.
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .enable_bwe(Some(START_BITRATE))
            .set_stats_interval(Some(Duration::from_secs(1)))
            .build(now);
        for &addr in candidates {
            if let Ok(candidate) = Candidate::host(addr, "udp") {
                rtc.add_local_candidate(candidate);
            }
        }
        let answer = rtc.sdp_api().accept_offer(offer)?;
        rtc.bwe().set_bitrate(Bitrate::kbps(300), DESIRED_BITRATE);
        let participant = Self {
            peer,
            room,
            rtc,
            pending: None,
            tracks_in: Vec::new(),
            tracks_out: Vec::new(),
            wants: HashMap::new(),
            bandwidth: None,
            forwarded: 0,
            last_counts: None,
        };
        Ok((participant, answer))
    }

    /// A renegotiation offered by the page: answered, unless our own offer is in flight (then
    /// the page's is ignored: it rolls back, answers ours, and offers again).
    pub fn page_offers(&mut self, offer: SdpOffer) -> Result<Option<SdpAnswer>, str0m::RtcError> {
        if self.pending.is_some() {
            return Ok(None);
        }
        let answer = self.rtc.sdp_api().accept_offer(offer)?;
        Ok(Some(answer))
    }

    /// The page's answer to our offer.
    pub fn page_answers(&mut self, answer: SdpAnswer) -> Result<(), str0m::RtcError> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        self.rtc.sdp_api().accept_answer(pending, answer)?;
        for track in &mut self.tracks_out {
            if let OutState::Negotiating(mid) = track.state {
                track.state = OutState::Open(mid);
            }
        }
        self.tracks_out
            .retain(|t| !matches!(t.state, OutState::Stopping(_)));
        Ok(())
    }

    /// Starts sending `origin`'s track to this page (negotiated on the next `offer`).
    pub fn add_track(&mut self, origin: PeerId, track: &TrackIn) {
        let exists = self
            .tracks_out
            .iter()
            .any(|t| t.origin == origin && t.origin_mid == track.mid);
        if !exists {
            self.tracks_out.push(TrackOut {
                origin,
                origin_mid: track.mid,
                kind: track.kind,
                stream_id: format!("{origin}{}", track.stream_id),
                state: OutState::ToOpen,
                layer: None,
                next_layer: None,
            });
        }
    }

    /// Stops sending every track of `origin` (gone, or its track ended).
    pub fn remove_tracks_of(&mut self, origin: PeerId, mid: Option<Mid>) {
        self.tracks_out.retain_mut(|t| {
            if t.origin != origin || mid.is_some_and(|m| m != t.origin_mid) {
                return true;
            }
            match t.state {
                OutState::ToOpen => false,
                OutState::Negotiating(m) | OutState::Open(m) => {
                    t.state = OutState::ToStop(m);
                    true
                }
                OutState::ToStop(_) | OutState::Stopping(_) => true,
            }
        });
    }

    /// An offer adding and stopping tracks, if any changed and none is in flight.
    pub fn offer(&mut self) -> Option<SdpOffer> {
        let changed = self
            .tracks_out
            .iter()
            .any(|t| matches!(t.state, OutState::ToOpen | OutState::ToStop(_)));
        if self.pending.is_some() || !changed {
            return None;
        }
        let mut change = self.rtc.sdp_api();
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
                _ => {}
            }
        }
        if !change.has_changes() {
            return None;
        }
        let (offer, pending) = change.apply()?;
        self.pending = Some(pending);
        Some(offer)
    }

    /// After a page's offer was answered, our half-negotiated changes are redone.
    pub fn renegotiate_later(&mut self) {
        for track in &mut self.tracks_out {
            match track.state {
                OutState::Negotiating(_) => track.state = OutState::ToOpen,
                OutState::Stopping(mid) => track.state = OutState::ToStop(mid),
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
                sent: layers.iter().map(|(q, _)| *q).collect(),
            })
            .collect();
        let chosen = allocate(self.bandwidth, pressure, &wants);
        let mut keyframes = Vec::new();
        for ((i, layers), quality) in videos.into_iter().zip(chosen) {
            let out = &mut self.tracks_out[i];
            let target =
                quality.and_then(|q| layers.iter().find(|(l, _)| *l == q).map(|(_, rid)| *rid));
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
