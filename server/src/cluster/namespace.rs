//! Where one deployment's keys and channels live in a Redis it may share: every key starts with
//! `--cluster-prefix` as a hash tag (`{fm}:` by default, so that on a Redis Cluster all of them
//! are in one slot, which the scripts need: they change rooms and nodes together) and every
//! channel with the prefix and the database number (`fm:0:`), since Redis keeps keys per
//! database but channels for the whole server. Two deployments with different prefixes, or on
//! different databases, never hear each other. The scripts are sent by their digest
//! (EVALSHA), and with their body only when Redis does not know them yet.

use std::sync::Arc;

use super::scripts;
use crate::wire::RoomId;

/// The most characters of a prefix.
pub const PREFIX_MAX_CHARS: usize = 32;

/// A prefix that is not 1-32 of `A-Z a-z 0-9 - _`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--cluster-prefix must be 1-32 characters of A-Z, a-z, 0-9, - and _ (it was {0:?})")]
pub struct BadPrefix(pub String);

/// Checks a `--cluster-prefix`. Only these characters: the prefix goes into the Lua scripts'
/// string literals as it is.
pub fn check_prefix(prefix: &str) -> Result<(), BadPrefix> {
    let fine = (1..=PREFIX_MAX_CHARS).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fine {
        Ok(())
    } else {
        Err(BadPrefix(prefix.to_owned()))
    }
}

/// One deployment's names in Redis.
#[derive(Debug, Clone)]
pub struct Namespace {
    /// `{fm}:`
    keys: String,
    /// `fm:0:`
    channels: String,
}

impl Namespace {
    /// The names under `prefix` (checked) on database `db`.
    pub fn new(prefix: &str, db: i64) -> Self {
        Self {
            keys: format!("{{{prefix}}}:"),
            channels: format!("{prefix}:{db}:"),
        }
    }

    /// A key: `{fm}:nodes`, `{fm}:reaped:N`.
    pub fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.keys)
    }

    /// The channel of a room's events.
    pub fn room_channel(&self, room: &RoomId) -> String {
        format!("{}room:{room}", self.channels)
    }

    /// The channel of signals for one node's peers.
    pub fn node_channel(&self, node: &str) -> String {
        format!("{}node:{node}", self.channels)
    }

    /// A script with this namespace's `K` (key prefix) and `CH` (channel prefix) set.
    fn script(&self, body: &str) -> Script {
        let body = format!("local K, CH = '{}', '{}'\n{body}", self.keys, self.channels);
        Script {
            sha: redis::Script::new(&body).get_hash().into(),
            body: body.into(),
            key: self.key("nodes").into(),
        }
    }

    /// Every script, set for this namespace.
    pub fn scripts(&self) -> Scripts {
        Scripts {
            join: self.script(scripts::JOIN),
            leave: self.script(scripts::LEAVE),
            reap: self.script(scripts::REAP),
            alive: self.script(scripts::ALIVE),
            resync: self.script(scripts::RESYNC),
            invite: self.script(scripts::INVITE),
            policy: self.script(scripts::POLICY),
            nodes: self.script("return redis.call('SMEMBERS', K .. 'nodes')"),
        }
    }
}

/// The scripts of `scripts.rs`, each with its namespace.
#[derive(Debug, Clone)]
pub struct Scripts {
    pub join: Script,
    pub leave: Script,
    pub reap: Script,
    pub alive: Script,
    pub resync: Script,
    pub invite: Script,
    pub policy: Script,
    /// The registered nodes.
    pub nodes: Script,
}

/// One script of one namespace, run by its digest.
#[derive(Debug, Clone)]
pub struct Script {
    body: Arc<str>,
    sha: Arc<str>,
    /// The one key it declares: a Redis Cluster routes it by that key's slot, the slot of
    /// every key of the namespace.
    key: Arc<str>,
}

impl Script {
    /// `EVALSHA` with `args`: what the writer pipelines.
    pub fn by_digest(&self, args: &[String]) -> redis::Cmd {
        let mut command = redis::cmd("EVALSHA");
        command.arg(&*self.sha).arg(1).arg(&*self.key).arg(args);
        command
    }

    /// `EVAL` with `args`: for a Redis that does not know the script (which it then keeps).
    pub fn with_body(&self, args: &[String]) -> redis::Cmd {
        let mut command = redis::cmd("EVAL");
        command.arg(&*self.body).arg(1).arg(&*self.key).arg(args);
        command
    }

    /// Runs it: by its digest, and again with its body if Redis did not know it.
    pub async fn run<T: redis::FromRedisValue>(
        &self,
        connection: &mut impl redis::aio::ConnectionLike,
        args: &[String],
    ) -> redis::RedisResult<T> {
        match self.by_digest(args).query_async(connection).await {
            Err(error) if is_unknown_script(&error) => {
                self.with_body(args).query_async(connection).await
            }
            answer => answer,
        }
    }

    #[cfg(test)]
    fn body(&self) -> &str {
        &self.body
    }
}

/// Redis answered NOSCRIPT: it restarted, failed over or flushed its scripts.
pub fn is_unknown_script(error: &redis::RedisError) -> bool {
    error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_checked_and_name_keys_and_channels() {
        assert!(check_prefix("fm").is_ok());
        assert!(check_prefix("acme-prod_2").is_ok());
        for bad in ["", "a'b", "a b", "x:y", &"x".repeat(33)] {
            assert_eq!(check_prefix(bad), Err(BadPrefix(bad.to_owned())), "{bad}");
        }
        let ns = Namespace::new("acme", 3);
        assert_eq!(ns.key("nodes"), "{acme}:nodes");
        assert_eq!(
            ns.room_channel(&RoomId::parse("x").unwrap()),
            "acme:3:room:x"
        );
        assert_eq!(ns.node_channel("n1"), "acme:3:node:n1");
        let scripts = ns.scripts();
        assert!(
            scripts
                .join
                .body()
                .starts_with("local K, CH = '{acme}:', 'acme:3:'\n")
        );
        assert!(
            !scripts.join.body().contains("'fm:"),
            "no key or channel is named outside K and CH"
        );
    }
}
