//! The load scenarios. Each is bounded in peers, messages and time, and stops by itself.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};

use crate::client::{self, Receiver, Sender, Transport};
use crate::proc;
use crate::stats::{Percentiles, percentiles};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server.
    pub server: SocketAddr,
    /// More nodes of the same cluster (`--cluster`), for peers to spread over.
    pub more_nodes: Vec<SocketAddr>,
    /// How a room's members spread over the nodes.
    pub placement: Placement,
    /// Its process id, for RSS and CPU.
    pub pid: Option<u32>,
    /// Protocol.
    pub transport: Transport,
    /// How many 127.0.0.x source addresses to spread clients over.
    pub sources: u8,
}

/// Where a room's members connect when there are several nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Placement {
    /// All of a room on one node (rooms spread over the nodes): no signal crosses nodes.
    Same,
    /// A room's members on different nodes: every signal crosses nodes.
    Cross,
}

impl Target {
    /// The node peer `i` of room `room` (of `room_size`) connects to.
    fn node(&self, i: usize, room: usize, room_size: usize) -> SocketAddr {
        let count = 1 + self.more_nodes.len();
        let index = match self.placement {
            Placement::Same => room % count,
            Placement::Cross => (room + i % room_size.max(1)) % count,
        };
        if index == 0 {
            self.server
        } else {
            self.more_nodes[index - 1]
        }
    }

    fn source(&self, i: usize) -> IpAddr {
        if !self.server.ip().is_loopback() {
            return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        }
        IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            0,
            1 + (i % self.sources.max(1) as usize) as u8,
        ))
    }
}

/// One joined peer.
pub struct Peer {
    /// Sending half.
    pub sender: Sender,
    /// Receiving half.
    pub receiver: Receiver,
    /// Its id.
    pub id: String,
    /// Index of its room.
    pub room: usize,
}

/// Most handshakes in flight at once.
const CONCURRENCY: usize = 256;

/// Connects `n` peers in rooms of `room_size`; returns them (in order) and each join's time.
async fn join_all(
    target: &Target,
    n: usize,
    room_size: usize,
    tag: &str,
) -> Result<(Vec<Peer>, Vec<Duration>, Duration)> {
    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let gate = gate.clone();
        let target = target.clone();
        let room = i / room_size.max(1);
        let tag = tag.to_owned();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await?;
            let t0 = Instant::now();
            let node = target.node(i, room, room_size);
            let (sender, mut receiver, id) =
                client::connect(node, target.source(i), target.transport).await?;
            sender.emit(
                "join-room",
                &json!({"roomId": format!("{tag}-{room}"), "userName": format!("peer {i}")}),
            )?;
            receiver.expect("init-users").await?;
            anyhow::Ok((
                Peer {
                    sender,
                    receiver,
                    id,
                    room,
                },
                t0.elapsed(),
            ))
        }));
    }
    let mut peers = Vec::with_capacity(n);
    let mut joins = Vec::with_capacity(n);
    for task in tasks {
        let (peer, took) = task.await??;
        peers.push(peer);
        joins.push(took);
    }
    let took = started.elapsed();
    if !target.more_nodes.is_empty() {
        // Earlier joiners' nodes hear of later ones through Redis, a moment after their
        // `init-users`: let that settle before the load starts (a page signals once told).
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok((peers, joins, took))
}

/// `idle`: N peers in rooms of 4, held for `hold`, answering pings.
pub async fn idle(target: &Target, n: usize, hold: Duration) -> Result<Value> {
    let rss_before = proc::rss_bytes(target.pid);
    let (peers, mut joins, took) = join_all(target, n, 4, "idle").await?;
    let rss_joined = proc::rss_bytes(target.pid);
    let alive = Arc::new(AtomicU64::new(n as u64));
    let mut holders = Vec::new();
    for mut peer in peers {
        let alive = alive.clone();
        holders.push(tokio::spawn(async move {
            let deadline = tokio::time::sleep(hold);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    _ = &mut deadline => return peer,
                    event = peer.receiver.next() => if event.is_none() {
                        alive.fetch_sub(1, Ordering::Relaxed);
                        return peer;
                    },
                }
            }
        }));
    }
    let mut held = Vec::new();
    for holder in holders {
        held.push(holder.await?);
    }
    let rss_after = proc::rss_bytes(target.pid);
    for peer in &held {
        peer.sender.close();
    }
    let join = percentiles(&mut joins);
    Ok(json!({
        "scenario": "idle", "peers": n, "hold_s": hold.as_secs_f64(),
        "handshakes_per_s": n as f64 / took.as_secs_f64(),
        "join_p50_us": join.p50_us, "join_p99_us": join.p99_us,
        "survived": alive.load(Ordering::Relaxed),
        "rss_before_bytes": rss_before, "rss_joined_bytes": rss_joined, "rss_after_bytes": rss_after,
        "rss_per_peer_bytes": rss_after.saturating_sub(rss_before) as f64 / n.max(1) as f64,
    }))
}

