//! A deck: one track being played, from its cue-in to its cue-out, at its loudness gain.

use crate::transcode::TrackReader;

use super::Track;

/// A track loaded for playing.
pub struct Deck {
    pub track: Track,
    reader: Box<dyn TrackReader>,
    /// Decoded samples not played yet (interleaved stereo), from `head` on.
    buf: Vec<f32>,
    head: usize,
    /// Frames played so far (after the cue-in).
    pub played: u64,
    /// Frames to play: cue-out − cue-in at the station's rate; shortened by a skip or by
    /// the file ending early.
    pub length: u64,
    gain: f32,
    ended: bool,
    /// The longest crossfade out of this track (a skip's short fade).
    fade_limit: u64,
}

impl std::fmt::Debug for Deck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deck")
            .field("track", &self.track.media_id)
            .field("played", &self.played)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl Deck {
    /// Loads `track` and decodes up to its cue-in (silence at the head is never played).
    pub fn new(
        track: Track,
        mut reader: Box<dyn TrackReader>,
        rate: u32,
        gain: f32,
    ) -> Result<Self, crate::transcode::TranscodeError> {
        let frames = |secs: f64| (secs.max(0.0) * f64::from(rate)) as u64;
        let cue_in = frames(track.cue_in_s);
        let length = frames(track.cue_out_s).saturating_sub(cue_in);
        let mut skipped = 0u64;
        let mut buf = Vec::new();
        while skipped < cue_in {
            buf.clear();
            let n = reader.read(&mut buf)? as u64;
            if n == 0 {
                break;
            }
            let keep = (skipped + n).saturating_sub(cue_in);
            skipped += n;
            if keep > 0 {
                let from = buf.len() - keep as usize * 2;
                buf.drain(..from);
                break;
            }
            buf.clear();
        }
        Ok(Self {
            track,
            reader,
            buf,
            head: 0,
            played: 0,
            length,
            gain,
            ended: false,
            fade_limit: u64::MAX,
        })
    }

    /// Frames left before the cue-out.
    pub fn left(&self) -> u64 {
        self.length.saturating_sub(self.played)
    }

    /// Ends the track `frames` from now (a skip), if that is sooner than its cue-out; its
    /// crossfade into the next is no longer than that.
    pub fn end_in(&mut self, frames: u64) {
        self.length = self.length.min(self.played + frames);
        self.fade_limit = self.fade_limit.min(frames);
    }

    pub fn fade_limit(&self) -> u64 {
        self.fade_limit
    }

    /// Adds up to `out.len() / 2` frames of this track, times `fade(i)` for the i-th frame,
    /// into `out`. Returns how many frames it had; fewer means the file ended early (its
    /// length is cut to what was played).
    pub fn mix_into(
        &mut self,
        out: &mut [f32],
        mut fade: impl FnMut(u64) -> f32,
    ) -> Result<usize, crate::transcode::TranscodeError> {
        let want = ((out.len() / 2) as u64).min(self.left()) as usize;
        let mut done = 0;
        while done < want {
            if self.head >= self.buf.len() {
                self.buf.clear();
                self.head = 0;
                if self.ended || self.reader.read(&mut self.buf)? == 0 {
                    self.ended = true;
                    self.length = self.played;
                    break;
                }
            }
            let avail = (self.buf.len() - self.head) / 2;
            let n = avail.min(want - done);
            let src = &self.buf[self.head..self.head + n * 2];
            for (i, pair) in src.chunks_exact(2).enumerate() {
                // The fade is indexed from the start of this call, across decoder buffers.
                let g = self.gain * fade((done + i) as u64);
                out[(done + i) * 2] += pair[0] * g;
                out[(done + i) * 2 + 1] += pair[1] * g;
            }
            self.head += n * 2;
            done += n;
            self.played += n as u64;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcode::TranscodeError;

    /// A "file" of `frames` frames whose samples count up from 1.
    struct Ramp {
        next: u64,
        frames: u64,
    }

    impl TrackReader for Ramp {
        fn read(&mut self, out: &mut Vec<f32>) -> Result<usize, TranscodeError> {
            let n = (self.frames - self.next).min(100);
            for i in 0..n {
                let v = (self.next + i + 1) as f32;
                out.extend([v, v]);
            }
            self.next += n;
            Ok(n as usize)
        }
    }

    fn track(cue_in: f64, cue_out: f64) -> Track {
        Track {
            media_id: 1,
            path: "x".into(),
            title: "t".into(),
            artist: String::new(),
            album: String::new(),
            loudness_lufs: None,
            cue_in_s: cue_in,
            cue_out_s: cue_out,
        }
    }

    #[test]
    fn a_deck_plays_from_cue_in_to_cue_out() {
        // 1000 frames at a "rate" of 100: cue in at 1.5 s (frame 150), out at 9 s.
        let reader = Box::new(Ramp {
            next: 0,
            frames: 1000,
        });
        let mut deck = Deck::new(track(1.5, 9.0), reader, 100, 1.0).expect("deck");
        assert_eq!(deck.length, 750);
        let mut out = vec![0.0; 2000];
        let n = deck.mix_into(&mut out, |_| 1.0).expect("mix");
        assert_eq!(n, 750);
        assert_eq!(out[0], 151.0);
        assert_eq!(out[749 * 2], 900.0);
        assert_eq!(out[750 * 2], 0.0);
        assert_eq!(deck.left(), 0);
    }

    #[test]
    fn a_fade_runs_on_across_decoder_buffers() {
        // The reader hands out 100 frames at a time; a 250-frame fade must not restart.
        let reader = Box::new(Ramp {
            next: 0,
            frames: 1000,
        });
        let mut deck = Deck::new(track(0.0, 10.0), reader, 100, 1.0).expect("deck");
        let mut out = vec![0.0; 500];
        deck.mix_into(&mut out, |i| 1.0 - i as f32 / 250.0)
            .expect("mix");
        let gains: Vec<f32> = out
            .chunks_exact(2)
            .enumerate()
            .map(|(i, p)| p[0] / (i + 1) as f32)
            .collect();
        for pair in gains.windows(2) {
            assert!(pair[1] < pair[0], "the fade went back up: {gains:?}");
        }
    }

    #[test]
    fn a_file_shorter_than_its_cue_out_ends_where_it_ends() {
        let reader = Box::new(Ramp {
            next: 0,
            frames: 300,
        });
        let mut deck = Deck::new(track(0.0, 9.0), reader, 100, 0.5).expect("deck");
        let mut out = vec![0.0; 2000];
        assert_eq!(deck.mix_into(&mut out, |_| 1.0).expect("mix"), 300);
        assert_eq!(out[0], 0.5);
        assert_eq!(deck.left(), 0);
    }
}
