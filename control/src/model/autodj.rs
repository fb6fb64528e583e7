//! A station's AutoDJ settings as stored (`services.autodj_json`).

use serde::{Deserialize, Serialize};
use tidecast_engine::transcode::AudioCodec;

/// The format AutoDJ encodes the station's primary mount in.
#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum AudioFormat {
    #[default]
    Mp3,
    Aac,
    Opus,
}

impl From<AudioFormat> for AudioCodec {
    fn from(f: AudioFormat) -> Self {
        match f {
            AudioFormat::Mp3 => Self::Mp3,
            AudioFormat::Aac => Self::Aac,
            AudioFormat::Opus => Self::Opus,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoDjSettings {
    /// Left on: it plays, and starts again with the server.
    pub enabled: bool,
    /// The station's primary mount format while AutoDJ is on air.
    pub format: AudioFormat,
    pub bitrate_kbps: u32,
    /// Overlap between tracks (0 for none).
    pub crossfade_s: f64,
    /// Loudness every track is brought to (EBU R128, LUFS).
    pub target_lufs: f64,
    /// Silence longer than this (seconds) is dead air: logged, counted, skipped past.
    #[serde(default = "default_dead_air")]
    pub dead_air_s: f64,
}

fn default_dead_air() -> f64 {
    10.0
}

impl AutoDjSettings {
    /// The defaults for a station capped at `max_kbps` (0: none): MP3 at 128 kbit/s (less
    /// if the plan caps it), a 2 s crossfade, −16 LUFS.
    pub fn defaults(max_kbps: u32) -> Self {
        Self {
            enabled: false,
            format: AudioFormat::Mp3,
            bitrate_kbps: if max_kbps > 0 { max_kbps.min(128) } else { 128 },
            crossfade_s: 2.0,
            target_lufs: -16.0,
            dead_air_s: default_dead_air(),
        }
    }

    /// Checks the settings against the station's cap (`max_kbps`, 0: none); the message
    /// names the field.
    pub fn validate(&self, max_kbps: u32) -> Result<(), String> {
        if !(32..=320).contains(&self.bitrate_kbps) {
            return Err("bitrate_kbps must be between 32 and 320".into());
        }
        if max_kbps > 0 && self.bitrate_kbps > max_kbps {
            return Err(format!(
                "bitrate_kbps ({}) is over this station's max_bitrate_kbps ({max_kbps})",
                self.bitrate_kbps
            ));
        }
        if !(0.0..=10.0).contains(&self.crossfade_s) {
            return Err("crossfade_s must be between 0 and 10".into());
        }
        if !(2.0..=120.0).contains(&self.dead_air_s) {
            return Err("dead_air_s must be between 2 and 120".into());
        }
        if !(-30.0..=-5.0).contains(&self.target_lufs) {
            return Err("target_lufs must be between -30 and -5".into());
        }
        Ok(())
    }
}