/// A signal payload: sequence, send time (µs since `epoch`) and padding.
fn payload(seq: u64, epoch: Instant, pad: &str) -> Value {
    json!({"seq": seq, "t": epoch.elapsed().as_micros() as u64, "pad": pad})
}

fn latency(data: &Value, epoch: Instant) -> Option<Duration> {
    let sent = data["signal"]["t"].as_u64()?;
    Some(Duration::from_micros(
        (epoch.elapsed().as_micros() as u64).saturating_sub(sent),
    ))
}

/// `relay`: N peers in rooms of 4, each sending `rate` signals/s with `pad` bytes to a random
/// room peer for `duration`; then a bounded grace period for messages in flight.
pub async fn relay(
    target: &Target,
    n: usize,
    rate: f64,
    pad: usize,
    duration: Duration,
) -> Result<Value> {
    let (peers, _, _) = join_all(target, n, 4, "relay").await?;
    let padding = "x".repeat(pad);
    let epoch = Instant::now();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let delivered = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let rooms: Vec<Vec<String>> = {
        let mut rooms = vec![Vec::new(); n.div_ceil(4)];
        for peer in &peers {
            rooms[peer.room].push(peer.id.clone());
        }
        rooms
    };
    let cpu_before = proc::cpu_time(target.pid);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for peer in peers {
        let Peer {
            sender,
            mut receiver,
            id,
            room,
        } = peer;
        let mates: Vec<String> = rooms[room].iter().filter(|m| **m != id).cloned().collect();
        let (samples, delivered, sent, padding) = (
            samples.clone(),
            delivered.clone(),
            sent.clone(),
            padding.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut local = Vec::new();
            let stop_sending = started + duration;
            let stop_reading = stop_sending + Duration::from_secs(2);
            // Another peer may still emit just after `stop_sending` (its timer fired first): an
            // early exit before this would close a connection a last signal is on its way to.
            let settled = stop_sending + Duration::from_millis(500);
            let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
            // Spread first sends so peers do not fire in lockstep.
            let offset = Duration::from_secs_f64(rand::rng().random_range(0.0..period.as_secs_f64()));
            let mut next = tokio::time::Instant::now() + offset;
            let mut seq = 0;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(next), if Instant::now() < stop_sending && !mates.is_empty() => {
                        let to = &mates[rand::rng().random_range(0..mates.len())];
                        if sender.emit("signal", &json!({"to": to, "signal": payload(seq, epoch, &padding)})).is_ok() {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                        seq += 1;
                        next += period;
                    }
                    _ = tokio::time::sleep_until(stop_reading.into()) => break,
                    event = receiver.next() => match event {
                        Some((name, data)) if name == "signal" => {
                            delivered.fetch_add(1, Ordering::Relaxed);
                            local.extend(latency(&data, epoch));
                            if Instant::now() >= settled && delivered.load(Ordering::Relaxed) >= sent.load(Ordering::Relaxed) {
                                break;
                            }
                        }
                        Some(_) => {}
                        None => break,
                    },
                }
            }
            samples.lock().await.extend(local);
            sender.close();
        }));
    }
    for task in tasks {
        task.await?;
    }
    let cpu = proc::cpu_time(target.pid).saturating_sub(cpu_before);
    let mut all = std::mem::take(&mut *samples.lock().await);
    let lat: Percentiles = percentiles(&mut all);
    let (sent, delivered) = (
        sent.load(Ordering::Relaxed),
        delivered.load(Ordering::Relaxed),
    );
    Ok(json!({
        "scenario": "relay", "peers": n, "rate_per_peer": rate, "pad_bytes": pad, "duration_s": duration.as_secs_f64(),
        "sent": sent, "delivered": delivered, "lost": sent.saturating_sub(delivered),
        "latency": lat, "server_cpu_percent": 100.0 * cpu.as_secs_f64() / duration.as_secs_f64(),
    }))
}

