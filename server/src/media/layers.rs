//! Which simulcast layer each receiver gets of each video it receives: what its page asked for
//! (the size it shows the video at), no more than its connection carries (the bandwidth
//! estimate, shared out with the most wanted video served first), one step lower while the
//! server is over its total bitrate budget, and only among the layers the sender is actually
//! sending. Pages send three VP8 layers, `l`, `m` and `h` (a quarter, half and full resolution,
//! capped at the nominal bitrates below).

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

/// What each layer costs at most, as the meeting page caps its encodings (bits per second).
pub fn nominal_bitrate(quality: Quality) -> u64 {
    match quality {
        Quality::Off => 0,
        Quality::Low => 150_000,
        Quality::Medium => 500_000,
        Quality::High => 1_500_000,
    }
}

/// One video a receiver gets: what its page wants of it, and the layers its sender sends.
#[derive(Debug, Clone)]
pub struct VideoWant {
    pub wanted: Quality,
    pub sent: Vec<Quality>,
}

/// A layer for each of one receiver's videos, in the order given (`None`: forward nothing).
/// The most wanted videos are served first from `budget` (the receiver's bandwidth estimate,
/// when there is one): each gets the highest layer it wants that its sender sends and the rest
/// of the budget fits; `pressure` (the server over its total budget) takes each a step lower.
/// A wanted video that nothing fits still gets the lowest layer sent: a small picture beats none.
pub fn allocate(budget: Option<u64>, pressure: bool, videos: &[VideoWant]) -> Vec<Option<Quality>> {
    let mut order: Vec<usize> = (0..videos.len()).collect();
    order.sort_by(|&a, &b| videos[b].wanted.cmp(&videos[a].wanted));
    let mut left = budget.unwrap_or(u64::MAX);
    let mut chosen = vec![None; videos.len()];
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
        let fits = video
            .sent
            .iter()
            .copied()
            .filter(|&q| q <= ceiling && nominal_bitrate(q) <= left)
            .max();
        let Some(layer) = fits.or_else(|| video.sent.iter().copied().min()) else {
            continue;
        };
        left = left.saturating_sub(nominal_bitrate(layer));
        chosen[i] = Some(layer);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use Quality::*;

    fn video(wanted: Quality) -> VideoWant {
        VideoWant {
            wanted,
            sent: vec![Low, Medium, High],
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
        // Nothing fits: still the lowest layer, rather than a black tile.
        assert_eq!(allocate(Some(10_000), false, &[video(High)]), [Some(Low)]);
    }

    #[test]
    fn pressure_takes_a_step_down_and_only_sent_layers_are_chosen() {
        assert_eq!(
            allocate(None, true, &[video(High), video(Medium)]),
            [Some(Medium), Some(Low)]
        );
        let partial = VideoWant {
            wanted: High,
            sent: vec![Low, Medium],
        };
        assert_eq!(allocate(None, false, &[partial]), [Some(Medium)]);
        let single = VideoWant {
            wanted: Low,
            sent: vec![quality_of(None)],
        };
        assert_eq!(
            allocate(None, false, &[single]),
            [Some(High)],
            "a single layer is what there is"
        );
    }

    #[test]
    fn rids_and_qualities_match_the_page() {
        for quality in [Low, Medium, High] {
            assert_eq!(quality_of(rid_of(quality)), quality);
        }
        assert_eq!(rid_of(Off), None);
    }
}
