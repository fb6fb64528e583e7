//! Media as the engine moves it: codec configurations and timed access units, independent
//! of how they arrived (RTMP today; relays and the transcoder later) and of how they leave
//! (HLS segments, DVR).

pub mod aac;
pub mod avc;
pub mod clock;
pub mod flv;
pub mod mpa;

// The test media, shared with the in-process tests in engine/tests/.
#[cfg(test)]
#[path = "../../tests/common/media.rs"]
pub(crate) mod fixtures;

use bytes::Bytes;

/// The timescale of every timestamp in a [`Frame`]: MPEG-TS's 90 kHz clock.
pub const TIMESCALE: i64 = 90_000;

/// Which elementary stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    Video,
    Audio,
}

/// One access unit: a video picture (AVCC: length-prefixed NAL units) or an audio frame
/// (raw AAC, or an MP3 frame), with timestamps in 90 kHz units on a continuous timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub track: Track,
    /// Decode time.
    pub dts: i64,
    /// Presentation time (≥ `dts`; differs with B-frames).
    pub pts: i64,
    /// A random access point: an IDR picture (always true for audio).
    pub key: bool,
    pub data: Bytes,
}

/// The audio codec of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioConfig {
    Aac(aac::AacConfig),
    /// MPEG-1/2 Layer III, as FLV declares it.
    Mp3 {
        sample_rate: u32,
        channels: u8,
    },
}

impl AudioConfig {
    pub fn sample_rate(&self) -> u32 {
        match self {
            Self::Aac(c) => c.sample_rate,
            Self::Mp3 { sample_rate, .. } => *sample_rate,
        }
    }

    /// The RFC 6381 `CODECS` value.
    pub fn codec_string(&self) -> String {
        match self {
            Self::Aac(c) => format!("mp4a.40.{}", c.object_type),
            Self::Mp3 { .. } => "mp4a.40.34".to_owned(),
        }
    }
}

/// What a decoder needs before the first frame of each track.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamConfig {
    pub video: Option<avc::AvcConfig>,
    pub audio: Option<AudioConfig>,
}

/// What a variant stream carries, as a master playlist describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamInfo {
    /// Width × height of the pictures (none: audio only, or not known).
    pub resolution: Option<(u32, u32)>,
    /// RFC 6381 codecs, e.g. `avc1.64001F,mp4a.40.2` (empty: not known).
    pub codecs: String,
    /// Pictures per second (none: audio only, or not known).
    pub frame_rate: Option<f64>,
}

impl StreamInfo {
    /// What a stream of `config` carries.
    pub fn of(config: &StreamConfig) -> Self {
        Self {
            resolution: config.video.as_ref().map(|v| (v.width, v.height)),
            codecs: [
                config.video.as_ref().map(|v| v.codec_string.clone()),
                config.audio.as_ref().map(|a| a.codec_string()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(","),
            frame_rate: config.video.as_ref().and_then(|v| v.fps),
        }
    }
}
