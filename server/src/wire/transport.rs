//! The two framings a peer can speak, named once for logs, metrics and the dashboard.
//!
//! The type lives at the bottom rather than in `transport/` because the hub records it per
//! connection and the transports are built on the hub: naming it there would tie the two
//! together both ways.

/// Which transport a peer came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Socket.IO v4 over websocket or polling.
    SocketIo,
    /// The plain `/ws` JSON protocol.
    WebSocket,
}

impl Transport {
    /// Both transports, for listing every metric series from the start.
    pub const ALL: [Transport; 2] = [Transport::SocketIo, Transport::WebSocket];

    /// Its name in logs and on the dashboard.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::SocketIo => "socket.io",
            Transport::WebSocket => "ws",
        }
    }
}
