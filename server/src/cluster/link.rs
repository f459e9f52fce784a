//! What the cluster's tasks share: the [`Link`] the hub talks to (this node, its settings, and
//! the queues to the writer and the subscription), and how the node stands ([`ClusterStatus`]).

use std::time::Duration;

use redis::Value;
use tokio::sync::{mpsc, oneshot, watch};

use super::namespace::{Namespace, Script, Scripts};
use crate::hub::Hub;
use crate::hub::cluster::NodeId;

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
    /// A node that has not reached Redis yet.
    pub(super) fn new(node: String) -> Self {
        Self {
            node,
            connected: false,
            nodes: 0,
            subscribed: false,
            beating: false,
        }
    }

    pub(super) fn set_subscribed(&mut self, up: bool) {
        self.subscribed = up;
        self.connected = self.subscribed && self.beating;
    }

    pub(super) fn set_beating(&mut self, up: bool) {
        self.beating = up;
        self.connected = self.subscribed && self.beating;
    }
}

/// What the writer sends to Redis, in order.
pub(super) enum Command {
    Publish {
        channel: String,
        payload: String,
    },
    Eval {
        script: Script,
        args: Vec<String>,
        reply: Option<oneshot::Sender<Option<Value>>>,
    },
}

/// What the subscription is asked to follow or forget.
pub(super) enum Subscription {
    Follow(String, oneshot::Sender<bool>),
    Forget(String),
}

/// This node as the hub and the cluster's tasks see it.
pub(super) struct Link {
    pub(super) node: NodeId,
    pub(super) access: crate::rooms::RoomAccess,
    pub(super) mesh_max: i64,
    pub(super) ns: Namespace,
    pub(super) scripts: Scripts,
    pub(super) cap: usize,
    pub(super) node_timeout: Duration,
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) subscriptions: mpsc::UnboundedSender<Subscription>,
}

/// Changes how this node stands, for `/health` and `/metrics` alike.
pub(super) fn set_status(
    hub: &Hub,
    status: &watch::Sender<ClusterStatus>,
    change: impl FnOnce(&mut ClusterStatus),
) {
    status.send_modify(change);
    let now = status.borrow();
    hub.metrics().cluster_status(now.nodes, now.connected);
}
