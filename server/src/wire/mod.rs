//! The wire layer, the bottom of the crate: what travels between a client and the server, on
//! either transport, decoded and validated here so that nothing above ever sees a bad value.
//!
//! It holds the validated identifiers and names ([`PeerId`], [`RoomId`], [`UserName`]), chat
//! text and media state ([`ChatText`], [`PeerState`]), the events in both directions ([`ClientEvent`], [`ServerEvent`]), and the two framings that carry
//! them: Socket.IO event packets ([`socketio_packet`]) and `/ws` JSON frames ([`ws_frame`]). It
//! imports nothing from the rest of the crate and no transport crate: the core is built on it,
//! as matchbox keeps its protocol crate below its topologies.

mod chat;
mod client_event;
mod error;
mod host;
mod ids;
mod media;
mod peer_state;
mod room_key;
mod server_event;
pub mod socketio_packet;
mod transport;
pub mod ws_frame;

pub use chat::{CHAT_MAX_CHARS, ChatText};
pub use client_event::{ClientEvent, names};
pub use error::{ErrorCode, ErrorReply, ProtocolError};
pub use host::{HostAction, MeetingView, NewGuestKey, Removal};
pub use ids::{BadPeerId, PeerId, ROOM_ID_MAX_CHARS, RoomId, USER_NAME_MAX_CHARS, UserName};
pub use media::{MediaMode, Quality, SfuReply, SfuRequest, WANT_MAX_STREAMS};
pub use peer_state::{PeerState, STREAM_ID_MAX_CHARS, StreamId};
pub use room_key::{ROOM_KEY_MAX_CHARS, ROOM_KEY_MIN_CHARS, RoomKey};
pub use server_event::{EventData, Member, ServerEvent};
pub use transport::Transport;
