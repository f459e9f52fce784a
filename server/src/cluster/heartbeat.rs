//! The heartbeat: this node keeps its key alive in Redis, steps down when the others declared
//! it dead, and reaps the nodes that went silent (their people leave their rooms, their rooms'
//! media gets a new home).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::connection::Connection;
use super::link::{ClusterStatus, Link, set_status};
use super::subscription::catch_up_twice;
use crate::hub::Hub;

/// The heartbeat: this node registered and alive for `timeout` more (see `scripts::ALIVE`).
pub(super) async fn alive(
    link: &Link,
    timeout: Duration,
    connection: &mut Connection,
) -> redis::RedisResult<i64> {
    let args = [link.node.to_string(), timeout.as_millis().to_string()];
    link.scripts.alive.run(connection, &args).await
}

/// Keeps this node alive in Redis and reaps the nodes that stopped doing so.
pub(super) async fn heartbeat(
    mut connection: Connection,
    hub: Hub,
    link: Arc<Link>,
    timeout: Duration,
    status: watch::Sender<ClusterStatus>,
) {
    let mut tick = tokio::time::interval(timeout / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        let alive = alive(&link, timeout, &mut connection).await;
        match alive {
            Ok(0) => {
                tracing::error!(node = %link.node, "the cluster declared this node dead (silent past the node timeout): closing every connection so that people reconnect to a live node");
                hub.close_all();
                // Its people are gone from every room: it can start over as a node with none.
                let cleared: Result<i64, _> = redis::cmd("DEL")
                    .arg(link.ns.key(&format!("reaped:{}", link.node)))
                    .query_async(&mut connection)
                    .await;
                if let Err(error) = cleared {
                    tracing::warn!(%error, "could not rejoin the cluster yet");
                }
                continue;
            }
            Ok(2) => {
                tracing::warn!(
                    "Redis had forgotten this node (restarted without its data?): publishing its rooms again"
                );
                catch_up_twice(&hub, &link);
            }
            Ok(_) => {
                hub.metrics()
                    .cluster_round_trip(started.elapsed().as_secs_f64());
                set_status(&hub, &status, |s| s.set_beating(true));
            }
            Err(error) => {
                tracing::warn!(%error, "cluster heartbeat failed");
                set_status(&hub, &status, |s| s.set_beating(false));
                continue;
            }
        }
        let nodes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(link.ns.key("nodes"))
            .query_async(&mut connection)
            .await
            .unwrap_or_default();
        set_status(&hub, &status, |s| s.nodes = nodes.len());
        for node in nodes.iter().filter(|n| n.as_str() != &*link.node) {
            let reaped: Result<i64, _> = link
                .scripts
                .reap
                .run(&mut connection, &[node.clone(), "0".into()])
                .await;
            if let Ok(count) = reaped
                && count >= 0
            {
                tracing::warn!(
                    node,
                    peers = count,
                    "a node went silent past the node timeout: its peers left their rooms"
                );
            }
        }
    }
}
