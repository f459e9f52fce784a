//! Where a room's media goes, decided with the rest of the room rules: browser to browser (a
//! mesh) while that can work, through the server's forwarder (the SFU) when the room grows past
//! what a mesh carries or the server is told to. Every member must be able to use the SFU for a
//! room to move there: the original front-ends cannot, and a room with one of them stays a mesh.

use crate::wire::{MediaMode, PeerId, RoomId, SfuRequest};

/// `--media auto|mesh|sfu` with `--mesh-max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaPolicy {
    /// A mesh, until a room of capable pages passes `mesh_max` people; then the SFU until the
    /// room empties.
    Auto { mesh_max: usize },
    /// Always browser to browser.
    Mesh,
    /// Through the server from the first person on, for rooms of capable pages (what isolated
    /// Wi-Fi needs).
    Sfu,
}

impl MediaPolicy {
    /// The mode a room of `members` people should be in, if all of them can use the SFU or not.
    pub fn mode_for(self, members: usize, all_capable: bool) -> MediaMode {
        let sfu = all_capable
            && match self {
                MediaPolicy::Mesh => false,
                MediaPolicy::Sfu => true,
                MediaPolicy::Auto { mesh_max } => members > mesh_max,
            };
        if sfu { MediaMode::Sfu } else { MediaMode::Mesh }
    }
}

/// What the media forwarder must do; only peers of rooms in SFU mode ever appear here.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaChange {
    /// `peer` now sends and receives its room's media through the server.
    Open { peer: PeerId, room: RoomId },
    /// `peer` left its SFU room (or the server): stop forwarding to and from it at once.
    Close { peer: PeerId },
    /// Something the page said to the forwarder.
    Request { peer: PeerId, request: SfuRequest },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_moves_to_the_sfu_past_the_mesh_limit_only_if_every_page_can() {
        let auto = MediaPolicy::Auto { mesh_max: 4 };
        assert_eq!(auto.mode_for(4, true), MediaMode::Mesh);
        assert_eq!(auto.mode_for(5, true), MediaMode::Sfu);
        assert_eq!(auto.mode_for(9, false), MediaMode::Mesh);
        assert_eq!(MediaPolicy::Sfu.mode_for(1, true), MediaMode::Sfu);
        assert_eq!(MediaPolicy::Sfu.mode_for(1, false), MediaMode::Mesh);
        assert_eq!(MediaPolicy::Mesh.mode_for(40, true), MediaMode::Mesh);
    }
}
