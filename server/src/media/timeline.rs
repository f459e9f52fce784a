//! The RTP time of a video we forward, kept continuous when we switch simulcast layers. A
//! browser gives each layer of its camera its own random RTP timestamp origin, so the frames of
//! the `m` layer carry times billions of ticks away from those of `l` at the same instant.
//! Forwarded as they are, a layer switch makes the receiver's timestamps jump forwards or back,
//! and Chrome holds the new layer's frames for seconds (seen: packets arriving, no frame
//! decoded, no keyframe asked, for 2.5-20 s after a pin) until its timing resets. Every SFU
//! rewrites them (mediasoup's `tsOffset`, SymphonyMediaBridge projects from the wall clock);
//! here the first frame of a new layer continues from the last frame sent, advanced by the time
//! that passed between their arrivals, and the rest of that layer keeps the same offset.

use std::time::{Duration, Instant};

use str0m::media::{MediaTime, Rid};

/// The least step between the last frame of one layer and the first of the next: two frames
/// with one timestamp would be taken for one.
const LEAST_STEP: Duration = Duration::from_millis(10);

/// One outgoing video's time line.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Timeline {
    last: Option<Sent>,
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    /// The layer of the last frame sent.
    layer: Option<Rid>,
    /// What is added to the origin's RTP time (in its clock's ticks).
    offset: i128,
    /// The last RTP time sent, and when its frame arrived.
    time: u64,
    at: Instant,
}

impl Timeline {
    /// The RTP time to send a frame of the origin's layer `layer` with: `time` is the
    /// origin's, `at` its arrival.
    pub fn rewrite(&mut self, layer: Option<Rid>, time: MediaTime, at: Instant) -> MediaTime {
        let source = i128::from(time.numer());
        let offset = match self.last {
            None => 0,
            Some(last) if last.layer == layer => last.offset,
            Some(last) => {
                let step = at.saturating_duration_since(last.at).max(LEAST_STEP);
                let ticks = step.as_micros() * u128::from(time.denom()) / 1_000_000;
                i128::from(last.time) + ticks as i128 - source
            }
        };
        // Only a frame reordered before the first one could go below zero: sent at zero.
        let sent = u64::try_from((source + offset).max(0)).unwrap_or(u64::MAX);
        self.last = Some(Sent {
            layer,
            offset,
            time: self.last.map_or(sent, |last| last.time.max(sent)),
            at: self.last.map_or(at, |last| last.at.max(at)),
        });
        MediaTime::new(sent, time.frequency())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ticks: u64) -> MediaTime {
        MediaTime::from_90khz(ticks)
    }

    const L: Option<Rid> = None;

    fn m() -> Option<Rid> {
        Some("m".into())
    }

    #[test]
    fn one_layer_keeps_its_own_times() {
        let mut line = Timeline::default();
        let start = Instant::now();
        for n in 0..5u64 {
            let at = start + Duration::from_millis(66 * n);
            let sent = line.rewrite(L, t(1_000_000 + 6000 * n), at);
            assert_eq!(sent.numer(), 1_000_000 + 6000 * n);
        }
    }

    #[test]
    fn a_switch_continues_from_the_last_frame_by_the_time_between_arrivals() {
        let mut line = Timeline::default();
        let start = Instant::now();
        assert_eq!(
            line.rewrite(L, t(4_000_000_000), start).numer(),
            4_000_000_000
        );
        // The new layer's origin is far behind: its first frame comes 100 ms (9000 ticks) on.
        let at = start + Duration::from_millis(100);
        assert_eq!(line.rewrite(m(), t(1_000), at).numer(), 4_000_009_000);
        // Its next frame, 66 ms later at the origin, keeps that offset.
        let later = at + Duration::from_millis(66);
        assert_eq!(
            line.rewrite(m(), t(1_000 + 5_940), later).numer(),
            4_000_014_940
        );
        // And back to a layer whose origin is far ahead: still forwards, never a jump.
        let back = later + Duration::from_millis(50);
        assert_eq!(
            line.rewrite(L, t(9_000_000_000), back).numer(),
            4_000_019_440
        );
    }

    #[test]
    fn a_switch_within_the_same_instant_still_moves_time_on() {
        let mut line = Timeline::default();
        let start = Instant::now();
        line.rewrite(L, t(500_000), start);
        // The new layer's keyframe arrived with the old layer's frame: 10 ms on, not the same time.
        assert_eq!(line.rewrite(m(), t(7), start).numer(), 500_900);
    }

    #[test]
    fn a_frame_reordered_before_the_switch_is_not_sent_below_zero() {
        let mut line = Timeline::default();
        let start = Instant::now();
        line.rewrite(L, t(100), start);
        assert_eq!(line.rewrite(m(), t(5_000), start).numer(), 1_000);
        assert_eq!(line.rewrite(m(), t(2_000), start).numer(), 0);
    }
}
