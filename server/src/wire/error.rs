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

impl ProtocolError {
    /// The stable code sent beside the text.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::BadJoin => ErrorCode::BadJoin,
            ProtocolError::BadRoomId => ErrorCode::BadRoomId,
            ProtocolError::BadUserName => ErrorCode::BadUserName,
            ProtocolError::BadRoomKey => ErrorCode::BadRoomKey,
            ProtocolError::BadSignal => ErrorCode::BadSignal,
            ProtocolError::BadChat => ErrorCode::BadChat,
            ProtocolError::BadState => ErrorCode::BadState,
            ProtocolError::BadSfu => ErrorCode::BadSfu,
            ProtocolError::BadHost => ErrorCode::BadHost,
            ProtocolError::Binary => ErrorCode::Binary,
            ProtocolError::BadFrame => ErrorCode::BadFrame,
        }
    }
}

/// What a refusal is, as a stable name a page can translate: sent beside the English text
/// (Socket.IO: the `error` event's second argument `{code}`; `/ws`: a `code` field beside
/// `data`). Published: a code keeps its spelling and meaning; new refusals get new codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    BadJoin,
    BadRoomId,
    BadUserName,
    BadRoomKey,
    BadSignal,
    BadChat,
    BadState,
    BadSfu,
    BadHost,
    Binary,
    BadFrame,
    RateLimited,
    SignalTooLarge,
    NotInRoom,
    TargetNotInRoom,
    NeedsLink,
    WrongKey,
    Locked,
    HostControlsUnavailable,
    NotHost,
    NotHere,
    RoomFull,
    NeedsSfu,
    ClusterUnavailable,
    MediaBusy,
    NotInSfuRoom,
    /// The media forwarder refused a page's offer (the reason is in the text).
    MediaRefused,
    /// A page sends more than `--media-max-bitrate-in`.
    MediaOverBitrate,
}

impl ErrorCode {
    /// Every code, for checks that each has a translation.
    pub const ALL: [ErrorCode; 28] = [
        ErrorCode::BadJoin,
        ErrorCode::BadRoomId,
        ErrorCode::BadUserName,
        ErrorCode::BadRoomKey,
        ErrorCode::BadSignal,
        ErrorCode::BadChat,
        ErrorCode::BadState,
        ErrorCode::BadSfu,
        ErrorCode::BadHost,
        ErrorCode::Binary,
        ErrorCode::BadFrame,
        ErrorCode::RateLimited,
        ErrorCode::SignalTooLarge,
        ErrorCode::NotInRoom,
        ErrorCode::TargetNotInRoom,
        ErrorCode::NeedsLink,
        ErrorCode::WrongKey,
        ErrorCode::Locked,
        ErrorCode::HostControlsUnavailable,
        ErrorCode::NotHost,
        ErrorCode::NotHere,
        ErrorCode::RoomFull,
        ErrorCode::NeedsSfu,
        ErrorCode::ClusterUnavailable,
        ErrorCode::MediaBusy,
        ErrorCode::NotInSfuRoom,
        ErrorCode::MediaRefused,
        ErrorCode::MediaOverBitrate,
    ];

    /// The code as sent: `room-full`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJoin => "bad-join",
            ErrorCode::BadRoomId => "bad-room-id",
            ErrorCode::BadUserName => "bad-user-name",
            ErrorCode::BadRoomKey => "bad-room-key",
            ErrorCode::BadSignal => "bad-signal",
            ErrorCode::BadChat => "bad-chat",
            ErrorCode::BadState => "bad-state",
            ErrorCode::BadSfu => "bad-sfu",
            ErrorCode::BadHost => "bad-host",
            ErrorCode::Binary => "binary",
            ErrorCode::BadFrame => "bad-frame",
            ErrorCode::RateLimited => "rate-limited",
            ErrorCode::SignalTooLarge => "signal-too-large",
            ErrorCode::NotInRoom => "not-in-room",
            ErrorCode::TargetNotInRoom => "target-not-in-room",
            ErrorCode::NeedsLink => "needs-link",
            ErrorCode::WrongKey => "wrong-key",
            ErrorCode::Locked => "locked",
            ErrorCode::HostControlsUnavailable => "host-controls-unavailable",
            ErrorCode::NotHost => "not-host",
            ErrorCode::NotHere => "not-here",
            ErrorCode::RoomFull => "room-full",
            ErrorCode::NeedsSfu => "needs-sfu",
            ErrorCode::ClusterUnavailable => "cluster-unavailable",
            ErrorCode::MediaBusy => "media-busy",
            ErrorCode::NotInSfuRoom => "not-in-sfu-room",
            ErrorCode::MediaRefused => "media-refused",
            ErrorCode::MediaOverBitrate => "media-over-bitrate",
        }
    }
}

/// An `error` event: the English text every front-end shows (the original one reads only
/// this), and its code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorReply {
    pub text: String,
    pub code: ErrorCode,
}

impl ErrorReply {
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            code,
        }
    }
}

impl From<&ProtocolError> for ErrorReply {
    fn from(error: &ProtocolError) -> Self {
        ErrorReply::new(error.code(), error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sent_as_their_serde_names_and_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::from(code.as_str()))
            );
            assert!(seen.insert(code.as_str()), "{code:?} listed twice");
        }
    }
}
