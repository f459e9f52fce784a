//! Tests: an [`Outbox`] that keeps what a peer was sent, as short strings (`error: …`,
//! `sfu-failed: …`, otherwise the event's name), for tests that drive the hub without a
//! transport.

use std::sync::Mutex;

use super::{Outbox, OutboxError};
use crate::wire::{ServerEvent, SfuReply};

#[derive(Default)]
pub struct Recorded(Mutex<Vec<String>>);

impl Recorded {
    /// Everything sent so far, in order.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The `error` events sent so far.
    pub fn errors(&self) -> Vec<String> {
        let all = self.all();
        all.into_iter()
            .filter(|t| t.starts_with("error: "))
            .collect()
    }
}

impl Outbox for Recorded {
    fn send(&self, event: &ServerEvent) -> Result<(), OutboxError> {
        let text = match event {
            ServerEvent::Error(error) => format!("error: {}", error.text),
            ServerEvent::Sfu(SfuReply::Failed(why)) => format!("sfu-failed: {why}"),
            other => other.name().to_owned(),
        };
        self.0.lock().unwrap().push(text);
        Ok(())
    }
    fn close(&self) {}
}
