//! Cluster mode (`--cluster redis://…`): several nodes serve the same rooms through one Redis.
//! The hub still decides everything for its own peers (`hub/cluster.rs` is its half); this
//! module carries: it admits joins with an atomic script (the room's cap counted over every
//! node), publishes what other nodes must hear on Redis channels, follows the channels of the
//! rooms this node has members in, and keeps the node's heartbeat and the reaping of nodes that
//! died without a goodbye. One connection writes, in order, so one sender's events reach every
//! other node in the order they were sent; one connection subscribes. The design, and what
//! happens when Redis or a node fails, is in docs/scaling.md.

mod message;
pub mod namespace;
mod scripts;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rand::RngExt;
use redis::Value;
use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, oneshot, watch};

use crate::hub::Hub;
use crate::hub::cluster::{
    Admission, ClusterLink, Effect, JoinRequest, NodeId, RemoteMember, Snapshot,
};
use crate::metrics::{Direction, Metrics};
use crate::rooms::{Invitation, KeyDigest, Refusal};
use crate::wire::{PeerId, RoomId, UserName};

use namespace::{Namespace, Scripts};

/// What `--cluster` configures.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `redis://host:port/`.
    pub url: String,
    /// How long a node may stay silent before the others take its peers out of their rooms.
    pub node_timeout: Duration,
    /// The room cap, counted over every node.
    pub max_peers_per_room: usize,
    /// What this deployment's keys and channels start with (checked: `namespace::check_prefix`).
    pub prefix: String,
    /// For `rediss://`: a PEM certificate authority to trust instead of the system's.
    pub ca: Option<std::path::PathBuf>,
    /// Whether rooms without an invitation may be entered by name (`--room-access`).
    pub access: crate::rooms::RoomAccess,
    /// When a room's media moves to a server (`--media`, `--mesh-max`): decided in Redis at each
    /// join, so that every node sees the move at the same point of the room's history.
    pub media: crate::rooms::MediaPolicy,
}

/// The policy as the JOIN script takes it: the most people whose media goes browser to
/// browser, 0 for through the server from the first, -1 for never.
fn mesh_max(policy: crate::rooms::MediaPolicy) -> i64 {
    match policy {
        crate::rooms::MediaPolicy::Auto { mesh_max } => i64::try_from(mesh_max).unwrap_or(i64::MAX),
        crate::rooms::MediaPolicy::Sfu => 0,
        crate::rooms::MediaPolicy::Mesh => -1,
    }
}

/// A yes or no as the scripts take it.
fn flag(yes: bool) -> String {
    if yes { "1" } else { "0" }.into()
}

