//! The sums AutoDJ's mixer does on interleaved stereo `f32`: loudness gain, crossfade curves
//! and a peak limiter. Sans-IO and allocation-free, so they are unit-tested alone.

/// Gain that brings a track measured at `lufs` to the station's `target` (gain only).
/// Boosts are capped at +12 dB so a near-silent track is not turned into noise; a track
/// never measured plays as it is.
pub fn gain_for(lufs: Option<f64>, target: f64) -> f32 {
    let Some(lufs) = lufs.filter(|l| l.is_finite()) else {
        return 1.0;
    };
    let db = (target - lufs).clamp(-30.0, 12.0);
    10f64.powf(db / 20.0) as f32
}

/// Equal-power crossfade gains at `t` (0 = all outgoing, 1 = all incoming): the sum of
/// the two tracks' power stays level through the fade.
pub fn crossfade(t: f32) -> (f32, f32) {
    let t = t.clamp(0.0, 1.0) * std::f32::consts::FRAC_PI_2;
    (t.cos(), t.sin())
}

/// A peak limiter without look-ahead: instant attack, smooth release. It only ever turns
/// down what would clip after normalisation gain; below its ceiling it changes nothing.
#[derive(Debug, Clone)]
pub struct Limiter {
    ceiling: f32,
    gain: f32,
    /// Per-frame step back towards unity.
    release: f32,
}

impl Limiter {
    pub fn new(rate: u32) -> Self {
        Self {
            // −0.3 dBFS: room for the encoder's own overshoot.
            ceiling: 0.966,
            gain: 1.0,
            // Back to unity over about 100 ms.
            release: 1.0 / (rate as f32 * 0.1),
        }
    }

    /// Limits interleaved stereo `pcm` in place.
    pub fn run(&mut self, pcm: &mut [f32]) {
        for frame in pcm.chunks_exact_mut(2) {
            let peak = frame[0].abs().max(frame[1].abs());
            let needed = if peak * self.gain > self.ceiling {
                self.ceiling / peak
            } else {
                (self.gain + self.release).min(1.0)
            };
            self.gain = needed;
            frame[0] *= self.gain;
            frame[1] *= self.gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_brings_a_track_to_the_target() {
        assert!((gain_for(Some(-10.0), -16.0) - 0.501).abs() < 0.01);
        assert!((gain_for(Some(-22.0), -16.0) - 1.995).abs() < 0.01);
        // Capped boost; unmeasured tracks untouched.
        assert!((gain_for(Some(-60.0), -16.0) - 3.98).abs() < 0.01);
        assert_eq!(gain_for(None, -16.0), 1.0);
    }

    #[test]
    fn a_crossfade_keeps_the_power_level() {
        for i in 0..=10 {
            let (out, inn) = crossfade(i as f32 / 10.0);
            assert!((out * out + inn * inn - 1.0).abs() < 1e-5);
        }
        assert_eq!(crossfade(0.0), (1.0, 0.0));
    }

    #[test]
    fn the_limiter_stops_clipping_and_leaves_quiet_audio_alone() {
        let mut lim = Limiter::new(44_100);
        let mut quiet = vec![0.5f32; 200];
        lim.run(&mut quiet);
        assert!(quiet.iter().all(|s| *s == 0.5));
        let mut loud: Vec<f32> = (0..2000)
            .map(|i| 1.8 * ((i / 2) as f32 * 0.05).sin())
            .collect();
        lim.run(&mut loud);
        assert!(loud.iter().all(|s| s.abs() <= 0.967), "clipped");
    }
}
