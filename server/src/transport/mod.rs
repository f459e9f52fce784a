//! Transports: thin adapters that decode client frames (with the wire layer's codecs), call the
//! hub, and carry its events back; plus what runs in front of both at the handshake.
//!
//! - [`handshake`]: the middleware that checks origin and admission before any protocol work;
//! - [`admission`]: the connection caps, total and per address (the one authority for them);
//! - [`socketio`]: Socket.IO v4 over socketioxide;
//! - [`ws`]: the plain `/ws` JSON protocol.

pub mod admission;
pub mod handshake;
pub mod socketio;
pub mod ws;

/// Read buffer per websocket connection, on both transports: most frames are small signals,
/// and a bigger one just takes more reads (measured: 22.6 -> 19.6 KB per idle Socket.IO peer).
pub const READ_BUFFER_BYTES: usize = 1024;
