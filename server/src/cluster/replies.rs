//! What the scripts answer, read into the hub's types: an admission, an invitation, a room's
//! snapshot. Anything malformed reads as "unavailable", never as a member or a key.

use redis::Value;

use crate::hub::cluster::{Admission, NodeId, RemoteMember, Snapshot};
use crate::rooms::{Invitation, KeyDigest, Refusal};
use crate::wire::{PeerId, UserName};

/// Reads JOIN's answer.
pub(super) fn admission_of(value: &Value, cap: usize) -> Admission {
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
pub(super) fn invitation_of(text: &str) -> Option<Invitation> {
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
pub(super) fn snapshot_of(items: &[Value]) -> Option<Snapshot> {
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

pub(super) fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}
