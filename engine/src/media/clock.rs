//! RTMP timestamps (32-bit milliseconds) onto one continuous 64-bit timeline.
//!
//! RTMP's clock wraps after 49.7 days, and encoders restart or jump it (a new OBS scene
//! source, a reconnecting relay). Segments need timestamps that only move forward at the
//! pace of the media, so a jump is absorbed: the timeline carries on from where it was and
//! the jump is reported (the packager marks a discontinuity).

/// A jump larger than this (either way) is a discontinuity, not jitter between tracks.
const MAX_STEP_MS: i64 = 5_000;

#[derive(Debug, Default)]
pub struct Clock {
    /// The last raw timestamp seen, and where it landed on the timeline.
    last: Option<(u32, i64)>,
}

impl Clock {
    /// Maps a raw RTMP timestamp to milliseconds on the timeline; `true` if the source's
    /// clock jumped here.
    pub fn map(&mut self, raw: u32) -> (i64, bool) {
        let Some((last_raw, last_ms)) = self.last else {
            self.last = Some((raw, 0));
            return (0, false);
        };
        // Wrapping difference: a wrap past 2^32 is a small step forward.
        let step = i64::from(raw.wrapping_sub(last_raw) as i32);
        let (ms, jumped) = if step.abs() > MAX_STEP_MS {
            // Carry on just after the last timestamp.
            (last_ms + 1, true)
        } else {
            (last_ms + step, false)
        };
        self.last = Some((raw, ms));
        (ms, jumped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuous_across_wrap_jitter_and_jumps() {
        let mut c = Clock::default();
        assert_eq!(c.map(u32::MAX - 20), (0, false));
        // Wraps past 2^32: 40 ms later.
        assert_eq!(c.map(19), (40, false));
        // Audio a little behind video: small steps back are kept.
        assert_eq!(c.map(5), (26, false));
        // An encoder restart at 0 after an hour: a jump, absorbed.
        let (t, jumped) = c.map(3_600_000);
        assert!(jumped);
        assert_eq!(t, 27);
        assert_eq!(c.map(3_600_033), (60, false));
    }
}
