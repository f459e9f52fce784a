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

/// How often one participant's new address may be asked for consent.
pub const ASK_EVERY: Duration = Duration::from_secs(2);

const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const MAGIC_COOKIE: u32 = 0x2112_A442;
const USERNAME: u16 = 0x0006;
const MESSAGE_INTEGRITY: u16 = 0x0008;
const FINGERPRINT: u16 = 0x8028;
const PRIORITY: u16 = 0x0024;
const USE_CANDIDATE: u16 = 0x0025;
const ICE_CONTROLLED: u16 = 0x8029;
const ICE_CONTROLLING: u16 = 0x802A;

/// Whether a datagram is STUN (RFC 7983: first byte 0-3), which may go anywhere a check came
/// from: it is small, and answering checks is how ICE finds paths.
pub fn is_stun(data: &[u8]) -> bool {
    data.first().is_some_and(|b| *b < 4)
}

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

    /// A new transaction to ask `to`, unless one was asked too recently.
    pub fn ask(&mut self, to: SocketAddr, now: Instant) -> Option<[u8; 12]> {
        if self
            .asked
            .is_some_and(|(_, _, at)| now.saturating_duration_since(at) < ASK_EVERY)
        {
            return None;
        }
        let mut id = [0u8; 12];
        rand::RngExt::fill(&mut rand::rng(), &mut id);
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

/// A STUN binding request (RFC 5389, with ICE's attributes): `username` is
/// `<their ufrag>:<our ufrag>`, `password` theirs. `controlling` and `use_candidate` make it a
/// nominating check (what a page sends); ours is a controlled agent's plain check.
pub fn binding_request(
    id: [u8; 12],
    username: &str,
    password: &str,
    controlling: bool,
    use_candidate: bool,
    priority: u32,
) -> Vec<u8> {
    let mut message = Vec::with_capacity(128);
    message.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
    message.extend_from_slice(&[0, 0]); // length, set below
    message.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    message.extend_from_slice(&id);
    attribute(&mut message, USERNAME, username.as_bytes());
    attribute(&mut message, PRIORITY, &priority.to_be_bytes());
    let role = if controlling {
        ICE_CONTROLLING
    } else {
        ICE_CONTROLLED
    };
    attribute(&mut message, role, &0x0102_0304_0506_0708_u64.to_be_bytes());
    if use_candidate {
        attribute(&mut message, USE_CANDIDATE, &[]);
    }
    // MESSAGE-INTEGRITY covers the message with a length that counts itself.
    set_length(&mut message, 24);
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        password.as_bytes(),
    );
    let tag = ring::hmac::sign(&key, &message);
    attribute(&mut message, MESSAGE_INTEGRITY, tag.as_ref());
    // FINGERPRINT covers everything before it, with a length that counts it too.
    set_length(&mut message, 8);
    let crc = crc32(&message) ^ 0x5354_554e;
    attribute(&mut message, FINGERPRINT, &crc.to_be_bytes());
    message
}

fn attribute(message: &mut Vec<u8>, kind: u16, value: &[u8]) {
    message.extend_from_slice(&kind.to_be_bytes());
    message.extend_from_slice(&(value.len() as u16).to_be_bytes());
    message.extend_from_slice(value);
    while !message.len().is_multiple_of(4) {
        message.push(0);
    }
}

/// Sets the header's length to the attributes so far plus `more` bytes to come.
fn set_length(message: &mut [u8], more: usize) {
    let length = (message.len() - 20 + more) as u16;
    message[2..4].copy_from_slice(&length.to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
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

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn consent_goes_to_the_address_that_answered_our_question_only() {
        let now = Instant::now();
        let page: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        let victim: SocketAddr = "10.0.0.99:9".parse().unwrap();
        let mut consent = Consent::default();
        consent.grant(page);
        assert!(consent.allows(page) && !consent.allows(victim));
        let id = consent.ask(victim, now).unwrap();
        assert_eq!(consent.ask(victim, now), None, "asked at most every 2 s");
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
