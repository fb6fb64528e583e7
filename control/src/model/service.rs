//! A service's kind, status, plan limits and HLS packaging.

use serde::{Deserialize, Serialize};

/// A service's kind: fixed at creation.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An Icecast station (audio).
    Radio,
    /// A live video channel (RTMP in, HLS out).
    Video,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Radio => "radio",
            Self::Video => "video",
        }
    }

    /// As stored; `None` for a value this build does not know.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "radio" => Some(Self::Radio),
            "video" => Some(Self::Video),
            _ => None,
        }
    }

    /// Limits a new service gets for what the request leaves out.
    pub fn default_limits(self) -> Limits {
        let (max_bitrate_kbps, disk_quota_mb, autodj) = match self {
            Self::Radio => (320, 1024, true),
            Self::Video => (6000, 5120, false),
        };
        Limits {
            max_listeners: 100,
            max_bitrate_kbps,
            disk_quota_mb,
            dvr_minutes: 0,
            transcode: false,
            autodj,
            transfer_bytes: 0,
            transfer_action: TransferAction::Report,
            restream: TargetKinds::all(),
            relay: true,
        }
    }
}

/// Whether a service may be used.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    /// Sources and listeners are refused (by a reseller, an admin, billing or the transfer
    /// limit).
    Suspended,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// How a video service's HLS segments are packaged.
#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum HlsFormat {
    /// MPEG-TS: every player.
    #[default]
    Ts,
    /// fMP4/CMAF (needed for LL-HLS parts).
    Fmp4,
}

impl HlsFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ts => "ts",
            Self::Fmp4 => "fmp4",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ts" => Some(Self::Ts),
            "fmp4" => Some(Self::Fmp4),
            _ => None,
        }
    }
}

/// A video service's HLS packaging (applies from the publisher's next connect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HlsSettings {
    /// Target segment duration, seconds; segments still start on keyframes.
    pub segment_secs: i64,
    /// How long after the publisher leaves the playlist ends, seconds.
    pub end_after_secs: i64,
    pub format: HlsFormat,
    /// LL-HLS parts (fMP4 only).
    pub low_latency: bool,
}

/// A service's plan limits, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub max_listeners: i64,
    pub max_bitrate_kbps: i64,
    pub disk_quota_mb: i64,
    pub dvr_minutes: i64,
    pub transcode: bool,
    pub autodj: bool,
    /// Monthly data transfer allowed, in bytes (0: no limit); the API shows it as
    /// `transfer_gb`.
    #[serde(rename = "transfer_gb", serialize_with = "bytes_as_gb")]
    pub transfer_bytes: i64,
    pub transfer_action: TransferAction,
    /// The publish target kinds (restreams) it may have.
    pub restream: TargetKinds,
    /// Whether its source may be pulled from a relay URL.
    pub relay: bool,
}

impl Limits {
    /// The bitrate cap as the engine takes it (0: none).
    pub fn max_kbps(&self) -> u32 {
        u32::try_from(self.max_bitrate_kbps).unwrap_or(0)
    }
}

fn bytes_as_gb<S: serde::Serializer>(bytes: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*bytes as f64 / 1e9)
}

/// What happens when a service sends more than its monthly transfer.
#[derive(
    schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TransferAction {
    /// Shown in usage; nothing else.
    #[default]
    Report,
    /// Suspended until the next month begins.
    Suspend,
}

impl TransferAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Suspend => "suspend",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "report" => Some(Self::Report),
            "suspend" => Some(Self::Suspend),
            _ => None,
        }
    }
}

/// Where a publish target (restream) sends.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// RTMP/RTMPS: YouTube, Twitch, Facebook, any RTMP server.
    Rtmp,
    /// Another Icecast server, as a source.
    Icecast,
    /// A Shoutcast v1/v2 server, as a source.
    Shoutcast,
}

impl TargetKind {
    pub const ALL: [Self; 3] = [Self::Rtmp, Self::Icecast, Self::Shoutcast];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rtmp => "rtmp",
            Self::Icecast => "icecast",
            Self::Shoutcast => "shoutcast",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Read by name, with an error that lists the kinds (an API client's typo is common).
impl<'de> Deserialize<'de> for TargetKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{name:?} is not a target kind this server sends to; kinds: rtmp, icecast, shoutcast"
            ))
        })
    }
}

impl std::fmt::Display for TargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of publish target kinds; shown as a list like `["rtmp","icecast"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetKinds(u8);

impl TargetKinds {
    pub fn all() -> Self {
        Self(TargetKind::ALL.iter().fold(0, |a, k| a | k.bit()))
    }

    /// As stored: a comma-separated list. A name this build does not know is left out
    /// (and logged: it was written by a newer build or by hand).
    pub fn parse(s: &str) -> Self {
        Self(
            s.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .filter_map(|n| {
                    let k = TargetKind::parse(n);
                    if k.is_none() {
                        tracing::warn!("unknown publish target kind {n:?} in a plan; ignored");
                    }
                    k
                })
                .fold(0, |a, k| a | k.bit()),
        )
    }

    pub fn from_kinds(kinds: &[TargetKind]) -> Self {
        Self(kinds.iter().fold(0, |a, k| a | k.bit()))
    }

    pub fn allows(self, kind: TargetKind) -> bool {
        self.0 & kind.bit() != 0
    }

    pub fn kinds(self) -> Vec<TargetKind> {
        TargetKind::ALL
            .into_iter()
            .filter(|k| self.allows(*k))
            .collect()
    }

    /// As stored: comma-separated.
    pub fn to_db(self) -> String {
        self.kinds()
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Serialize for TargetKinds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.kinds())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_kinds_round_trip_as_stored() {
        let k = TargetKinds::parse("rtmp, shoutcast");
        assert!(k.allows(TargetKind::Rtmp) && k.allows(TargetKind::Shoutcast));
        assert!(!k.allows(TargetKind::Icecast));
        assert_eq!(k.to_db(), "rtmp,shoutcast");
        assert_eq!(
            TargetKinds::parse(&TargetKinds::all().to_db()),
            TargetKinds::all()
        );
        assert_eq!(TargetKinds::parse(""), TargetKinds::default());
        assert_eq!(
            serde_json::to_string(&TargetKinds::parse("icecast")).unwrap_or_default(),
            r#"["icecast"]"#
        );
    }

    #[test]
    fn stored_strings_parse_back() {
        for k in [Kind::Radio, Kind::Video] {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        for s in [Status::Active, Status::Suspended] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        for f in [HlsFormat::Ts, HlsFormat::Fmp4] {
            assert_eq!(HlsFormat::parse(f.as_str()), Some(f));
        }
        assert_eq!(Kind::parse("tv"), None);
    }
}
