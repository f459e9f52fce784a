//! The `/ws` framing: one JSON text frame per event, `{"event": NAME, "data": PAYLOAD}`, in
//! both directions.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{ClientEvent, EventData, ProtocolError, ServerEvent};

/// One incoming text frame, its payload still raw.
#[derive(Deserialize)]
struct IncomingFrame<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// Decodes one text frame into a client event; `Ok(None)` for an event this server ignores.
pub fn decode(text: &str) -> Result<Option<ClientEvent>, ProtocolError> {
    let frame: IncomingFrame = serde_json::from_str(text).map_err(|_| ProtocolError::BadFrame)?;
    ClientEvent::decode(&frame.event, frame.data)
}

/// The text frame for one server event.
pub fn encode(event: &ServerEvent) -> String {
    #[derive(Serialize)]
    struct OutgoingFrame<'a> {
        event: &'a str,
        data: EventData<'a>,
        /// An `error`'s code, beside its text (`data`, as for every event).
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<&'static str>,
    }
    let frame = OutgoingFrame {
        event: event.name(),
        data: event.data(),
        code: match event {
            ServerEvent::Error(error) => Some(error.code.as_str()),
            _ => None,
        },
    };
    // Serialising these types cannot fail: every map key is a string and no value is a float.
    serde_json::to_string(&frame).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::PeerId;

    #[test]
    fn frames_decode_to_events_and_bad_frames_say_how_to_write_one() {
        assert!(matches!(
            decode(r#"{"event":"leave-room"}"#),
            Ok(Some(ClientEvent::LeaveRoom))
        ));
        assert!(matches!(
            decode(r#"{"event":"chat-message","data":1}"#),
            Ok(None)
        ));
        for bad in ["not json", r#"{"data":1}"#, "[1,2]", r#"{"event":7}"#] {
            assert_eq!(decode(bad).unwrap_err(), ProtocolError::BadFrame, "{bad}");
        }
    }

    #[test]
    fn events_encode_as_event_and_data() {
        let id: PeerId = "AAAAAAAAAAAAAAAA".parse().unwrap();
        assert_eq!(
            encode(&ServerEvent::UserLeft(id)),
            r#"{"event":"user-left","data":"AAAAAAAAAAAAAAAA"}"#
        );
        assert_eq!(
            encode(&ServerEvent::Welcome(id)),
            r#"{"event":"connect","data":{"id":"AAAAAAAAAAAAAAAA"}}"#
        );
    }
}
