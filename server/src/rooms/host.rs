//! A private meeting's host runs it: the lobby (guests wait until a host lets them in), the
//! lock (nobody new gets in), removing someone, asking someone to mute, ending the meeting for
//! everyone, and a new guest link. Only a member who entered with the host key may; the rules
//! are the core's like every other, so both transports behave the same.

use std::collections::HashMap;

use super::access::random_key;
use super::{Change, KeyDigest, Outcome, Refusal, Role, Rooms};
use crate::wire::{
    HostAction, MeetingView, Member, NewGuestKey, PeerId, Removal, RoomId, ServerEvent, UserName,
};

/// A guest waiting in a private meeting's lobby: where to seat them once let in.
#[derive(Debug, Clone)]
pub(super) struct Waiting {
    pub room: RoomId,
    pub name: UserName,
    pub sfu: bool,
}

/// How a private meeting is run right now (its lobby setting is kept with its invitation).
#[derive(Debug, Default)]
pub(super) struct Controls {
    pub locked: bool,
    /// Guests waiting, in arrival order.
    pub waiting: Vec<PeerId>,
}

/// Every private meeting's controls, by room; an entry goes when its meeting empties.
pub(super) type AllControls = HashMap<RoomId, Controls>;

impl Rooms {
    /// Who waits in `room`'s lobby, in arrival order (for observers: the window shows them).
    pub fn lobby(&self, room: &RoomId) -> Vec<(PeerId, UserName)> {
        let Some(controls) = self.controls.get(room) else {
            return Vec::new();
        };
        controls
            .waiting
            .iter()
            .filter_map(|&id| Some((id, self.peers.get(&id)?.waiting.as_ref()?.name.clone())))
            .collect()
    }

    /// Whether a guest of `room` would wait in its lobby now, or is refused at its lock.
    pub(super) fn door(&self, room: &RoomId) -> Result<bool, Refusal> {
        if self.controls.get(room).is_some_and(|c| c.locked) {
            return Err(Refusal::Locked);
        }
        Ok(self.invitations.get(room).is_some_and(|i| i.lobby))
    }

