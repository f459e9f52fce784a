//! `fm-bench`: load scenarios against a Free Meetings server or the original Node server.
//! Prints one JSON object with the figures; every scenario is bounded and stops by itself.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use free_meetings_bench::client::Transport;
use free_meetings_bench::scenarios::{self, Target};

/// Load generator for Free Meetings (Socket.IO v4 websocket transport, or /ws).
#[derive(Parser)]
struct Cli {
    /// Server address, e.g. 127.0.0.1:5000.
    #[arg(long)]
    server: SocketAddr,
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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let target = Target {
        server: cli.server,
        pid: cli.pid,
        transport: cli.transport,
        sources: cli.sources,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let secs = Duration::from_secs_f64;
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
        }
    })?;
    let mut result = result;
    result["transport"] = serde_json::to_value(cli.transport)?;
    println!("{result}");
    Ok(())
}
