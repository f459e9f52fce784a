//! Protects the decoders against hostile input: arbitrary text and arbitrary JSON go into every
//! decoder a client can reach (the Socket.IO event packet, the `/ws` frame, each event's
//! payload). None may panic, each answers a clear error or a valid event, and the one-pass
//! Socket.IO reader answers exactly what the plain two-pass reading does.
//!
//! 4,096 cases per property by default; `PROPTEST_CASES=200000 cargo test --test decode_fuzz`
//! for a longer run. Inputs that once mattered are replayed from `tests/corpus/`.

use free_meetings::wire::{ClientEvent, ProtocolError, socketio_packet, ws_frame};
use proptest::prelude::*;
use serde_json::Value;
use serde_json::value::RawValue;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(4096);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, nested a few levels, with strings that look like ids, names and events.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("join-room".to_owned()),
            Just("signal".to_owned()),
            Just("leave-room".to_owned()),
            Just("chat".to_owned()),
            Just("state".to_owned()),
            Just("AAAAAAAAAAAAAAAA".to_owned()),
            Just(" ".repeat(200)),
            "\\PC{0,80}",
            ".{0,8}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("roomId".to_owned()),
                        Just("userName".to_owned()),
                        Just("to".to_owned()),
                        Just("signal".to_owned()),
                        Just("text".to_owned()),
                        Just("muted".to_owned()),
                        Just("camera".to_owned()),
                        Just("screen".to_owned()),
                        Just("event".to_owned()),
                        Just("data".to_owned()),
                        ".{0,6}",
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// Socket.IO event arrays of the known shapes, with any payload.
fn packet() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just(Value::from("join-room")),
        Just(Value::from("signal")),
        Just(Value::from("leave-room")),
        Just(Value::from("chat")),
        Just(Value::from("state")),
        json(),
    ];
    (name, prop::collection::vec(json(), 0..3)).prop_map(|(name, rest)| {
        let mut items = vec![name];
        items.extend(rest);
        Value::Array(items).to_string()
    })
}

fn same(
    a: &Result<Option<ClientEvent>, ProtocolError>,
    b: &Result<Option<ClientEvent>, ProtocolError>,
) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// Every answer is an event or one of the documented errors, never a panic.
fn check_packet(text: &str) {
    let fast = socketio_packet::decode(text);
    let plain = socketio_packet::decode_in_two_passes(text);
    assert!(same(&fast, &plain), "{text:?}: {fast:?} != {plain:?}");
    let _ = ws_frame::decode(text);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_is_decoded_or_refused(text in ".{0,200}") {
        check_packet(&text);
    }

    #[test]
    fn event_packets_decode_alike_in_one_and_two_passes(text in packet()) {
        check_packet(&text);
    }

    #[test]
    fn packets_cut_anywhere_are_refused_cleanly(text in packet(), cut in any::<prop::sample::Index>()) {
        let mut end = cut.index(text.len() + 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        check_packet(&text[..end]);
    }

    #[test]
    fn ws_frames_with_any_event_and_data(name in json(), data in json()) {
        let frame = serde_json::json!({"event": name, "data": data}).to_string();
        let decoded = ws_frame::decode(&frame);
        if !name.is_string() {
            prop_assert_eq!(decoded.unwrap_err(), ProtocolError::BadFrame);
        }
    }

    #[test]
    fn every_payload_of_every_event(data in json()) {
        let raw = RawValue::from_string(data.to_string()).expect("valid JSON");
        for name in ["join-room", "leave-room", "signal", "chat", "state", "host", "chat-message"] {
            let decoded = ClientEvent::decode(name, Some(&raw));
            match (name, decoded) {
                ("join-room", Ok(Some(ClientEvent::JoinRoom { room, name, key, .. }))) => {
                    if let Some(key) = key {
                        prop_assert!((22..=64).contains(&key.expose().len()));
                    }
                    prop_assert!((1..=128).contains(&room.as_str().chars().count()));
                    prop_assert!((1..=64).contains(&name.as_str().chars().count()));
                    prop_assert!(!name.as_str().chars().any(char::is_control));
                }
                ("join-room", Err(e)) => prop_assert!(matches!(
                    e,
                    ProtocolError::BadJoin
                        | ProtocolError::BadRoomId
                        | ProtocolError::BadUserName
                        | ProtocolError::BadRoomKey
                )),
                ("host", Ok(Some(ClientEvent::Host(_)))) => {}
                ("host", Err(e)) => prop_assert_eq!(e, ProtocolError::BadHost),
                ("signal", Ok(Some(ClientEvent::Signal { signal, .. }))) => {
                    prop_assert_ne!(signal.get(), "null");
                }
                ("signal", Err(e)) => prop_assert_eq!(e, ProtocolError::BadSignal),
                ("leave-room", Ok(Some(ClientEvent::LeaveRoom))) => {}
                ("chat", Ok(Some(ClientEvent::Chat { text }))) => {
                    prop_assert!((1..=2000).contains(&text.as_str().chars().count()));
                }
                ("chat", Err(e)) => prop_assert_eq!(e, ProtocolError::BadChat),
                ("state", Ok(Some(ClientEvent::State(state)))) => {
                    if let Some(screen) = &state.screen {
                        prop_assert!((1..=64).contains(&screen.as_str().chars().count()));
                    }
                }
                ("state", Err(e)) => prop_assert_eq!(e, ProtocolError::BadState),
                ("chat-message", Ok(None)) => {}
                (name, other) => prop_assert!(false, "{name}: unexpected {other:?}"),
            }
        }
    }
}

/// Inputs kept because they once broke something or sit on an edge.
#[test]
fn corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/corpus exists") {
        let path = entry.expect("corpus entry").path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).expect("readable")).into_owned();
        check_packet(&text);
        seen += 1;
    }
    assert!(seen > 0, "the corpus is empty");
}
