//! Load generator for Free Meetings and the original Node server: minimal Socket.IO v4 and `/ws`
//! clients, and bounded scenarios (idle, relay, flood, churn) that report JSON figures.

pub mod client;
pub mod proc;
pub mod scenarios;
pub mod stats;
