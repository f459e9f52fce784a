//! The one connection that subscribes: the node's own channel and those of the rooms it has
//! members in. When Redis comes back after a cut, it subscribes again and catches each room up
//! (RESYNC), since what this node missed meanwhile is unknown.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::Value;
use tokio::sync::{mpsc, oneshot, watch};

use super::connection::Redis;
use super::link::{ClusterStatus, Command, Link, Subscription, set_status};
use super::message;
use super::replies::{snapshot_of, text};
use super::scripts::flag;
use crate::hub::Hub;
use crate::hub::cluster::NodeId;
use crate::metrics::Direction;

/// The subscribing connection: the node's own channel and those of the rooms it follows;
/// reconnects, and catches the rooms up, when Redis comes back.
pub(super) async fn subscribe(
    redis: Redis,
    hub: Hub,
    link: Arc<Link>,
    mut requests: mpsc::UnboundedReceiver<Subscription>,
    status: watch::Sender<ClusterStatus>,
) {
    let mut pause = Duration::from_millis(100);
    let mut first = true;
    for attempt in 0.. {
        match redis.subscriber(attempt).get_async_pubsub().await {
            Ok(pubsub) => {
                let (mut sink, mut stream) = pubsub.split();
                let mut channels = vec![link.ns.node_channel(&link.node)];
                channels.extend(hub.followed_rooms().iter().map(|r| link.ns.room_channel(r)));
                let mut ok = true;
                for channel in &channels {
                    ok &= sink.subscribe(channel).await.is_ok();
                }
                if ok {
                    pause = Duration::from_millis(100);
                    set_status(&hub, &status, |s| s.set_subscribed(true));
                    if !first {
                        catch_up_twice(&hub, &link);
                    }
                    first = false;
                    loop {
                        tokio::select! {
                            message = stream.next() => {
                                let Some(message) = message else { break };
                                hub.metrics().cluster_messages(Direction::received, 1);
                                match message::decode(message.get_payload_bytes()) {
                                    Ok(remote) => hub.apply_remote(remote),
                                    Err(error) => log_private!(warn, [%error,], [channel = message.get_channel_name(),], [], "ignored a cluster message"),
                                }
                            }
                            request = requests.recv() => match request {
                                Some(Subscription::Follow(channel, done)) => {
                                    let _ = done.send(sink.subscribe(&channel).await.is_ok());
                                }
                                Some(Subscription::Forget(channel)) => {
                                    let _ = sink.unsubscribe(&channel).await;
                                }
                                None => return,
                            },
                        }
                    }
                }
                set_status(&hub, &status, |s| s.set_subscribed(false));
                tracing::warn!("lost the cluster's subscription connection: reconnecting");
            }
            Err(error) => {
                tracing::warn!(%error, "cannot subscribe to the cluster's channels: retrying")
            }
        }
        // Follow requests made meanwhile cannot be served: their joins are refused.
        while let Ok(request) = requests.try_recv() {
            if let Subscription::Follow(_, done) = request {
                let _ = done.send(false);
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// After the connection to Redis was cut, what this node missed is unknown: each followed room
/// is taken again from Redis at once (members this node missed join; its own are put back), and
/// once more two node timeouts later, when every live node has put its own back too: only then
/// is a member Redis no longer lists taken as gone, and only if its node was registered at
/// neither of two looks a node timeout apart (else a Redis restarted empty would make every
/// node see the others' people leave and come back; and a live node whose own connection came
/// back a little later than this one's, not registered yet at one look, would lose its people
/// here: a spurious `user-left` the Redis-restart test caught now and then).
pub(super) fn catch_up_twice(hub: &Hub, link: &Arc<Link>) {
    let (hub, link) = (hub.clone(), link.clone());
    tokio::spawn(async move {
        catch_up(&hub, &link, None).await;
        tokio::time::sleep(link.node_timeout).await;
        let Some(earlier) = registered_nodes(&link).await else {
            return;
        };
        tokio::time::sleep(link.node_timeout).await;
        let Some(now) = registered_nodes(&link).await else {
            return;
        };
        let live: HashSet<NodeId> = earlier.union(&now).cloned().collect();
        catch_up(&hub, &link, Some(live)).await;
    });
}

/// The nodes registered in Redis now.
pub(super) async fn registered_nodes(link: &Link) -> Option<HashSet<NodeId>> {
    let (reply, answer) = oneshot::channel();
    let _ = link.commands.send(Command::Eval {
        script: link.scripts.nodes.clone(),
        args: Vec::new(),
        reply: Some(reply),
    });
    match answer.await {
        Ok(Some(Value::Array(nodes))) => {
            Some(nodes.iter().filter_map(text).map(NodeId::from).collect())
        }
        _ => None,
    }
}

/// Takes every followed room again from Redis; with `live` (the last look), a remote member
/// Redis no longer lists leaves if its node is not among those nodes, and a media home that is
/// not among them is replaced. A home Redis lost is put back.
pub(super) async fn catch_up(hub: &Hub, link: &Link, live: Option<HashSet<NodeId>>) {
    for room in hub.followed_rooms() {
        let joining: Vec<String> = hub.joining(&room).iter().map(ToString::to_string).collect();
        let home = hub.media_home_of(&room);
        // Dead: registered at neither of the two looks (only the last look knows).
        let dead = match (&home, &live) {
            (Some(home), Some(live)) => !live.contains(home),
            _ => false,
        };
        let mut args = vec![
            room.to_string(),
            link.node.to_string(),
            joining.join(","),
            home.map(|h| h.to_string()).unwrap_or_default(),
            flag(dead),
        ];
        for (peer, name, sfu) in hub.local_members(&room) {
            args.push(peer.to_string());
            args.push(name.as_str().to_owned());
            args.push(flag(sfu));
        }
        let (reply, answer) = oneshot::channel();
        let _ = link.commands.send(Command::Eval {
            script: link.scripts.resync.clone(),
            args,
            reply: Some(reply),
        });
        if let Ok(Some(Value::Array(items))) = answer.await
            && let Some(snapshot) = snapshot_of(&items)
        {
            hub.resync(&room, snapshot, live.as_ref());
        }
    }
}
