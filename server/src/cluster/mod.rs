//! Cluster mode (`--cluster redis://…`): several nodes serve the same rooms through one Redis.
//! The hub still decides everything for its own peers (`hub/cluster.rs` is its half); this
//! module carries, one concern per file: `admission` admits joins with an atomic script (the
//! room's cap counted over every node) and hands what other nodes must hear to `writer`, the
//! one connection that writes, in order, so one sender's events reach every other node in the
//! order they were sent; `subscription`, the one connection that subscribes, follows the
//! channels of the rooms this node has members in and catches them up after a cut;
//! `heartbeat` keeps the node registered and reaps the nodes that died without a goodbye;
//! `message` and `replies` read what comes back, `scripts` and `namespace` are what is
//! run and where. This file holds what they share: the `Link` the hub talks to and the
//! node's `ClusterStatus`. The design, and what happens when Redis or a node fails, is in
//! docs/scaling.md.

mod admission;
mod connection;
mod heartbeat;
mod link;
mod message;
pub mod namespace;
mod replies;
mod scripts;
mod subscription;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use tokio::sync::{mpsc, oneshot, watch};

use crate::hub::Hub;
use crate::hub::cluster::NodeId;
use connection::Redis;
pub use link::ClusterStatus;
use link::{Command, Link};

use namespace::Namespace;

/// What `--cluster` configures.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `redis://host:port/`, or several such addresses, comma-separated, of one Redis Cluster.
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
    #[error("--cluster names no Redis address")]
    NoAddress,
    #[error(
        "--cluster names several addresses, which is for a Redis Cluster, but {0} is a Redis on its own (cluster_enabled:0): give its one address"
    )]
    NotACluster(String),
    #[error(
        "{0} is a node of a Redis Cluster, which has only database 0: leave the database out of the address (deployments sharing it tell themselves apart by --cluster-prefix)"
    )]
    ClusterDatabase(String),
    #[error("cannot reach Redis at {url}: {source}")]
    Connect {
        url: String,
        source: redis::RedisError,
    },
    #[error(
        "node {node} of this cluster runs {theirs}, this one {ours}: every node must send rooms' media the same way (the joining node's policy decides where a room's media goes); start this one with {theirs}, or stop every node to change it"
    )]
    MediaPolicy {
        node: String,
        theirs: String,
        ours: String,
    },
}

/// A node's membership of the cluster; dropped or stopped, the node leaves it.
pub struct Cluster {
    link: Arc<Link>,
    status: watch::Receiver<ClusterStatus>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Cluster {
    /// Connects to Redis, registers this node and attaches the cluster to `hub`.
    pub async fn start(options: ClusterOptions, hub: Hub) -> Result<Cluster, ClusterError> {
        let redis = Redis::open(&options).await?;
        let unreachable = |source| ClusterError::Connect {
            url: shown_url(&options.url),
            source,
        };
        let ns = Namespace::new(&options.prefix, redis.db());
        let connection = redis
            .connect(options.node_timeout / 2, &ns.key("nodes"))
            .await
            .map_err(unreachable)?;
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
        let link = Arc::new(Link {
            node: node.clone(),
            access: options.access,
            mesh_max: scripts::mesh_max(options.media),
            scripts: ns.scripts(),
            ns,
            cap: options.max_peers_per_room,
            node_timeout: options.node_timeout,
            commands,
            subscriptions,
        });
        let (status_tx, status) = watch::channel(ClusterStatus::new(node.to_string()));
        let ours = scripts::policy_flags(options.media);
        let clash: Vec<String> = link
            .scripts
            .policy
            .run(&mut connection.clone(), &[node.to_string(), ours.clone()])
            .await
            .map_err(unreachable)?;
        if let [node, theirs] = clash.as_slice() {
            return Err(ClusterError::MediaPolicy {
                node: node.clone(),
                theirs: theirs.clone(),
                ours,
            });
        }
        // Registered before any peer can join, so that no join is refused as from a dead node.
        let mut heartbeat_connection = connection.clone();
        let alive: i64 = heartbeat::alive(&link, options.node_timeout, &mut heartbeat_connection)
            .await
            .map_err(unreachable)?;
        let url = shown_url(&options.url);
        tracing::info!(node = %node, alive, %url, redis = redis.kind(), "joined the cluster");
        hub.attach_cluster(link.clone());
        let metrics = hub.metrics().clone();
        let tasks = vec![
            tokio::spawn(writer::write(connection.clone(), command_queue, metrics)),
            tokio::spawn(subscription::subscribe(
                redis,
                hub.clone(),
                link.clone(),
                subscription_queue,
                status_tx.clone(),
            )),
            tokio::spawn(heartbeat::heartbeat(
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
