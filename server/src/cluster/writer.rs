//! The one connection that writes: commands go out in the order they were queued, pipelined,
//! so one sender's events reach every other node in the order they were sent.

use std::sync::Arc;

use redis::Value;
use tokio::sync::mpsc;

use super::connection::Connection;
use super::link::Command;
use crate::metrics::{Direction, Metrics};

/// The one writing connection: commands go out in the order they were queued, pipelined,
/// scripts by their digest. A script Redis did not know (NOSCRIPT: it restarted, failed over
/// or flushed them) had no effect, and goes again with its body; the messages queued behind it
/// in the same batch were published meanwhile. That overtaking happens only at the batch in
/// which Redis came back without its scripts, when messages are being lost anyway; routing
/// every message through a script instead, to keep even that order, doubled Redis's CPU per
/// message (docs/benchmarks.md, "Cluster mode").
pub(super) async fn write(
    mut connection: Connection,
    mut queue: mpsc::UnboundedReceiver<Command>,
    metrics: Arc<Metrics>,
) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, 512).await > 0 {
        let started = std::time::Instant::now();
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for command in &batch {
            match command {
                Command::Publish { channel, payload } => {
                    pipe.cmd("PUBLISH").arg(channel).arg(payload);
                }
                Command::Eval { script, args, .. } => {
                    pipe.add_command(script.by_digest(args));
                }
            }
        }
        let answers = connection.pipeline(pipe).await;
        let answers = match answers {
            Ok(mut answers) => {
                let unknown: Vec<usize> = (0..answers.len())
                    .filter(|&i| unknown_script(&answers[i]))
                    .collect();
                if !unknown.is_empty() {
                    tracing::info!(
                        commands = unknown.len(),
                        "Redis did not know this node's scripts (restarted or failed over): sending them"
                    );
                    let mut again = redis::pipe();
                    again.ignore_errors();
                    for &i in &unknown {
                        if let Command::Eval { script, args, .. } = &batch[i] {
                            again.add_command(script.with_body(args));
                        }
                    }
                    match connection.pipeline(again).await {
                        Ok(retried) => {
                            for (i, answer) in unknown.into_iter().zip(retried) {
                                answers[i] = answer;
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "Redis did not take the scripts");
                        }
                    }
                }
                Some(answers)
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    lost = batch.len(),
                    "Redis did not take this node's cluster messages: other nodes miss them"
                );
                None
            }
        };
        if let Some(answers) = &answers {
            metrics.cluster_round_trip(started.elapsed().as_secs_f64());
            metrics.cluster_messages(Direction::sent, batch.len() as u64);
            if let Some(Value::ServerError(error)) =
                answers.iter().find(|a| matches!(a, Value::ServerError(_)))
            {
                tracing::warn!(error = ?error, "Redis refused a cluster command");
            }
        }
        let mut answers = answers.unwrap_or_default().into_iter();
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

/// A NOSCRIPT answer: the command had no effect.
fn unknown_script(answer: &Value) -> bool {
    matches!(answer, Value::ServerError(error) if error.kind() == Some(redis::ServerErrorKind::NoScript))
}
