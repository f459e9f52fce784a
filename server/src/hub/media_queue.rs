//! How the core's work reaches the media forwarder: two queues, because the two kinds of work
//! differ. Who is in an SFU room (`Open`, `Close`) must never be lost and comes at the pace of
//! joins and leaves; what pages ask (`Request`: offers, answers, wants) comes at the pace of
//! whoever sends it, so it is bounded, and a request that finds the queue full is refused to
//! its sender (`error`) instead of piling up. The forwarder reads memberships first, so a
//! page's first offer never overtakes its `Open`.

use tokio::sync::mpsc;

use crate::rooms::MediaChange;
use crate::wire::PeerId;

/// Requests waiting for the forwarder at most, from every page together.
pub const MEDIA_REQUESTS_QUEUED: usize = 4096;

/// The hub's end.
#[derive(Debug, Clone)]
pub struct MediaQueue {
    membership: mpsc::UnboundedSender<MediaChange>,
    requests: mpsc::Sender<MediaChange>,
}

/// The forwarder's end.
#[derive(Debug)]
pub struct MediaInbox {
    pub membership: mpsc::UnboundedReceiver<MediaChange>,
    pub requests: mpsc::Receiver<MediaChange>,
}

/// A queue holding at most `requests` page requests.
pub fn media_queue(requests: usize) -> (MediaQueue, MediaInbox) {
    let (membership_tx, membership) = mpsc::unbounded_channel();
    let (requests_tx, requests_rx) = mpsc::channel(requests.max(1));
    (
        MediaQueue {
            membership: membership_tx,
            requests: requests_tx,
        },
        MediaInbox {
            membership,
            requests: requests_rx,
        },
    )
}

impl MediaQueue {
    /// Hands one change on without waiting; `Err(peer)` when a page's request found the queue
    /// full (the page is to be told).
    pub fn send(&self, change: MediaChange) -> Result<(), PeerId> {
        match change {
            MediaChange::Request { peer, .. } => match self.requests.try_send(change) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(_)) => Err(peer),
                // The forwarder outlives every connection; if it is gone, so is the server.
                Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
            },
            membership => {
                let _ = self.membership.send(membership);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::hub::Hub;
    use crate::hub::recorded::Recorded;
    use crate::metrics::Metrics;
    use crate::rooms::{Limits, MediaPolicy, RateLimit, RoomAccess};
    use crate::wire::{ClientEvent, RoomId, Transport, UserName};

    #[test]
    fn requests_past_a_full_queue_are_refused_to_their_sender_and_memberships_never_are() {
        let (queue, mut inbox) = media_queue(2);
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
        let hub = Hub::new(limits, Arc::new(Metrics::new()), Some(queue));
        let ann = PeerId::random();
        let outbox = Arc::new(Recorded::default());
        hub.connect(ann, Transport::WebSocket, None, outbox.clone());
        hub.receive(
            ann,
            Ok(Some(ClientEvent::JoinRoom {
                room: RoomId::parse("big").unwrap(),
                name: UserName::parse("Ann").unwrap(),
                sfu: true,
                key: None,
            })),
        );
        let want = || {
            let raw = serde_json::value::RawValue::from_string(r#"{"streams":{}}"#.into()).unwrap();
            ClientEvent::decode("sfu-want", Some(&raw))
        };
        for _ in 0..5 {
            hub.receive(ann, want());
        }
        let busy = "error: the media server is busy: your request was not taken, send it again in a moment";
        let told = outbox.all();
        assert_eq!(told.iter().filter(|t| *t == busy).count(), 3, "{told:?}");
        assert!(matches!(
            inbox.membership.try_recv(),
            Ok(MediaChange::Open { .. })
        ));
        assert_eq!(
            (0..3).filter(|_| inbox.requests.try_recv().is_ok()).count(),
            2,
            "two requests queued, no more"
        );
    }
}
