//! A service's transcoding ladder as stored (`services.transcode_json`) and shown: its
//! rungs, whether the source is offered too, and the watermark.

use serde::{Deserialize, Serialize};

/// The pass-through rendition's name.
pub const SOURCE: &str = "source";

/// A rung as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendition {
    pub name: String,
    /// Absent: the source's aspect ratio at this height.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// 0 for an audio-only rung (radio).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub height: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub video_kbps: u32,
    pub audio_kbps: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// A service's ladder.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ladder {
    /// Whether the source is offered as it arrives (`{"name":"source"}` in the request).
    #[serde(default)]
    pub source: bool,
    pub renditions: Vec<Rendition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Watermark>,
    /// The watermark's picture on disk (resolved from its media item when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark_file: Option<String>,
}

impl Ladder {
    /// Sum of the transcoded rungs' bitrates (what the plan's `max_bitrate_kbps` caps).
    pub fn total_kbps(&self) -> u32 {
        total_kbps(&self.renditions)
    }
}

/// Sum of the rungs' video and audio bitrates.
pub fn total_kbps(rungs: &[Rendition]) -> u32 {
    rungs.iter().map(|r| r.video_kbps + r.audio_kbps).sum()
}

/// Apple's HLS authoring guidance, rounded: what a service gets when it turns transcoding
/// on without naming its rungs (and what an on-demand video gets without a ladder).
pub fn default_rungs() -> Vec<Rendition> {
    let rung = |name: &str, height, video_kbps, audio_kbps| Rendition {
        name: name.into(),
        width: None,
        height,
        video_kbps,
        audio_kbps,
    };
    vec![
        rung("1080p", 1080, 5000, 128),
        rung("720p", 720, 3000, 128),
        rung("480p", 480, 1400, 96),
        rung("360p", 360, 800, 96),
    ]
}

/// A PNG from the customer's media library drawn over every rendition.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watermark {
    /// The media item (a PNG, ideally with transparency).
    pub media: i64,
    #[serde(default)]
    pub position: Corner,
    /// 0.0 ..= 1.0, stored as a percentage.
    #[serde(default = "default_opacity", with = "percent")]
    #[schemars(with = "f64", range(min = 0.0, max = 1.0))]
    pub opacity: u8,
}

fn default_opacity() -> u8 {
    80
}

/// Where the watermark sits.
#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Corner {
    TopLeft,
    #[default]
    TopRight,
    BottomLeft,
    BottomRight,
}

impl From<Corner> for tidecast_engine::transcode::Corner {
    fn from(c: Corner) -> Self {
        use tidecast_engine::transcode::Corner as E;
        match c {
            Corner::TopLeft => E::TopLeft,
            Corner::TopRight => E::TopRight,
            Corner::BottomLeft => E::BottomLeft,
            Corner::BottomRight => E::BottomRight,
        }
    }
}

/// Opacity travels as a 0..1 number and is kept as a whole percentage.
mod percent {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u8, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(f64::from(*v) / 100.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
        let v = f64::deserialize(d)?;
        if !(0.0..=1.0).contains(&v) {
            return Err(serde::de::Error::custom("opacity must be between 0 and 1"));
        }
        Ok((v * 100.0).round() as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_ladders_of_earlier_versions_still_decode() {
        let stored = r#"{"source":true,"renditions":[{"name":"720p","height":720,"video_kbps":3000,"audio_kbps":128}],"watermark":{"media":3,"position":"bottom-left","opacity":0.5},"watermark_file":"/d/m.png"}"#;
        let l: Ladder = serde_json::from_str(stored).expect("decodes");
        assert!(l.source);
        assert_eq!(l.total_kbps(), 3128);
        let w = l.watermark.as_ref().expect("watermark");
        assert_eq!((w.position, w.opacity), (Corner::BottomLeft, 50));
        assert_eq!(serde_json::to_string(&l).expect("encodes"), stored);
        let bad = r#"{"renditions":[],"watermark":{"media":3,"position":"middle"}}"#;
        assert!(serde_json::from_str::<Ladder>(bad).is_err());
    }
}
