//! Private meetings kept across restarts: one small JSON file of room names and the SHA-256 of
//! their keys (never the keys), so a link handed out yesterday still opens its meeting after
//! the server restarted, and a restart never turns a private meeting into an open room. The
//! file is written whole (a temporary file renamed over it), readable by its owner only.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::hub::Hub;
use crate::rooms::{Invitation, KeyDigest};
use crate::wire::RoomId;

/// `<config dir>/free-meetings/meetings.json`.
pub fn default_meetings_file() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("free-meetings")
        .join("meetings.json")
}

/// Why the file could not be read or written; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum InvitationFileError {
    #[error("cannot read the meetings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the meetings file {path} is damaged ({reason}): move it away to start with no private meetings, or give another with --meetings-file"
    )]
    Damaged { path: PathBuf, reason: String },
    #[error("cannot write the meetings file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    meetings: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    room: String,
    guest_sha256: String,
    host_sha256: String,
    last_used_ms: u64,
    #[serde(default)]
    lobby: bool,
}

const VERSION: u32 = 1;

/// The invitations saved at `path`; none if there is no file yet.
pub fn load(path: &Path) -> Result<Vec<(RoomId, Invitation)>, InvitationFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(InvitationFileError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let damaged = |reason: String| InvitationFileError::Damaged {
        path: path.to_owned(),
        reason,
    };
    let file: File = serde_json::from_str(&text).map_err(|e| damaged(e.to_string()))?;
    if file.version != VERSION {
        return Err(damaged(format!(
            "version {} is not {VERSION}",
            file.version
        )));
    }
    file.meetings
        .into_iter()
        .map(|entry| {
            let room = RoomId::parse(&entry.room)
                .map_err(|e| damaged(format!("room {:?}: {e}", entry.room)))?;
            let digest = |hex: &str| {
                KeyDigest::from_hex(hex)
                    .ok_or_else(|| damaged(format!("room {room}: a digest is not 64 hex digits")))
            };
            let invitation = Invitation {
                guest: digest(&entry.guest_sha256)?,
                host: digest(&entry.host_sha256)?,
                last_used_ms: entry.last_used_ms,
                lobby: entry.lobby,
            };
            Ok((room, invitation))
        })
        .collect()
}

/// Writes `invitations` to `path`, replacing what was there in one step.
pub fn save(path: &Path, invitations: &[(RoomId, Invitation)]) -> Result<(), InvitationFileError> {
    let write_error = |source| InvitationFileError::Write {
        path: path.to_owned(),
        source,
    };
    let mut meetings: Vec<Entry> = invitations
        .iter()
        .map(|(room, invitation)| Entry {
            room: room.as_str().to_owned(),
            guest_sha256: invitation.guest.to_hex(),
            host_sha256: invitation.host.to_hex(),
            last_used_ms: invitation.last_used_ms,
            lobby: invitation.lobby,
        })
        .collect();
    meetings.sort_by(|a, b| a.room.cmp(&b.room));
    let text = serde_json::to_string_pretty(&File {
        version: VERSION,
        meetings,
    })
    .map_err(|e| write_error(std::io::Error::other(e)))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    let temporary = path.with_extension("json.tmp");
    write_private(&temporary, text.as_bytes()).map_err(write_error)?;
    std::fs::rename(&temporary, path).map_err(write_error)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// How often invitations unused for 30 days are looked for.
const EXPIRY_PERIOD: Duration = Duration::from_secs(3600);

/// Saves the hub's invitations to `path` whenever they change, and once more when `closing`
/// turns true. A failed write is logged and tried again at the next change.
pub async fn keep(hub: Hub, path: PathBuf, mut closing: watch::Receiver<bool>) {
    let mut changes = hub.invitation_changes();
    let mut expiry = tokio::time::interval(EXPIRY_PERIOD);
    expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { break },
            _ = expiry.tick() => {
                let expired = hub.expire_invitations();
                if expired > 0 {
                    tracing::info!(expired, "private meetings unused for 30 days forgotten");
                }
                continue;
            }
            _ = closing.wait_for(|&closing| closing) => break,
        }
        changes.borrow_and_update();
        write(&hub, &path).await;
    }
    write(&hub, &path).await;
}

async fn write(hub: &Hub, path: &Path) {
    let invitations = hub.invitations();
    let path = path.to_owned();
    let result = tokio::task::spawn_blocking(move || save(&path, &invitations)).await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "private meetings not saved"),
        Err(error) => tracing::warn!(%error, "private meetings not saved"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::MeetingKeys;

    #[test]
    fn invitations_survive_a_save_and_a_load_and_damage_is_named() {
        let dir = std::env::temp_dir().join(format!("fm-invitations-{}", std::process::id()));
        let path = dir.join("meetings.json");
        assert!(load(&path).unwrap().is_empty(), "no file yet: no meetings");
        let keys = MeetingKeys::random();
        let saved = vec![(RoomId::parse("calm-otter-42").unwrap(), keys.invitation(7))];
        save(&path, &saved).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(keys.guest.expose()) && !text.contains(keys.host.expose()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(load(&path).unwrap(), saved);
        std::fs::write(&path, r#"{"version":1,"meetings":[{"room":"x","guestSha256":"zz","hostSha256":"00","lastUsedMs":0}]}"#).unwrap();
        let error = load(&path).unwrap_err().to_string();
        assert!(error.contains("is damaged (room x: a digest"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
