//! `fm-bench`: load scenarios against a Free Meetings server or the original Node server.
//! Prints one JSON object with the figures; every scenario is bounded and stops by itself.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use free_meetings_bench::client::Transport;
use free_meetings_bench::media;
use free_meetings_bench::scenarios::{self, Placement, Target};

/// Load generator for Free Meetings (Socket.IO v4 websocket transport, or /ws).
#[derive(Parser)]
struct Cli {
    /// Server address, e.g. 127.0.0.1:5000.
    #[arg(long)]
    server: SocketAddr,
    /// Another node of the same cluster (repeat for each); peers spread over all of them.
    #[arg(long = "also", value_name = "ADDR")]
    more_nodes: Vec<SocketAddr>,
    /// With several nodes: a room's members on the same node, or across nodes.
    #[arg(long, value_enum, default_value = "cross")]
    placement: Placement,
    /// Server process id, for its RSS and CPU (from /proc).
    #[arg(long)]
    pid: Option<u32>,
    /// Protocol to speak.
    #[arg(long, value_enum, default_value = "sio")]
    transport: Transport,
    /// Spread clients over 127.0.0.1..=127.0.0.N (each address has ~28k ephemeral ports).
    #[arg(long, default_value_t = 8)]
    sources: u8,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// N peers joined in rooms of 4, held D seconds.
    Idle {
        #[arg(long, default_value_t = 1000)]
        peers: usize,
        #[arg(long, default_value_t = 10.0)]
        hold: f64,
    },
    /// N peers in rooms of 4 each sending R signals/s with padding, for D seconds.
    Relay {
        #[arg(long, default_value_t = 1000)]
        peers: usize,
        #[arg(long, default_value_t = 2.0)]
        rate: f64,
        #[arg(long, default_value_t = 3000)]
        pad: usize,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
    },
    /// Pairs relaying closed-loop with W signals in flight, for D seconds.
    Flood {
        #[arg(long, default_value_t = 50)]
        pairs: usize,
        #[arg(long, default_value_t = 8)]
        window: usize,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
    },
    /// Workers joining, signaling, leaving and reconnecting, for D seconds.
    Churn {
        #[arg(long, default_value_t = 50)]
        workers: usize,
        #[arg(long, default_value_t = 20)]
        rooms: usize,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
    },
    /// N participants in one room through a media server, each publishing one video at B
    /// bits/s; measures loss, delay and server CPU per forwarded Mbit/s. Free Meetings must run
    /// with `--media sfu`; Janus with its WebSocket transport (--server is then its address).
    Media {
        #[arg(long, value_enum, default_value = "free-meetings")]
        through: media::Server,
        #[arg(long, default_value_t = 10)]
        participants: usize,
        /// Rooms the participants are spread over (participant i in room i mod rooms).
        #[arg(long, default_value_t = 1)]
        rooms: usize,
        /// Videos each participant shows (the next ones in its room); the others it asks the
        /// server not to send. Default: all.
        #[arg(long)]
        shown: Option<usize>,
        #[arg(long, default_value_t = 500_000)]
        bitrate: u64,
        #[arg(long, default_value_t = 5.0)]
        warmup: f64,
        #[arg(long, default_value_t = 20.0)]
        duration: f64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // str0m needs one crypto provider for DTLS/SRTP; the process default is the one it builds with.
    str0m::crypto::from_feature_flags().install_process_default();
    let target = Target {
        server: cli.server,
        more_nodes: cli.more_nodes,
        placement: cli.placement,
        pid: cli.pid,
        transport: cli.transport,
        sources: cli.sources,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let secs = Duration::from_secs_f64;
    // The media scenario always signals over /ws; the flag describes the signaling scenarios.
    let signaling = !matches!(cli.scenario, Scenario::Media { .. });
    let result = runtime.block_on(async {
        match cli.scenario {
            Scenario::Idle { peers, hold } => scenarios::idle(&target, peers, secs(hold)).await,
            Scenario::Relay {
                peers,
                rate,
                pad,
                duration,
            } => scenarios::relay(&target, peers, rate, pad, secs(duration)).await,
            Scenario::Flood {
                pairs,
                window,
                duration,
            } => scenarios::flood(&target, pairs, window, secs(duration)).await,
            Scenario::Churn {
                workers,
                rooms,
                duration,
            } => scenarios::churn(&target, workers, rooms, secs(duration)).await,
            Scenario::Media {
                through,
                participants,
                rooms,
                shown,
                bitrate,
                warmup,
                duration,
            } => {
                let server = target.server;
                media::run(
                    through,
                    server,
                    target.pid,
                    participants,
                    rooms,
                    shown,
                    bitrate,
                    secs(warmup),
                    secs(duration),
                )
                .await
                .and_then(|r| Ok(serde_json::to_value(r)?))
            }
        }
    })?;
    let mut result = result;
    if signaling {
        result["transport"] = serde_json::to_value(cli.transport)?;
    }
    println!("{result}");
    Ok(())
}