/// The Redis client for `--cluster`: plain, or TLS for `rediss://` (rustls with the ring
/// provider, as the HTTPS side; the system's roots, or `--cluster-ca`).
fn client(options: &ClusterOptions) -> Result<redis::Client, ClusterError> {
    let bad_url = |source| ClusterError::Url {
        url: shown_url(&options.url),
        source,
    };
    if !options.url.starts_with("rediss://") {
        return redis::Client::open(options.url.as_str()).map_err(bad_url);
    }
    // redis builds its TLS configuration with the process's default provider; another part of
    // the program may have installed it already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root_cert = match &options.ca {
        Some(path) => Some(std::fs::read(path).map_err(|source| ClusterError::Ca {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    let certificates = redis::TlsCertificates {
        client_tls: None,
        root_cert,
    };
    redis::Client::build_with_tls(options.url.as_str(), certificates).map_err(bad_url)
}

/// A Redis URL as logs and errors show it: its password replaced by `****`.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((credentials, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = credentials.split_once(':').map_or("", |(user, _)| user);
    format!("{scheme}://{user}:****@{host}{path}")
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("bad --cluster address {url}: {source}")]
    Url {
        url: String,
        source: redis::RedisError,
    },
    #[error("cannot read --cluster-ca {path}: {source}")]
    Ca {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot reach Redis at {url}: {source}")]
    Connect {
        url: String,
        source: redis::RedisError,
    },
}

/// How this node stands with the cluster, for `/health` and `/metrics`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterStatus {
    pub node: String,
    /// Both Redis connections are up and the heartbeat was accepted: `subscribed` and `beating`
    /// together. Each connection comes back on its own after Redis does (the subscription up to
    /// 2 s later), and until the subscription is back, what other nodes send this one is lost.
    pub connected: bool,
    /// Nodes registered in Redis at the last heartbeat.
    pub nodes: usize,
    /// The subscription to this node's channels is up.
    #[serde(skip)]
    subscribed: bool,
    /// The last heartbeat was accepted.
    #[serde(skip)]
    beating: bool,
}

impl ClusterStatus {
    fn set_subscribed(&mut self, up: bool) {
        self.subscribed = up;
        self.connected = self.subscribed && self.beating;
    }

    fn set_beating(&mut self, up: bool) {
        self.beating = up;
        self.connected = self.subscribed && self.beating;
    }
}

enum Command {
    Publish {
        channel: String,
        payload: String,
    },
    Eval {
        script: Arc<str>,
        args: Vec<String>,
        reply: Option<oneshot::Sender<Option<Value>>>,
    },
}

enum Subscription {
    Follow(String, oneshot::Sender<bool>),
    Forget(String),
}

struct Link {
    node: NodeId,
    access: crate::rooms::RoomAccess,
    mesh_max: i64,
    ns: Namespace,
    scripts: Scripts,
    cap: usize,
    node_timeout: Duration,
    commands: mpsc::UnboundedSender<Command>,
    subscriptions: mpsc::UnboundedSender<Subscription>,
}

/// A node's membership of the cluster; dropped or stopped, the node leaves it.
pub struct Cluster {
    link: Arc<Link>,
    status: watch::Receiver<ClusterStatus>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How long a private meeting's invitation lasts in Redis after it was made or last used.
const INVITATION_SECONDS: u64 = crate::rooms::INVITATION_IDLE_MS / 1000;

/// How long a join waits for Redis before it is refused as "cluster unavailable".
const ADMISSION_TIMEOUT: Duration = Duration::from_secs(3);

impl Cluster {
    /// Connects to Redis, registers this node and attaches the cluster to `hub`.
    pub async fn start(options: ClusterOptions, hub: Hub) -> Result<Cluster, ClusterError> {
        let client = client(&options)?;
        // Redis's default 500 ms for an answer lost whole pipelines (a media offer, a chat) on a
        // busy machine: five browsers beside three nodes and Redis on two cores took longer now
        // and then. A Redis that is really gone is noticed by the heartbeat within the node timeout.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(options.node_timeout / 2));
        let connection = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|source| ClusterError::Connect {
                url: shown_url(&options.url),
                source,
            })?;
        let node: NodeId = {
            let mut bytes = [0u8; 6];
            rand::rng().fill(&mut bytes);
            bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into()
        };
        let (commands, command_queue) = mpsc::unbounded_channel();
        let (subscriptions, subscription_queue) = mpsc::unbounded_channel();
        let ns = Namespace::new(
            &options.prefix,
            client.get_connection_info().redis_settings().db(),
        );
        let link = Arc::new(Link {
            node: node.clone(),
            access: options.access,
            mesh_max: mesh_max(options.media),
            scripts: ns.scripts(),
            ns,
            cap: options.max_peers_per_room,
            node_timeout: options.node_timeout,
            commands,
            subscriptions,
        });
        let (status_tx, status) = watch::channel(ClusterStatus {
            node: node.to_string(),
            connected: false,
            nodes: 0,
            subscribed: false,
            beating: false,
        });
        // Registered before any peer can join, so that no join is refused as from a dead node.
        let mut heartbeat_connection = connection.clone();
        let alive: i64 = alive(&link, options.node_timeout)
            .query_async(&mut heartbeat_connection)
            .await
            .map_err(|source| ClusterError::Connect {
                url: shown_url(&options.url),
                source,
            })?;
        let url = shown_url(&options.url);
        tracing::info!(node = %node, alive, %url, "joined the cluster");
        hub.attach_cluster(link.clone());
        let metrics = hub.metrics().clone();
        let tasks = vec![
            tokio::spawn(write(connection.clone(), command_queue, metrics)),
            tokio::spawn(subscribe(
                client,
                hub.clone(),
                link.clone(),
                subscription_queue,
                status_tx.clone(),
            )),
            tokio::spawn(heartbeat(
                connection,
                hub,
                link.clone(),
                options.node_timeout,
                status_tx,
            )),
        ];
        Ok(Cluster {
            link,
            status,
            tasks,
        })
    }

    /// How this node stands with the cluster.
    pub fn status(&self) -> ClusterStatus {
        self.status.borrow().clone()
    }

    /// A graceful stop: this node's peers leave their rooms cluster-wide at once (the others
    /// need not wait for the node timeout).
    pub async fn leave(&self) {
        let (reply, answer) = oneshot::channel();
        let _ = self.link.commands.send(Command::Eval {
            script: self.link.scripts.reap.clone(),
            args: vec![self.link.node.to_string(), "1".into()],
            reply: Some(reply),
        });
        match tokio::time::timeout(Duration::from_secs(2), answer).await {
            Ok(Ok(Some(_))) => tracing::info!(node = %self.link.node, "left the cluster"),
            _ => {
                tracing::warn!(node = %self.link.node, "could not tell the cluster this node leaves: the others will notice within the node timeout")
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl ClusterLink for Link {
    fn node(&self) -> &NodeId {
        &self.node
    }

    fn admit(&self, hub: Hub, request: JoinRequest, subscribe: bool) {
        let commands = self.commands.clone();
        let subscriptions = self.subscriptions.clone();
        let args = vec![
            request.room.to_string(),
            request.peer.to_string(),
            request.name.as_str().to_owned(),
            self.node.to_string(),
            self.cap.to_string(),
            request.key.map(|k| k.to_hex()).unwrap_or_default(),
            match self.access {
                crate::rooms::RoomAccess::Open => "open".into(),
                crate::rooms::RoomAccess::Link => "link".into(),
            },
            INVITATION_SECONDS.to_string(),
            flag(request.sfu),
            self.mesh_max.to_string(),
        ];
        let room = request.room.clone();
        let cap = self.cap;
        let channel = self.ns.room_channel(&room);
        let join = self.scripts.join.clone();
        tokio::spawn(async move {
            let admission = tokio::time::timeout(ADMISSION_TIMEOUT, async {
                if subscribe {
                    let (followed, answer) = oneshot::channel();
                    let _ = subscriptions.send(Subscription::Follow(channel, followed));
                    if answer.await != Ok(true) {
                        return Admission::Unavailable;
                    }
                }
                let (reply, answer) = oneshot::channel();
                let _ = commands.send(Command::Eval {
                    script: join,
                    args,
                    reply: Some(reply),
                });
                match answer.await {
                    Ok(Some(value)) => admission_of(&value, cap),
                    _ => Admission::Unavailable,
                }
            })
            .await
            .unwrap_or(Admission::Unavailable);
            hub.admitted(request, admission);
        });
    }

    fn publish(&self, effect: Effect) {
        let command = match &effect {
            Effect::Left { room, peer } => Command::Eval {
                script: self.scripts.leave.clone(),
                args: vec![room.to_string(), peer.to_string(), self.node.to_string()],
                reply: None,
            },
            other => match message::encode(other, &self.ns) {
                Some((channel, payload)) => Command::Publish { channel, payload },
                None => return,
            },
        };
        let _ = self.commands.send(command);
    }

    fn invite(&self, room: RoomId, invitation: Invitation) -> oneshot::Receiver<Option<bool>> {
        let (reply, answer) = oneshot::channel();
        let digests = serde_json::json!({
            "guest": invitation.guest.to_hex(),
            "host": invitation.host.to_hex(),
        });
        let (made, made_answer) = oneshot::channel();
        let _ = self.commands.send(Command::Eval {
            script: self.scripts.invite.clone(),
            args: vec![
                room.to_string(),
                digests.to_string(),
                INVITATION_SECONDS.to_string(),
            ],
            reply: Some(made),
        });
        tokio::spawn(async move {
            let answer = match made_answer.await {
                Ok(Some(Value::Int(made))) => Some(made == 1),
                _ => None,
            };
            let _ = reply.send(answer);
        });
        answer
    }

    fn forget_room(&self, room: RoomId) {
        let _ = self
            .subscriptions
            .send(Subscription::Forget(self.ns.room_channel(&room)));
    }
}

/// Changes how this node stands, for `/health` and `/metrics` alike.
fn set_status(
    hub: &Hub,
    status: &watch::Sender<ClusterStatus>,
    change: impl FnOnce(&mut ClusterStatus),
) {
    status.send_modify(change);
    let now = status.borrow();
    hub.metrics().cluster_status(now.nodes, now.connected);
}

/// Reads JOIN's answer.
fn admission_of(value: &Value, cap: usize) -> Admission {
    let Value::Array(items) = value else {
        return Admission::Unavailable;
    };
    match items.first().and_then(text).as_deref() {
        Some("ok") => match (items.get(1).and_then(text), snapshot_of(&items[2..])) {
            (Some(invitation), Some(snapshot)) => {
                Admission::Admitted(snapshot, invitation_of(&invitation))
            }
            _ => Admission::Unavailable,
        },
        Some("full") => Admission::Full { limit: cap },
        Some("needs-link") => Admission::Refused(Refusal::NeedsLink),
        Some("wrong-key") => Admission::Refused(Refusal::WrongKey),
        Some("needs-sfu") => Admission::NeedsSfu,
        _ => Admission::Unavailable,
    }
}

/// A private meeting's invitation as `invite:R` keeps it (`""` for none).
fn invitation_of(text: &str) -> Option<Invitation> {
    #[derive(serde::Deserialize)]
    struct Digests {
        guest: String,
        host: String,
    }
    let digests: Digests = serde_json::from_str(text).ok()?;
    Some(Invitation {
        guest: KeyDigest::from_hex(&digests.guest)?,
        host: KeyDigest::from_hex(&digests.host)?,
        last_used_ms: 0,
        lobby: false,
    })
}

/// `seq, home, peer, {name, node, sfu}, peer, {name, node, sfu}, ...` as the scripts return a
/// room (`home` is `""` while its media goes browser to browser).
fn snapshot_of(items: &[Value]) -> Option<Snapshot> {
    let seq = match items.first()? {
        Value::Int(n) => u64::try_from(*n).ok()?,
        _ => return None,
    };
    let home = text(items.get(1)?)?;
    let home = (!home.is_empty()).then(|| NodeId::from(home));
    let mut members = Vec::new();
    for pair in items[2..].chunks(2) {
        let [peer, entry] = pair else { continue };
        #[derive(serde::Deserialize)]
        struct Entry {
            name: String,
            node: String,
            #[serde(default)]
            sfu: bool,
        }
        let (Some(peer), Some(entry)) = (text(peer), text(entry)) else {
            continue;
        };
        let Ok(entry) = serde_json::from_str::<Entry>(&entry) else {
            continue;
        };
        let (Ok(peer), Ok(name)) = (peer.parse::<PeerId>(), UserName::parse(&entry.name)) else {
            continue;
        };
        members.push(RemoteMember {
            peer,
            name,
            node: entry.node.into(),
            sfu: entry.sfu,
        });
    }
    Some(Snapshot { seq, home, members })
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// The one writing connection: commands go out in the order they were queued, pipelined.
async fn write(
    mut connection: ConnectionManager,
    mut queue: mpsc::UnboundedReceiver<Command>,
    metrics: Arc<Metrics>,
) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, 512).await > 0 {
        let started = std::time::Instant::now();
        let mut pipe = redis::pipe();
        for command in &batch {
            match command {
                Command::Publish { channel, payload } => {
                    pipe.cmd("PUBLISH").arg(channel).arg(payload);
                }
                Command::Eval { script, args, .. } => {
                    pipe.cmd("EVAL").arg(&**script).arg(0).arg(args);
                }
            }
        }
        let answers: Result<Vec<Value>, _> = pipe.query_async(&mut connection).await;
        let failed = answers.is_err();
        if !failed {
            metrics.cluster_round_trip(started.elapsed().as_secs_f64());
            metrics.cluster_messages(Direction::sent, batch.len() as u64);
        }
        let mut answers = answers.unwrap_or_default().into_iter();
        if failed {
            tracing::warn!(
                lost = batch.len(),
                "Redis did not take this node's cluster messages: other nodes miss them"
            );
        }
        for command in batch.drain(..) {
            let answer = answers.next();
            if let Command::Eval {
                reply: Some(reply), ..
            } = command
            {
                let _ = reply.send(answer);
            }
        }
    }
}

/// The subscribing connection: the node's own channel and those of the rooms it follows;
/// reconnects, and catches the rooms up, when Redis comes back.
async fn subscribe(
    client: redis::Client,
    hub: Hub,
    link: Arc<Link>,
    mut requests: mpsc::UnboundedReceiver<Subscription>,
    status: watch::Sender<ClusterStatus>,
) {
    let mut pause = Duration::from_millis(100);
    let mut first = true;
    loop {
        match client.get_async_pubsub().await {
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
                                    Err(error) => tracing::warn!(%error, channel = message.get_channel_name(), "ignored a cluster message"),
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
fn catch_up_twice(hub: &Hub, link: &Arc<Link>) {
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
async fn registered_nodes(link: &Link) -> Option<HashSet<NodeId>> {
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
/// Redis no longer lists leaves if its node is not among those nodes.
async fn catch_up(hub: &Hub, link: &Link, live: Option<HashSet<NodeId>>) {
    for room in hub.followed_rooms() {
        let joining: Vec<String> = hub.joining(&room).iter().map(ToString::to_string).collect();
        let mut args = vec![room.to_string(), link.node.to_string(), joining.join(",")];
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

/// The heartbeat: this node registered and alive for `timeout` more (see `scripts::ALIVE`).
fn alive(link: &Link, timeout: Duration) -> redis::Cmd {
    let mut command = redis::cmd("EVAL");
    command
        .arg(&*link.scripts.alive)
        .arg(0)
        .arg(&*link.node)
        .arg(timeout.as_millis() as u64);
    command
}

/// Keeps this node alive in Redis and reaps the nodes that stopped doing so.
async fn heartbeat(
    mut connection: ConnectionManager,
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
        let alive: Result<i64, _> = alive(&link, timeout).query_async(&mut connection).await;
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
            let reaped: Result<i64, _> = redis::cmd("EVAL")
                .arg(&*link.scripts.reap)
                .arg(0)
                .arg(node)
                .arg("0")
                .query_async(&mut connection)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redis_url_is_shown_without_its_password() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379/", "redis://127.0.0.1:6379/"),
            (
                "redis://:s3cret@10.0.0.5:6379/2",
                "redis://:****@10.0.0.5:6379/2",
            ),
            (
                "rediss://fm:s3cret@redis.lan/",
                "rediss://fm:****@redis.lan/",
            ),
            ("rediss://s3cret@redis.lan", "rediss://:****@redis.lan"),
            ("redis://:p@ss@host/0", "redis://:****@host/0"),
        ] {
            assert_eq!(shown_url(url), shown, "{url}");
        }
    }
}
