//! The plain WebSocket transport at `/ws`: JSON text frames `{"event": NAME, "data": PAYLOAD}`
//! (the codec is `wire::ws_frame`) carrying the same events as Socket.IO, for clients without a
//! Socket.IO library. This file is the axum adapter; [`connection`] runs a connection over any
//! socket, and [`mailbox`] queues what the hub sends it.

mod connection;
mod mailbox;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Extension, State};
use axum::response::Response;
use axum::routing::get;

pub use connection::WsSettings;

use super::READ_BUFFER_BYTES;
use super::handshake::Admitted;
use crate::hub::Hub;

/// What the `/ws` route needs.
#[derive(Clone)]
struct WsState {
    hub: Hub,
    settings: WsSettings,
}

/// The `/ws` route.
pub fn routes(hub: Hub, settings: WsSettings) -> Router {
    Router::new()
        .route("/ws", get(upgrade))
        .with_state(WsState { hub, settings })
}

/// `GET /ws`: upgrades and runs the connection.
async fn upgrade(
    upgrade: WebSocketUpgrade,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    State(WsState { hub, settings }): State<WsState>,
    admitted: Option<Extension<Admitted>>,
) -> Response {
    let admitted = admitted.map(|Extension(admitted)| admitted);
    upgrade
        .max_message_size(settings.max_message_bytes)
        .max_frame_size(settings.max_message_bytes)
        // tungstenite preallocates its read buffer per connection (128 KiB by default): most
        // frames are small signals, and a bigger frame just takes more reads.
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| connection::run(socket, addr, hub, settings, admitted))
}
