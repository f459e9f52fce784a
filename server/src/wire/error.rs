//! Why a client's input was refused before it reached the core.

/// Why a client event was refused; its `Display` text is what the client receives in `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// `join-room` payload was not an object with `roomId` and `userName` strings.
    #[error(
        "join-room needs {{roomId, userName}}: roomId and userName are required strings (sfu, if given, a boolean)"
    )]
    BadJoin,
    /// The room id was empty or too long.
    #[error("roomId must be a string of 1-128 characters")]
    BadRoomId,
    /// The user name was empty, too long or contained control characters.
    #[error("userName must be a string of 1-64 characters without control characters")]
    BadUserName,
    /// The room key (from an invitation link) was not 22-64 URL-safe base64 characters.
    #[error("key must be the invitation link's key: 22-64 characters of A-Z, a-z, 0-9, - and _")]
    BadRoomKey,
    /// `signal` payload was not an object with `to` and `signal`.
    #[error("signal needs {{to, signal}}: to is a peer id string, signal any JSON value")]
    BadSignal,
    /// `chat` payload was not `{text}` with 1-2,000 characters of text.
    #[error("chat needs {{text}}: text is a string of 1-2000 characters")]
    BadChat,
    /// `state` payload was not `{muted, camera, screen}`.
    #[error(
        "state needs {{muted, camera, screen}}: muted and camera are booleans, screen a stream id of 1-64 characters or null"
    )]
    BadState,
    /// An SFU event whose payload is not `{sdp}` or `{streams}`.
    #[error(
        "sfu-offer and sfu-answer need {{sdp}}; sfu-want needs {{streams: {{id: \"high\"|\"medium\"|\"low\"|\"off\"}}}} (at most 64)"
    )]
    BadSfu,
    /// `host` payload was not `{action, peer?, on?}` with a known action.
    #[error(
        "host needs {{action, peer?, on?}}: action is lobby or lock (with on: true|false), admit, decline, remove or mute (with peer: an id), end or new-link"
    )]
    BadHost,
    /// Binary attachments are not part of this protocol.
    #[error("binary payloads are not supported")]
    Binary,
    /// A `/ws` frame that is not `{"event": NAME, "data": PAYLOAD}` JSON text.
    #[error("frames must be JSON text {{\"event\": NAME, \"data\": PAYLOAD}}")]
    BadFrame,
}
