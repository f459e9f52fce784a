//! The one connection that writes: commands go out in the order they were queued, pipelined,
//! so one sender's events reach every other node in the order they were sent.

use std::sync::Arc;

use redis::Value;
use tokio::sync::mpsc;

use super::connection::Connection;
use super::link::Command;
use super::namespace::Script;
use crate::metrics::{Direction, Metrics};

/// The one writing connection: commands go out in the order they were queued, pipelined, as
/// scripts run by their digest (messages too, through `publish`, so that a Redis that forgot
/// its scripts refuses the whole rest of a batch, which then goes again, in order, with the
/// scripts' bodies).
pub(super) async fn write(
    mut connection: Connection,
    mut queue: mpsc::UnboundedReceiver<Command>,
    publish: Script,
    metrics: Arc<Metrics>,
) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, 512).await > 0 {
        let started = std::time::Instant::now();
        let scripted: Vec<(&Script, Vec<String>)> = batch
            .iter()
            .map(|command| match command {
                Command::Publish { channel, payload } => {
                    (&publish, vec![channel.clone(), payload.clone()])
                }
                Command::Eval { script, args, .. } => (script, args.clone()),
            })
            .collect();
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for (script, args) in &scripted {
            pipe.add_command(script.by_digest(args));
        }
        let answers: Result<Vec<Value>, _> = pipe.query_async(&mut connection).await;
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
                        let (script, args) = &scripted[i];
                        again.add_command(script.with_body(args));
                    }
                    match again.query_async::<Vec<Value>>(&mut connection).await {
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
