//! A publish target's stored settings beyond its address: a radio station sent to an RTMP
//! target is drawn as video (`publish_targets.video_json`).

use serde::{Deserialize, Serialize};

/// A radio station sent to a video platform: a still image or a looping clip from the
/// owner's media (a dark background when left out) with the station name and the title
/// playing drawn on it, and the station's audio.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoSettings {
    /// A picture or video in the owner's media library.
    pub media: Option<i64>,
    /// 1280x720 when left out.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Pictures per second: 30 when left out (1 to 60).
    pub fps: Option<u32>,
    /// 1500 when left out (100 to 20000).
    pub video_kbps: Option<u32>,
}

/// A radio target's picture as stored: the settings and the background's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredVideo {
    pub settings: VideoSettings,
    pub file: Option<String>,
}