    /// Puts `peer` in `room`'s lobby (out of any room first) and tells the hosts.
    pub(super) fn wait(
        &mut self,
        peer: PeerId,
        room: RoomId,
        name: UserName,
        sfu: bool,
        out: &mut Outcome,
    ) {
        self.leave(peer, out);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.waiting = Some(Waiting {
                room: room.clone(),
                name,
                sfu,
            });
        }
        self.controls
            .entry(room.clone())
            .or_default()
            .waiting
            .push(peer);
        out.send(peer, ServerEvent::Waiting);
        out.changes.push(Change::Lobby { room: room.clone() });
        self.tell_meeting(&room, out);
    }

    /// Takes `peer` out of the lobby it waits in, if any; the hosts are told.
    pub(super) fn stop_waiting(&mut self, peer: PeerId, out: &mut Outcome) -> Option<Waiting> {
        let waiting = self.peers.get_mut(&peer)?.waiting.take()?;
        if let Some(controls) = self.controls.get_mut(&waiting.room) {
            controls.waiting.retain(|&p| p != peer);
        }
        out.changes.push(Change::Lobby {
            room: waiting.room.clone(),
        });
        self.tell_meeting(&waiting.room, out);
        self.forget_controls_if_idle(&waiting.room);
        Some(waiting)
    }

    /// Sends each member of a private meeting how it is run now (hosts also see the lobby).
    pub(super) fn tell_meeting(&self, room: &RoomId, out: &mut Outcome) {
        let Some(invitation) = self.invitations.get(room) else {
            return;
        };
        if !self.host_controls {
            return;
        }
        let members = self.members(room);
        let hosts: Vec<PeerId> = members
            .iter()
            .copied()
            .filter(|&m| self.peers.get(&m).is_some_and(|p| p.role == Role::Host))
            .collect();
        let controls = self.controls.get(room);
        let waiting: Vec<Member> = controls
            .map(|c| c.waiting.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|&id| {
                let w = self.peers.get(&id)?.waiting.as_ref()?;
                Some(Member {
                    id,
                    user_name: w.name.clone(),
                })
            })
            .collect();
        let view = MeetingView {
            hosts: hosts.clone(),
            lobby: invitation.lobby,
            locked: controls.is_some_and(|c| c.locked),
            waiting: None,
        };
        for &member in members {
            let mut view = view.clone();
            if hosts.contains(&member) {
                view.waiting = Some(waiting.clone());
            }
            out.send(member, ServerEvent::Meeting(view));
        }
    }

    /// A meeting nobody is in or waiting for keeps no controls: its lock goes with it.
    pub(super) fn forget_controls_if_idle(&mut self, room: &RoomId) {
        let idle = self.members(room).is_empty()
            && self.controls.get(room).is_none_or(|c| c.waiting.is_empty());
        if idle {
            self.controls.remove(room);
        }
    }

    /// A host's request.
    pub(super) fn host(&mut self, from: PeerId, action: HostAction, out: &mut Outcome) {
        if !self.host_controls {
            return out.refuse(from, Refusal::HostControlsUnavailable, true);
        }
        let room = match self
            .peers
            .get(&from)
            .and_then(|p| p.seat.as_ref().zip(Some(p.role)))
        {
            Some(((room, _), Role::Host)) if self.invitations.is_private(room) => room.clone(),
            _ => return out.refuse(from, Refusal::NotHost, true),
        };
        match action {
            HostAction::Lobby(on) => {
                if let Some(invitation) = self.invitations.get_mut(&room) {
                    invitation.lobby = on;
                }
                out.changes.push(Change::Invitations);
                if !on {
                    // Nobody is left waiting for a lobby that is no more.
                    for peer in self.waiting_for(&room) {
                        self.admit(peer, &room, out);
                    }
                }
            }
            HostAction::Lock(on) => {
                self.controls.entry(room.clone()).or_default().locked = on;
            }
            HostAction::Admit(peer) => {
                if !self.waits_for(peer, &room) {
                    return out.refuse(from, Refusal::NotHere(peer.to_string()), true);
                }
                if self.members(&room).len() >= self.limits.max_peers_per_room {
                    let limit = self.limits.max_peers_per_room;
                    return out.refuse(from, Refusal::RoomFull { room, limit }, true);
                }
                self.admit(peer, &room, out);
            }
            HostAction::Decline(peer) => {
                if !self.waits_for(peer, &room) {
                    return out.refuse(from, Refusal::NotHere(peer.to_string()), true);
                }
                self.stop_waiting(peer, out);
                out.send(peer, ServerEvent::Removed(Removal::Declined));
                return;
            }
            HostAction::Remove(peer) => {
                if peer == from || self.room_of(peer) != Some(&room) {
                    return out.refuse(from, Refusal::NotHere(peer.to_string()), true);
                }
                out.send(peer, ServerEvent::Removed(Removal::Removed));
                self.leave(peer, out);
                return;
            }
            HostAction::Mute(peer) => {
                if peer == from || self.room_of(peer) != Some(&room) {
                    return out.refuse(from, Refusal::NotHere(peer.to_string()), true);
                }
                return out.send(peer, ServerEvent::MuteRequest { from });
            }
            HostAction::LowerHand(peer) => {
                if peer == from || self.room_of(peer) != Some(&room) {
                    return out.refuse(from, Refusal::NotHere(peer.to_string()), true);
                }
                return out.send(peer, ServerEvent::LowerHand { from });
            }
            HostAction::End => {
                for peer in self.waiting_for(&room) {
                    self.stop_waiting(peer, out);
                    out.send(peer, ServerEvent::Removed(Removal::Ended));
                }
                for peer in self.members(&room).to_vec() {
                    out.send(peer, ServerEvent::Removed(Removal::Ended));
                    self.leave(peer, out);
                }
                return;
            }
            HostAction::NewLink => {
                let key = random_key();
                if let Some(invitation) = self.invitations.get_mut(&room) {
                    invitation.guest = KeyDigest::of(&key);
                }
                out.changes.push(Change::Invitations);
                for &member in self.members(&room) {
                    if self
                        .peers
                        .get(&member)
                        .is_some_and(|p| p.role == Role::Host)
                    {
                        out.send(member, ServerEvent::MeetingLink(NewGuestKey(key.clone())));
                    }
                }
                return;
            }
        }
        self.tell_meeting(&room, out);
    }

    /// Who waits in `room`'s lobby, in arrival order.
    fn waiting_for(&self, room: &RoomId) -> Vec<PeerId> {
        self.controls
            .get(room)
            .map(|c| c.waiting.clone())
            .unwrap_or_default()
    }

    fn waits_for(&self, peer: PeerId, room: &RoomId) -> bool {
        self.peers
            .get(&peer)
            .and_then(|p| p.waiting.as_ref())
            .is_some_and(|w| &w.room == room)
    }

    /// Lets a waiting guest in.
    fn admit(&mut self, peer: PeerId, room: &RoomId, out: &mut Outcome) {
        let Some(waiting) = self.stop_waiting(peer, out) else {
            return;
        };
        self.seat(
            peer,
            room.clone(),
            waiting.name,
            waiting.sfu,
            Role::Guest,
            out,
        );
    }
}
