//! Transports: thin adapters that decode client frames, call the hub, and carry its events back.

pub mod admission;
pub mod guard;
pub mod origin;
pub mod socketio;
pub mod ws;
