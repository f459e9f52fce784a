//! Where one deployment's keys and channels live in a Redis it may share: every key starts with
//! `--cluster-prefix` (`fm` by default) and every channel with the prefix and the database
//! number, since Redis keeps keys per database but channels for the whole server. Two
//! deployments with different prefixes, or on different databases, never hear each other.

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
    /// `fm:`
    keys: String,
    /// `fm:0:`
    channels: String,
}

impl Namespace {
    /// The names under `prefix` (checked) on database `db`.
    pub fn new(prefix: &str, db: i64) -> Self {
        Self {
            keys: format!("{prefix}:"),
            channels: format!("{prefix}:{db}:"),
        }
    }

    /// A key: `fm:nodes`, `fm:reaped:N`.
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
    fn script(&self, body: &str) -> Arc<str> {
        format!("local K, CH = '{}', '{}'\n{body}", self.keys, self.channels).into()
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
    pub join: Arc<str>,
    pub leave: Arc<str>,
    pub reap: Arc<str>,
    pub alive: Arc<str>,
    pub resync: Arc<str>,
    pub invite: Arc<str>,
    pub policy: Arc<str>,
    /// The registered nodes.
    pub nodes: Arc<str>,
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
        assert_eq!(ns.key("nodes"), "acme:nodes");
        assert_eq!(
            ns.room_channel(&RoomId::parse("x").unwrap()),
            "acme:3:room:x"
        );
        assert_eq!(ns.node_channel("n1"), "acme:3:node:n1");
        let scripts = ns.scripts();
        assert!(
            scripts
                .join
                .starts_with("local K, CH = 'acme:', 'acme:3:'\n")
        );
        assert!(
            !scripts.join.contains("'fm:"),
            "no key or channel is named outside K and CH"
        );
    }
}
