//! What the engine is granted for a service: its limits, HLS packaging, ladder, DVR
//! retention and extra-mount feeds, built from the service's typed settings. The engine's
//! admission (`crate::admission`) and AutoDJ's start hand these out.

use tidecast_engine::{Grant, HlsSettings, Limits, SegmentFormat, ServiceId};

use crate::db::services::Service;
use crate::db::{Db, mounts};
use crate::model::{HlsFormat, Kind};

/// The priority of the service's own `source` login (SPEC "DJs").
pub const SOURCE_PRIORITY: u8 = 50;

pub fn engine_limits(s: &Service) -> Limits {
    let l = s.limits;
    // Stored limits are range-checked by the API, so these conversions do not saturate.
    Limits {
        max_listeners: u32::try_from(l.max_listeners).unwrap_or(u32::MAX),
        max_bitrate_kbps: u32::try_from(l.max_bitrate_kbps).unwrap_or(u32::MAX),
        disk_quota_mb: u64::try_from(l.disk_quota_mb).unwrap_or(0),
        dvr_minutes: u32::try_from(l.dvr_minutes).unwrap_or(0),
        transcode: l.transcode,
        autodj: l.autodj,
    }
}

pub fn engine_ladder(
    s: &Service,
) -> Option<std::sync::Arc<tidecast_engine::transcode::LadderSpec>> {
    super::ladder::engine_ladder(s)
}

pub fn engine_hls(s: &Service) -> HlsSettings {
    // Range-checked by the API.
    HlsSettings {
        segment_secs: u32::try_from(s.hls.segment_secs).unwrap_or(2),
        end_after_secs: u32::try_from(s.hls.end_after_secs).unwrap_or(20),
        format: match s.hls.format {
            HlsFormat::Fmp4 => SegmentFormat::Fmp4,
            HlsFormat::Ts => SegmentFormat::Ts,
        },
        low_latency: s.hls.low_latency,
    }
}

/// The mount a request names, resolved: a service's primary mount (its slug) or one of its
/// extra mounts, with that mount's fallback.
#[derive(Debug, Clone)]
pub struct Target {
    pub mount: String,
    pub fallback: Option<String>,
}

impl Target {
    pub fn primary(s: &Service) -> Self {
        Self {
            mount: s.slug.clone(),
            fallback: s.fallback.clone(),
        }
    }
}

pub fn grant_for(s: &Service, target: &Target, label: &str) -> Grant {
    Grant {
        service_id: ServiceId(s.id),
        mount: target.mount.clone(),
        limits: engine_limits(s),
        priority: SOURCE_PRIORITY,
        label: label.to_owned(),
        lifetime: None,
        fallback: target.fallback.clone(),
        hls: engine_hls(s),
        transcode: engine_ladder(s),
        dvr: super::dvr::retention(s),
        record_set: records_sets(s, target),
    }
}

/// Whether a live source on `target` is recorded as a set: the station records its sets and
/// this is its primary mount.
pub fn records_sets(s: &Service, target: &Target) -> bool {
    s.kind == Kind::Radio && s.record_sets && target.mount == s.slug
}

/// What AutoDJ holds on a station's primary mount: the source login's grant at the lowest
/// priority (every live source takes over), feeding the extra mounts too.
pub async fn autodj(db: &Db, s: &Service) -> sqlx::Result<Grant> {
    let mut g = grant_for(s, &Target::primary(s), "AutoDJ");
    g.priority = 0;
    // Its plays are in the history already; sets are what live sources send.
    g.record_set = false;
    if s.limits.transcode {
        g = with_feeds(db, s, g).await?;
    }
    Ok(g)
}

/// `g` with the service's extra mounts as transcoder feeds.
pub async fn with_feeds(db: &Db, s: &Service, mut g: Grant) -> sqlx::Result<Grant> {
    use tidecast_engine::transcode::{AudioCodec, FeedSpec, LadderSpec};
    let feeds: Vec<FeedSpec> = mounts::for_service(db, s.id)
        .await?
        .into_iter()
        .filter_map(|m| {
            let codec = match m.format.as_str() {
                "mp3" => AudioCodec::Mp3,
                "aac" => AudioCodec::Aac,
                "opus" => AudioCodec::Opus,
                _ => return None,
            };
            Some(FeedSpec {
                mount: m.name,
                codec,
                kbps: u32::try_from(m.bitrate_kbps).unwrap_or(128),
            })
        })
        .collect();
    if !feeds.is_empty() {
        let mut spec = g
            .transcode
            .as_deref()
            .cloned()
            .unwrap_or_else(LadderSpec::default);
        spec.feeds = feeds;
        g.transcode = Some(std::sync::Arc::new(spec));
    }
    Ok(g)
}
