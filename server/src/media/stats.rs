//! What observers (the dashboard, `/api/rooms`, `/metrics`) can read about the forwarder: for
//! each participant its bitrates in and out, the frames forwarded to it, and loss, refreshed
//! once a second from str0m's statistics. Written by the forwarder, read by anyone.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::wire::PeerId;

/// One participant's media, as last measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantStats {
    /// Bits per second the page sends the server.
    pub bitrate_in: u64,
    /// Bits per second the server sends the page.
    pub bitrate_out: u64,
    /// Frames (video) and packets (audio) forwarded to the page since it connected.
    pub forwarded: u64,
    /// Fraction of the page's packets lost on the way in (0-1), as RTCP reports it.
    pub loss_in: Option<f32>,
    /// Fraction of the server's packets lost on the way to the page (0-1).
    pub loss_out: Option<f32>,
    /// The bandwidth estimate towards the page, in bits per second (none until str0m has one):
    /// videos that do not fit in it are sent at a lower layer, or paused.
    pub estimate: Option<u64>,
    /// The simulcast layer (`l`, `m`, `h`, or `whole` for a video sent in one size) of each
    /// video forwarded to the page now, by the stream id the page receives it under (the
    /// sender's peer id, then its own stream id); a video not forwarded now is not listed.
    pub layers: BTreeMap<String, String>,
}

/// The forwarder's figures, shared.
#[derive(Debug, Clone, Default)]
pub struct MediaStats {
    participants: Arc<RwLock<HashMap<PeerId, ParticipantStats>>>,
}

impl MediaStats {
    /// One participant's figures, if it sends its media through the server.
    pub fn participant(&self, peer: PeerId) -> Option<ParticipantStats> {
        self.participants.read().ok()?.get(&peer).cloned()
    }

    /// Every participant's figures.
    pub fn all(&self) -> HashMap<PeerId, ParticipantStats> {
        self.participants
            .read()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    pub(super) fn set(&self, peer: PeerId, stats: ParticipantStats) {
        if let Ok(mut participants) = self.participants.write() {
            participants.insert(peer, stats);
        }
    }

    pub(super) fn remove(&self, peer: PeerId) {
        if let Ok(mut participants) = self.participants.write() {
            participants.remove(&peer);
        }
    }
}
