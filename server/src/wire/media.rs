//! The events that carry media signaling between a page and the server's own media forwarder
//! (the SFU), beside the original contract: where a room's media goes (`media-mode`), the SDP
//! offers and answers of the page's one connection to the server (`sfu-offer`, `sfu-answer`),
//! and which quality the page wants of each stream it shows (`sfu-want`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ProtocolError, StreamId};

/// Where a room's media goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaMode {
    /// Browser to browser: every page sends to every other.
    Mesh,
    /// Through the server: every page sends once, the server forwards.
    Sfu,
}

impl MediaMode {
    /// Its name on the wire, in logs and on the dashboard.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaMode::Mesh => "mesh",
            MediaMode::Sfu => "sfu",
        }
    }
}

/// How much of a stream a page wants: the simulcast layer it shows, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    /// Not shown: forward nothing (audio is always forwarded).
    Off,
    Low,
    Medium,
    High,
}

impl Quality {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "off" => Quality::Off,
            "low" => Quality::Low,
            "medium" => Quality::Medium,
            "high" => Quality::High,
            _ => return None,
        })
    }
}

/// Most streams one `sfu-want` may name (16 tiles, camera and screen each).
pub const WANT_MAX_STREAMS: usize = 64;

/// What a page says to the media forwarder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SfuRequest {
    /// An SDP offer for the page's connection to the server (its first, or a renegotiation).
    Offer(String),
    /// The page's SDP answer to the server's last offer.
    Answer(String),
    /// The quality the page wants of each stream it receives, by stream id.
    Want(BTreeMap<StreamId, Quality>),
}

impl SfuRequest {
    /// The SDP text it carries, if any (its size counts against the signal limit).
    pub fn sdp(&self) -> Option<&str> {
        match self {
            SfuRequest::Offer(sdp) | SfuRequest::Answer(sdp) => Some(sdp),
            SfuRequest::Want(_) => None,
        }
    }

    /// Reads `want`'s `streams` object: stream id -> "high" | "medium" | "low" | "off".
    pub(super) fn want(streams: BTreeMap<String, String>) -> Result<Self, ProtocolError> {
        if streams.len() > WANT_MAX_STREAMS {
            return Err(ProtocolError::BadSfu);
        }
        streams
            .into_iter()
            .map(|(id, quality)| {
                let id = StreamId::parse(&id).map_err(|_| ProtocolError::BadSfu)?;
                let quality = Quality::parse(&quality).ok_or(ProtocolError::BadSfu)?;
                Ok((id, quality))
            })
            .collect::<Result<_, _>>()
            .map(SfuRequest::Want)
    }
}

/// What the media forwarder says to a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SfuReply {
    /// The server's answer to the page's offer.
    Answer(String),
    /// A renegotiation: someone's streams were added or removed.
    Offer(String),
    /// The server's connection to the page failed or was refused; the text says why.
    Failed(String),
    /// The simulcast layers of one of the page's streams (its own stream id) that anyone
    /// takes: the page may stop encoding the others until they are asked for again.
    Layers { stream: String, active: Vec<String> },
}
