//! Which simulcast layer each receiver gets of each video it receives: what its page asked for
//! (the size it shows the video at), no more than its connection carries (the bandwidth
//! estimate, shared out with the most wanted video served first), one step lower while the
//! server is over its total bitrate budget, and only among the layers the sender is actually
//! sending. Pages send three VP8 layers, `l`, `m` and `h` (a quarter, half and full resolution,
//! capped at the nominal bitrates below). A layer costs what its sender was measured sending,
//! or its nominal bitrate until that is known. A video that does not fit gets its small layer
//! anyway, but one sent in a single size (no simulcast) is paused instead: str0m's pacer sends at
//! the estimate, so a receiver given more than that would see its video queue for seconds.

use crate::wire::Quality;

/// The rid of each quality's layer, as the meeting page names its encodings.
pub fn rid_of(quality: Quality) -> Option<&'static str> {
    match quality {
        Quality::Off => None,
        Quality::Low => Some("l"),
        Quality::Medium => Some("m"),
        Quality::High => Some("h"),
    }
}

/// The quality of a layer by its rid; a video without simulcast (no rid) is one top layer.
pub fn quality_of(rid: Option<&str>) -> Quality {
    match rid {
        Some("l") => Quality::Low,
        Some("m") => Quality::Medium,
        _ => Quality::High,
    }
}

/// What a layer is taken to cost until measured: the most the meeting page gives it (bits per
/// second; a page with a smaller camera caps its low layer at 200 kbit/s).
pub fn nominal_bitrate(quality: Quality) -> u64 {
    match quality {
        Quality::Off => 0,
        Quality::Low => 150_000,
        Quality::Medium => 500_000,
        Quality::High => 1_500_000,
    }
}

/// One layer a sender sends: its quality, and the bitrate measured (0 until measured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSent {
    pub quality: Quality,
    pub bitrate: u64,
}

impl LayerSent {
    /// What forwarding this layer costs on the wire: its media, and about 8% more for the RTP,
    /// SRTP and UDP headers of ~1200-byte packets, as the bandwidth estimate counts those too.
    pub fn cost(self) -> u64 {
        if self.bitrate > 0 {
            self.bitrate + self.bitrate / 12
        } else {
            nominal_bitrate(self.quality)
        }
    }
}

/// One video a receiver gets: what its page wants of it, and the layers its sender sends.
#[derive(Debug, Clone)]
pub struct VideoWant {
    pub wanted: Quality,
    pub sent: Vec<LayerSent>,
}

impl VideoWant {
    /// The best layer wanted that the sender sends (its lowest, if all are above the wish).
    fn best(&self) -> Option<LayerSent> {
        let top = self
            .sent
            .iter()
            .copied()
            .filter(|l| l.quality <= self.wanted)
            .max_by_key(|l| l.quality);
        top.or_else(|| self.lowest())
    }

    fn lowest(&self) -> Option<LayerSent> {
        self.sent.iter().copied().min_by_key(|l| l.quality)
    }

    /// The most this video would cost: the best layer wanted.
    pub fn top_bitrate(&self) -> u64 {
        if self.wanted == Quality::Off {
            return 0;
        }
        self.best().map_or(0, LayerSent::cost)
    }
}

/// A layer for each of one receiver's videos, in the order given (`None`: forward nothing).
/// The most wanted videos are served first from `budget` (what the receiver's connection
/// carries for video, when it is known): each gets the highest layer it wants that its sender
/// sends and the rest of the budget fits; `pressure` (the server over its total budget) takes
/// each a step lower. A video that nothing fits still gets its small simulcast layer; one
/// sent in a single size is paused instead, unless it is the most wanted (queued behind the
/// pacer, it would arrive seconds late).
pub fn allocate(budget: Option<u64>, pressure: bool, videos: &[VideoWant]) -> Vec<Option<Quality>> {
    let mut order: Vec<usize> = (0..videos.len()).collect();
    order.sort_by(|&a, &b| videos[b].wanted.cmp(&videos[a].wanted));
    let mut left = budget.unwrap_or(u64::MAX);
    let mut chosen = vec![None; videos.len()];
    let mut first = true;
    for i in order {
        let video = &videos[i];
        if video.wanted == Quality::Off || video.sent.is_empty() {
            continue;
        }
        let ceiling = if pressure {
            match video.wanted {
                Quality::High => Quality::Medium,
                _ => Quality::Low,
            }
        } else {
            video.wanted
        };
        // Layers up to the ceiling; when the sender sends none that small, its lowest.
        let cap = video.lowest().map_or(ceiling, |l| l.quality.max(ceiling));
        let fits = video
            .sent
            .iter()
            .copied()
            .filter(|l| l.quality <= cap && l.cost() <= left)
            .max_by_key(|l| l.quality);
        // What fits nothing still gets its small layer (150 kbit/s at most: a small picture
        // beats a frozen one), or, for a video sent in one size only, only if it is the most
        // wanted one.
        let fallback = video
            .lowest()
            .filter(|l| first || l.quality == Quality::Low);
        first = false;
        let Some(layer) = fits.or(fallback) else {
            continue;
        };
        left = left.saturating_sub(layer.cost());
        chosen[i] = Some(layer.quality);
    }
    chosen
}

/// Whether a receiver counts as losing packets, from the loss its page reports (RTCP receiver
/// reports) and whether it counted before: on past 10%, off again below 2%, so that one bad
/// second does not flip its layers back and forth. A lossy receiver gets every video a step
/// lower, as under total pressure: the cue, without bandwidth estimation, that its link is full.
pub fn lossy(was: bool, loss: f32) -> bool {
    if was { loss > 0.02 } else { loss > 0.10 }
}

