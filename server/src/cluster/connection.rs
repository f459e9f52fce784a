//! The Redis a cluster runs on: one server (with or without replicas), or a Redis Cluster, told
//! apart at start by asking the first address that answers. Every key of a deployment carries
//! one hash tag (`{fm}`, see `namespace.rs`), so on a Redis Cluster they all live in one slot:
//! the scripts stay atomic over rooms and nodes alike, and the writer's pipeline goes, in order,
//! to the one primary that holds them. Channels are not keys: a classic PUBLISH reaches the
//! subscribers of every node of a Redis Cluster, so the subscription connects to any one of the
//! given addresses (the next one when it is lost).

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::{ClusterError, ClusterOptions, shown_url};

/// Where the cluster's state lives.
// One per node, made once: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum Redis {
    Single(redis::Client),
    /// A Redis Cluster: the client routes commands by slot; `seeds` are the given addresses,
    /// which the subscription takes in turn.
    Cluster {
        client: ClusterClient,
        seeds: Vec<redis::Client>,
    },
}

impl Redis {
    /// The Redis of `--cluster`: one address, or several (comma-separated) of one Redis
    /// Cluster. A single address of a Redis Cluster node is enough: the others are learnt
    /// from it.
    pub(super) async fn open(options: &ClusterOptions) -> Result<Redis, ClusterError> {
        let urls: Vec<&str> = options
            .url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        let seeds = urls
            .iter()
            .map(|url| client(url, options.ca.as_deref()))
            .collect::<Result<Vec<_>, _>>()?;
        let Some((first, first_url)) = seeds.first().zip(urls.first()) else {
            return Err(ClusterError::NoAddress);
        };
        // Asked on database 0: a Redis Cluster refuses to select any other, and is told apart
        // from a mistyped address by its own answer.
        let info = first.get_connection_info().clone();
        let settings = info.redis_settings().clone().set_db(0);
        let probe = redis::Client::open(info.set_redis_settings(settings)).map_err(|source| {
            ClusterError::Url {
                url: shown_url(first_url),
                source,
            }
        })?;
        let mut probe = probe
            .get_multiplexed_async_connection()
            .await
            .map_err(|source| ClusterError::Connect {
                url: shown_url(first_url),
                source,
            })?;
        let info: String = redis::cmd("INFO")
            .arg("cluster")
            .query_async(&mut probe)
            .await
            .map_err(|source| ClusterError::Connect {
                url: shown_url(first_url),
                source,
            })?;
        if !info.lines().any(|line| line.trim() == "cluster_enabled:1") {
            return match <[redis::Client; 1]>::try_from(seeds) {
                Ok([single]) => Ok(Redis::Single(single)),
                Err(_) => Err(ClusterError::NotACluster(shown_url(first_url))),
            };
        }
        if let Some(url) = seeds
            .iter()
            .zip(&urls)
            .find(|(seed, _)| seed.get_connection_info().redis_settings().db() != 0)
            .map(|(_, url)| url)
        {
            return Err(ClusterError::ClusterDatabase(shown_url(url)));
        }
        let infos = seeds.iter().map(|s| s.get_connection_info().clone());
        let mut builder = ClusterClient::builder(infos)
            .response_timeout(options.node_timeout / 2)
            .connection_timeout(options.node_timeout / 2);
        if let Some(path) = &options.ca {
            builder = builder.certs(redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(read_ca(path)?),
            });
        }
        let client = builder.build().map_err(|source| ClusterError::Connect {
            url: shown_url(first_url),
            source,
        })?;
        Ok(Redis::Cluster { client, seeds })
    }

    /// A connection for commands; it reconnects by itself after Redis comes back.
    /// `slot_key`: a key of the deployment, whose slot a Redis Cluster's pipelines go to.
    pub(super) async fn connect(
        &self,
        response_timeout: Duration,
        slot_key: &str,
    ) -> Result<Connection, redis::RedisError> {
        Ok(match self {
            Redis::Single(client) => {
                // Redis's default 500 ms for an answer lost whole pipelines (a media offer, a
                // chat) on a busy machine: five browsers beside three nodes and Redis on two
                // cores took longer now and then. A Redis that is really gone is noticed by the
                // heartbeat within the node timeout.
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_response_timeout(Some(response_timeout));
                Connection::Single(
                    ConnectionManager::new_with_config(client.clone(), config).await?,
                )
            }
            Redis::Cluster { client, .. } => Connection::Cluster(
                client.get_async_connection().await?,
                Route::with_key(slot_key, SlotAddr::Master),
            ),
        })
    }

    /// The server the subscription uses at its `attempt`th connection.
    pub(super) fn subscriber(&self, attempt: usize) -> &redis::Client {
        match self {
            Redis::Single(client) => client,
            Redis::Cluster { seeds, .. } => &seeds[attempt % seeds.len()],
        }
    }

    /// The database number, which the channels' names carry (always 0 on a Redis Cluster).
    pub(super) fn db(&self) -> i64 {
        match self {
            Redis::Single(client) => client.get_connection_info().redis_settings().db(),
            Redis::Cluster { .. } => 0,
        }
    }

    /// How logs name it.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Redis::Single(_) => "redis",
            Redis::Cluster { .. } => "redis cluster",
        }
    }
}

/// A client for one address: plain, or TLS for `rediss://` (rustls with the aws-lc-rs provider, as
/// the HTTPS side; the system's roots, or `--cluster-ca`).
fn client(url: &str, ca: Option<&std::path::Path>) -> Result<redis::Client, ClusterError> {
    let bad_url = |source| ClusterError::Url {
        url: shown_url(url),
        source,
    };
    if !url.starts_with("rediss://") {
        return redis::Client::open(url).map_err(bad_url);
    }
    // redis builds its TLS configuration with the process's default provider; another part of
    // the program may have installed it already, which is as good.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let root_cert = ca.map(read_ca).transpose()?;
    let certificates = redis::TlsCertificates {
        client_tls: None,
        root_cert,
    };
    redis::Client::build_with_tls(url, certificates).map_err(bad_url)
}

fn read_ca(path: &std::path::Path) -> Result<Vec<u8>, ClusterError> {
    std::fs::read(path).map_err(|source| ClusterError::Ca {
        path: path.to_owned(),
        source,
    })
}

/// A connection to either kind of Redis, for `query_async`.
#[derive(Clone)]
pub(super) enum Connection {
    Single(ConnectionManager),
    /// With the route of the deployment's slot.
    Cluster(ClusterConnection, Route),
}

impl Connection {
    /// Runs `pipe` (made with `ignore_errors`: one answer per command, a refusal as
    /// `Value::ServerError`) where the scripts run, in order: on a Redis Cluster, the primary
    /// of the deployment's slot even when the batch holds only messages (sent elsewhere, they
    /// would be relayed on that node's own schedule and could overtake the others).
    pub(super) async fn pipeline(&mut self, pipe: Pipeline) -> redis::RedisResult<Vec<Value>> {
        match self {
            Connection::Single(c) => pipe.query_async(c).await,
            Connection::Cluster(c, route) => {
                let count = pipe.len();
                c.route_pipeline(pipe, 0, count, SingleNodeRoutingInfo::SpecificNode(*route))
                    .await
            }
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c, _) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c, _) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c, _) => c.get_db(),
        }
    }
}