/// `flood`: `pairs` pairs, each relaying closed-loop with `window` signals in flight (every
/// received signal is answered), for `duration`.
pub async fn flood(
    target: &Target,
    pairs: usize,
    window: usize,
    duration: Duration,
) -> Result<Value> {
    let (peers, _, _) = join_all(target, pairs * 2, 2, "flood").await?;
    let epoch = Instant::now();
    let relayed = Arc::new(AtomicU64::new(0));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    let mut peers = peers.into_iter();
    while let (Some(a), Some(b)) = (peers.next(), peers.next()) {
        for seq in 0..window as u64 {
            a.sender.emit(
                "signal",
                &json!({"to": b.id, "signal": payload(seq, epoch, "")}),
            )?;
        }
        for (mut receiver, sender, other) in [
            (a.receiver, a.sender, b.id.clone()),
            (b.receiver, b.sender, a.id.clone()),
        ] {
            let (relayed, samples) = (relayed.clone(), samples.clone());
            tasks.push(tokio::spawn(async move {
                let mut local = Vec::new();
                let stop = started + duration;
                loop {
                    let event = tokio::time::timeout_at(stop.into(), receiver.next()).await;
                    let Ok(Some((name, data))) = event else { break };
                    if name != "signal" {
                        continue;
                    }
                    relayed.fetch_add(1, Ordering::Relaxed);
                    if local.len() < 200_000 {
                        local.extend(latency(&data, epoch));
                    }
                    let seq = data["signal"]["seq"].as_u64().unwrap_or(0);
                    let _ = sender.emit(
                        "signal",
                        &json!({"to": other, "signal": payload(seq, epoch, "")}),
                    );
                }
                samples.lock().await.extend(local);
                sender.close();
            }));
        }
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started
        .elapsed()
        .min(duration)
        .max(Duration::from_millis(1));
    let mut all = std::mem::take(&mut *samples.lock().await);
    let total = relayed.load(Ordering::Relaxed);
    Ok(json!({
        "scenario": "flood", "pairs": pairs, "window": window, "duration_s": duration.as_secs_f64(),
        "relayed": total, "relayed_per_s": total as f64 / elapsed.as_secs_f64(),
        "latency": percentiles(&mut all),
    }))
}

/// `churn`: `n` workers each connect, join one of `rooms` rooms, signal a room mate if there is
/// one, disconnect, and start again, for `duration`.
pub async fn churn(target: &Target, n: usize, rooms: usize, duration: Duration) -> Result<Value> {
    let rss_before = proc::rss_bytes(target.pid);
    let joins = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..n {
        let (target, joins, errors) = (target.clone(), joins.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut round = 0usize;
            while started.elapsed() < duration {
                let once = async {
                    let (sender, mut receiver, _) = client::connect(target.server, target.source(worker + round), target.transport).await?;
                    let room = rand::rng().random_range(0..rooms.max(1));
                    sender.emit("join-room", &json!({"roomId": format!("churn-{room}"), "userName": format!("w{worker}")}))?;
                    let users = receiver.expect("init-users").await?;
                    if let Some(mate) = users.as_array().and_then(|u| u.first()) {
                        sender.emit("signal", &json!({"to": mate["id"], "signal": {"type": "offer"}}))?;
                    }
                    sender.close();
                    anyhow::Ok(())
                };
                match tokio::time::timeout(Duration::from_secs(10), once).await {
                    Ok(Ok(())) => joins.fetch_add(1, Ordering::Relaxed),
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
                round += 1;
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed();
    // Let the server notice the last disconnects before reading its memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = proc::rss_bytes(target.pid);
    let joins = joins.load(Ordering::Relaxed);
    Ok(json!({
        "scenario": "churn", "workers": n, "duration_s": duration.as_secs_f64(),
        "joins": joins, "joins_per_s": joins as f64 / elapsed.as_secs_f64(),
        "errors": errors.load(Ordering::Relaxed),
        "rss_before_bytes": rss_before, "rss_after_bytes": rss_after,
        "rss_drift_bytes": rss_after as i64 - rss_before as i64,
    }))
}