/// What the bandwidth estimator should sustain and probe for, for one receiver's videos and
/// the layers `allocate` chose: it probes for every video at its best wanted layer, and, while
/// a video is paused, sustains (with padding when media falls short) what is forwarded plus the
/// lowest layer of the most wanted paused video, so that the estimate grows until that one fits.
/// Without the padding an estimate below what is wanted would stay there: the estimator only
/// raises it when it sees traffic near it.
pub fn estimator_targets(videos: &[VideoWant], chosen: &[Option<Quality>]) -> (u64, u64) {
    let cost = |video: &VideoWant, quality: Quality| {
        video
            .sent
            .iter()
            .find(|l| l.quality == quality)
            .map_or(0, |l| l.cost())
    };
    let used: u64 = videos
        .iter()
        .zip(chosen)
        .filter_map(|(video, chosen)| Some(cost(video, (*chosen)?)))
        .sum();
    let next = videos
        .iter()
        .zip(chosen)
        .filter(|(video, chosen)| chosen.is_none() && video.wanted != Quality::Off)
        .max_by_key(|(video, _)| video.wanted)
        .and_then(|(video, _)| video.lowest())
        .map(LayerSent::cost);
    let desired: u64 = videos.iter().map(VideoWant::top_bitrate).sum();
    let sustain = next.map_or(0, |next| (used + next).min(desired));
    (sustain, desired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Quality::*;

    fn sent(qualities: &[Quality]) -> Vec<LayerSent> {
        qualities
            .iter()
            .map(|&quality| LayerSent {
                quality,
                bitrate: 0,
            })
            .collect()
    }

    fn video(wanted: Quality) -> VideoWant {
        VideoWant {
            wanted,
            sent: sent(&[Low, Medium, High]),
        }
    }

    #[test]
    fn each_gets_what_it_wants_when_the_connection_carries_it() {
        let videos = [video(High), video(Low), video(Off)];
        assert_eq!(
            allocate(None, false, &videos),
            [Some(High), Some(Low), None]
        );
        assert_eq!(
            allocate(Some(5_000_000), false, &videos),
            [Some(High), Some(Low), None]
        );
    }

    #[test]
    fn the_most_wanted_is_served_first_from_a_small_budget() {
        // 1.8 Mbit/s: the pinned video gets its top layer, the small ones what is left.
        let videos = [video(Low), video(High), video(Low)];
        assert_eq!(
            allocate(Some(1_800_000), false, &videos),
            [Some(Low), Some(High), Some(Low)]
        );
        // 700 kbit/s: the pinned one drops to the middle layer first.
        assert_eq!(
            allocate(Some(700_000), false, &videos),
            [Some(Low), Some(Medium), Some(Low)]
        );
        // Nothing fits: each still gets its small layer.
        assert_eq!(
            allocate(Some(10_000), false, &[video(Low), video(High)]),
            [Some(Low), Some(Low)]
        );
    }

    #[test]
    fn measured_bitrates_decide_what_fits() {
        // Single-layer senders measured at 500 kbit/s (540 with headers): nominally 1.5 Mbit/s
        // each, but three fit in 1.7 Mbit/s; the fourth is paused until the estimate grows.
        let single = VideoWant {
            wanted: Medium,
            sent: vec![LayerSent {
                quality: High,
                bitrate: 500_000,
            }],
        };
        let videos = vec![single.clone(); 4];
        assert_eq!(single.top_bitrate(), 541_666);
        assert_eq!(
            allocate(Some(1_700_000), false, &videos),
            [Some(High), Some(High), Some(High), None]
        );
    }

    #[test]
    fn pressure_takes_a_step_down_and_only_sent_layers_are_chosen() {
        assert_eq!(
            allocate(None, true, &[video(High), video(Medium)]),
            [Some(Medium), Some(Low)]
        );
        let partial = VideoWant {
            wanted: High,
            sent: sent(&[Low, Medium]),
        };
        assert_eq!(allocate(None, false, &[partial]), [Some(Medium)]);
        let single = VideoWant {
            wanted: Low,
            sent: sent(&[quality_of(None)]),
        };
        assert_eq!(
            allocate(None, false, &[single]),
            [Some(High)],
            "a single layer is what there is"
        );
    }

    #[test]
    fn the_estimator_is_asked_for_the_next_paused_video() {
        let single = VideoWant {
            wanted: Medium,
            sent: vec![LayerSent {
                quality: High,
                bitrate: 120_000,
            }],
        };
        let videos = vec![single; 3];
        // Two forwarded, one paused: sustain all three, probe for all three.
        assert_eq!(
            estimator_targets(&videos, &[Some(High), Some(High), None]),
            (390_000, 390_000)
        );
        // Nothing paused: nothing to sustain.
        assert_eq!(
            estimator_targets(&videos, &[Some(High), Some(High), Some(High)]),
            (0, 390_000)
        );
    }

    #[test]
    fn a_receiver_is_lossy_past_ten_percent_until_below_two() {
        assert!(!lossy(false, 0.05));
        assert!(lossy(false, 0.15));
        assert!(lossy(true, 0.05), "still lossy until it clears");
        assert!(!lossy(true, 0.01));
    }

    #[test]
    fn rids_and_qualities_match_the_page() {
        for quality in [Low, Medium, High] {
            assert_eq!(quality_of(rid_of(quality)), quality);
        }
        assert_eq!(rid_of(Off), None);
    }
}
