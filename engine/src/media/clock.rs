//! RTMP timestamps (32-bit milliseconds) onto one continuous 64-bit timeline.
//!
//! RTMP's clock wraps after 49.7 days, and encoders restart or jump it (a new OBS scene
//! source, a reconnecting relay). Segments need timestamps that only move forward at the
//! pace of the media, so a jump is absorbed: the timeline carries on from where it was and
//! the jump is reported (the packager marks a discontinuity).
//!
//! Each track is followed on its own (audio may run seconds behind video in some encoders)
//! but both share the timeline: a timestamp close to either track's last one is a step,
//! not a jump, so after a jump seen on one track the other follows without a second one.

use super::Track;

/// A step larger than this (either way) from both tracks' last timestamps is a jump.
const MAX_STEP_MS: i64 = 5_000;
/// How far a track's first timestamp may be from the other track's and still be an offset.
const FIRST_OFFSET_MS: i64 = 60_000;

#[derive(Debug, Default)]
pub struct Clock {
    /// Per track (video, audio): the last raw timestamp and where it landed.
    last: [Option<(u32, i64)>; 2],
}

fn slot(track: Track) -> usize {
    match track {
        Track::Video => 0,
        Track::Audio => 1,
    }
}

impl Clock {
    /// Maps a raw RTMP timestamp of `track` to milliseconds on the timeline; `true` if the
    /// source's clock jumped here.
    pub fn map(&mut self, track: Track, raw: u32) -> (i64, bool) {
        let own = slot(track);
        let other = 1 - own;
        let refs = [self.last[own], self.last[other]];
        let (ms, jumped) = if refs.iter().all(Option::is_none) {
            (0, false)
        } else if let (None, Some((r_raw, r_ms))) = (refs[0], refs[1])
            && i64::from(raw.wrapping_sub(r_raw) as i32).abs() <= FIRST_OFFSET_MS
        {
            // A track's first timestamp keeps its distance to the other track's, even a
            // large one: that is the publisher's A/V offset, not a jump.
            (r_ms + i64::from(raw.wrapping_sub(r_raw) as i32), false)
        } else {
            // Wrapping difference: a wrap past 2^32 is a small step forward.
            let near = refs.iter().flatten().find_map(|&(r_raw, r_ms)| {
                let step = i64::from(raw.wrapping_sub(r_raw) as i32);
                (step.abs() <= MAX_STEP_MS).then_some(r_ms + step)
            });
            match near {
                Some(ms) => (ms, false),
                None => {
                    // Carry on just after the latest time either track reached.
                    let latest = refs.iter().flatten().map(|&(_, ms)| ms).max().unwrap_or(0);
                    (latest + 1, true)
                }
            }
        };
        self.last[own] = Some((raw, ms));
        (ms, jumped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuous_across_wrap_jitter_and_jumps() {
        let mut c = Clock::default();
        assert_eq!(c.map(Track::Video, u32::MAX - 20), (0, false));
        // Wraps past 2^32: 40 ms later.
        assert_eq!(c.map(Track::Video, 19), (40, false));
        // Audio a little behind video: small steps back are kept.
        assert_eq!(c.map(Track::Audio, 5), (26, false));
        // An encoder restart at 0 after an hour: a jump, absorbed once.
        let (t, jumped) = c.map(Track::Video, 3_600_000);
        assert!(jumped);
        assert_eq!(t, 41);
        // The audio follows the video across the same jump without a second one.
        assert_eq!(c.map(Track::Audio, 3_599_990), (31, false));
        assert_eq!(c.map(Track::Video, 3_600_033), (74, false));
    }

    #[test]
    fn audio_far_behind_video_is_not_a_jump() {
        let mut c = Clock::default();
        c.map(Track::Video, 10_000);
        // Audio 6 s behind: the publisher's offset, kept as it is, not a jump ...
        assert_eq!(c.map(Track::Audio, 4_000), (-6_000, false));
        // ... and from then on each track steps on its own.
        for i in 1..100u32 {
            assert!(!c.map(Track::Video, 10_000 + i * 33).1);
            assert!(!c.map(Track::Audio, 4_000 + i * 23).1);
        }
    }
}
