//! STUN as the forwarder needs it (RFC 5389, with ICE's attributes): telling it apart from the
//! rest of the port's traffic, reading whom a check is for and which of our questions a response
//! answers, and writing the binding requests our consent checks send.

pub const BINDING_REQUEST: u16 = 0x0001;
pub const BINDING_SUCCESS: u16 = 0x0101;
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
const USERNAME: u16 = 0x0006;
const MESSAGE_INTEGRITY: u16 = 0x0008;
const FINGERPRINT: u16 = 0x8028;
const PRIORITY: u16 = 0x0024;
const USE_CANDIDATE: u16 = 0x0025;
const ICE_CONTROLLED: u16 = 0x8029;
const ICE_CONTROLLING: u16 = 0x802A;
/// The class bits of a STUN message type (RFC 5389 section 6): 0b00 request, 0b10 success
/// response, 0b11 error response.
const CLASS_MASK: u16 = 0x0110;
const CLASS_SUCCESS: u16 = 0x0100;
const CLASS_ERROR: u16 = 0x0110;

/// Whether a datagram is STUN (RFC 7983: first byte 0-3), which may go anywhere a check came
/// from: it is small, and answering checks is how ICE finds paths.
pub fn is_stun(data: &[u8]) -> bool {
    data.first().is_some_and(|b| *b < 4)
}

fn message_type(data: &[u8]) -> Option<u16> {
    let cookie = data.get(4..8)?;
    (data.len() >= 20 && cookie == MAGIC_COOKIE.to_be_bytes())
        .then(|| u16::from_be_bytes([data[0], data[1]]))
}

/// The fragment of our own ICE username a binding request names (`<ours>:<theirs>`): whose
/// connection a page's check is for. Nothing for anything else.
pub fn request_ufrag(data: &[u8]) -> Option<&str> {
    if message_type(data)? != BINDING_REQUEST {
        return None;
    }
    let mut at = 20;
    while let Some(head) = data.get(at..at + 4) {
        let kind = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let value = data.get(at + 4..at + 4 + len)?;
        if kind == USERNAME {
            let name = std::str::from_utf8(value).ok()?;
            return name.split(':').next();
        }
        at += 4 + len.next_multiple_of(4);
    }
    None
}

/// The transaction id of a STUN response (success or error): which of our questions it
/// answers.
pub fn response_id(data: &[u8]) -> Option<[u8; 12]> {
    let class = message_type(data)? & CLASS_MASK;
    if class != CLASS_SUCCESS && class != CLASS_ERROR {
        return None;
    }
    data.get(8..20)?.try_into().ok()
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
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        password.as_bytes(),
    );
    let tag = aws_lc_rs::hmac::sign(&key, &message);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_check_names_our_fragment_and_a_response_its_question() {
        let check = binding_request([9; 12], "ours:theirs", "pwd", true, true, 7);
        assert_eq!(request_ufrag(&check), Some("ours"));
        assert_eq!(response_id(&check), None, "a request answers nothing");
        let mut answer = vec![0x01, 0x01, 0, 0];
        answer.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        answer.extend_from_slice(&[4; 12]);
        assert_eq!(response_id(&answer), Some([4; 12]));
        assert_eq!(request_ufrag(&answer), None);
        // Truncated, or without the cookie: not STUN we read.
        assert_eq!(request_ufrag(&check[..30]), None);
        let mut no_cookie = check.clone();
        no_cookie[4] ^= 1;
        assert_eq!(request_ufrag(&no_cookie), None);
        assert_eq!(request_ufrag(&[0, 1]), None);
    }
}
