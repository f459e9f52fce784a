//! Joins and the other requests the hub makes of the cluster (`hub::cluster::ClusterLink`):
//! a join is admitted by the JOIN script, atomically over every node (the room's cap, its
//! invitation, where its media goes), after the node follows the room's channel; leaves run
//! LEAVE; everything else other nodes must hear is published, in order, by the writer.

use tokio::sync::oneshot;

use super::link::{Command, Link, Subscription};
use super::message;
use super::replies::admission_of;
use super::scripts::flag;
use crate::hub::Hub;
use crate::hub::cluster::{Admission, ClusterLink, Effect, JoinRequest, NodeId};
use crate::rooms::Invitation;
use crate::wire::RoomId;
use redis::Value;
use std::time::Duration;

/// How long a private meeting's invitation lasts in Redis after it was made or last used.
pub(super) const INVITATION_SECONDS: u64 = crate::rooms::INVITATION_IDLE_MS / 1000;

/// How long a join waits for Redis before it is refused as "cluster unavailable".
pub(super) const ADMISSION_TIMEOUT: Duration = Duration::from_secs(3);

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
