//! Load generator for Free Meetings and the original Node server: minimal Socket.IO v4 and `/ws`
//! clients, bounded signaling scenarios (idle, relay, flood, churn) and a media scenario through
//! the SFU or Janus, each reporting JSON figures.

pub mod client;
pub mod janus;
pub mod media;
pub mod proc;
pub mod scenarios;
pub mod stats;
