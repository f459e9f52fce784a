//! Consent before media goes to a new address (RFC 7675's idea, for an ICE-lite server). As an
//! ICE-lite agent the server never checks a path itself: a page's authenticated check with
//! USE-CANDIDATE moves its media wherever the check came from. A member knows its own ICE
//! password, so it could send such a check from a forged source address and have the server
//! pour its whole downstream onto any host of the LAN. So media (anything but STUN) goes only to
//! an address that proved it receives what we send: the one the DTLS handshake completed with,
//! or one that answered a binding request of ours, whose 96-bit transaction id only a receiver
//! there can know. A new address is asked at most once every two seconds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::stun::BINDING_SUCCESS;

/// How often one participant's new address may be asked for consent.
pub const ASK_EVERY: Duration = Duration::from_secs(2);

/// One participant's consented destination and the question in flight.
#[derive(Debug, Default)]
pub struct Consent {
    /// Where media may go now.
    granted: Option<SocketAddr>,
    /// The address asked, the transaction id, and when.
    asked: Option<(SocketAddr, [u8; 12], Instant)>,
}

impl Consent {
    /// The DTLS handshake completed with the page at `addr`: a two-way path.
    pub fn grant(&mut self, addr: SocketAddr) {
        self.granted = Some(addr);
    }

    /// Whether something other than STUN may be sent to `to`.
    pub fn allows(&self, to: SocketAddr) -> bool {
        self.granted == Some(to)
    }

    /// Whether media has a consented destination yet (before the handshake completes nothing
    /// is held back: no media flows before it).
    pub fn settled(&self) -> bool {
        self.granted.is_some()
    }

    /// A new transaction to ask `to`, unless one was asked too recently. Its first byte is
    /// `worker`, the worker that asks: the answer is handed back to it (see placement.rs).
    pub fn ask(&mut self, to: SocketAddr, worker: u8, now: Instant) -> Option<[u8; 12]> {
        if self
            .asked
            .is_some_and(|(_, _, at)| now.saturating_duration_since(at) < ASK_EVERY)
        {
            return None;
        }
        let mut id = [0u8; 12];
        rand::RngExt::fill(&mut rand::rng(), &mut id);
        id[0] = worker;
        self.asked = Some((to, id, now));
        Some(id)
    }

    /// A datagram from `from`: true when it is the answer to our question (consent granted).
    pub fn answered(&mut self, from: SocketAddr, data: &[u8]) -> bool {
        let Some((asked, id, _)) = self.asked else {
            return false;
        };
        let answers = asked == from
            && data.len() >= 20
            && u16::from_be_bytes([data[0], data[1]]) == BINDING_SUCCESS
            && data[8..20] == id;
        if answers {
            self.granted = Some(from);
            self.asked = None;
        }
        answers
    }
}

/// `a=ice-ufrag` and `a=ice-pwd` of an SDP.
pub fn ice_credentials(sdp: &str) -> Option<(String, String)> {
    let find = |name: &str| {
        sdp.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    Some((find("a=ice-ufrag:")?, find("a=ice-pwd:")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::stun::MAGIC_COOKIE;

    #[test]
    fn consent_goes_to_the_address_that_answered_our_question_only() {
        let now = Instant::now();
        let page: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        let victim: SocketAddr = "10.0.0.99:9".parse().unwrap();
        let mut consent = Consent::default();
        consent.grant(page);
        assert!(consent.allows(page) && !consent.allows(victim));
        let id = consent.ask(victim, 1, now).unwrap();
        assert_eq!(id[0], 1, "the asking worker");
        assert_eq!(consent.ask(victim, 1, now), None, "asked at most every 2 s");
        let mut answer = vec![0x01, 0x01, 0, 0];
        answer.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        answer.extend_from_slice(&id);
        let mut wrong = answer.clone();
        wrong[19] ^= 1;
        assert!(!consent.answered(victim, &wrong), "another transaction");
        assert!(!consent.answered(page, &answer), "from another address");
        assert!(consent.answered(victim, &answer));
        assert!(consent.allows(victim));
    }
}
