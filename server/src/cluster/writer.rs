//! The one connection that writes: commands go out in the order they were queued, pipelined,
//! so one sender's events reach every other node in the order they were sent.

use std::sync::Arc;

use redis::Value;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use super::link::Command;
use crate::metrics::{Direction, Metrics};

/// The one writing connection: commands go out in the order they were queued, pipelined.
pub(super) async fn write(
    mut connection: ConnectionManager,
    mut queue: mpsc::UnboundedReceiver<Command>,
    metrics: Arc<Metrics>,
) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, 512).await > 0 {
        let started = std::time::Instant::now();
        let mut pipe = redis::pipe();
        for command in &batch {
            match command {
                Command::Publish { channel, payload } => {
                    pipe.cmd("PUBLISH").arg(channel).arg(payload);
                }
                Command::Eval { script, args, .. } => {
                    pipe.cmd("EVAL").arg(&**script).arg(0).arg(args);
                }
            }
        }
        let answers: Result<Vec<Value>, _> = pipe.query_async(&mut connection).await;
        let failed = answers.is_err();
        if !failed {
            metrics.cluster_round_trip(started.elapsed().as_secs_f64());
            metrics.cluster_messages(Direction::sent, batch.len() as u64);
        }
        let mut answers = answers.unwrap_or_default().into_iter();
        if failed {
            tracing::warn!(
                lost = batch.len(),
                "Redis did not take this node's cluster messages: other nodes miss them"
            );
        }
        for command in batch.drain(..) {
            let answer = answers.next();
            if let Command::Eval {
                reply: Some(reply), ..
            } = command
            {
                let _ = reply.send(answer);
            }
        }
    }
}
