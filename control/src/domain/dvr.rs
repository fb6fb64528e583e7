//! A video service's DVR (time-shift archive) settings: what the engine records with, and
//! turning it on or off.
//!
//! On with a window records every segment of the service's stream to disk from the next
//! publish on, keeping the last `window_minutes` (at most the plan's `dvr_minutes`); off stops
//! recording (what is archived stays until the window passes it).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tidecast_engine::ServiceId;
use tidecast_engine::dvr::playlist::Rendition;
use tidecast_engine::dvr::{Archive, Dvr, Retention};

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::services::{self, Service};
use crate::model::Kind;
use crate::model::dvr::DvrSettings;

use super::access::service_of_kind;
use super::services::commit_and_reload;
use super::{Error, Result, audit_in};

/// What a request sets.
#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DvrSettingsInput")]
pub struct Input {
    pub enabled: bool,
    pub window_minutes: Option<u32>,
}

/// The settings in effect: the stored ones, else off.
pub fn settings(s: &Service) -> DvrSettings {
    s.dvr.get().copied().unwrap_or(DvrSettings {
        enabled: false,
        window_minutes: 0,
    })
}

/// The window the engine records with, if the service records (capped by a plan lowered
/// since the settings were saved).
pub fn window(s: &Service) -> Option<Duration> {
    let st = s
        .dvr
        .get()
        .filter(|st| st.enabled && s.kind == Kind::Video)?;
    let minutes = i64::from(st.window_minutes).min(s.limits.dvr_minutes);
    (minutes > 0).then(|| Duration::from_secs(u64::try_from(minutes).unwrap_or(0) * 60))
}

/// What the engine keeps if the service records: its window, in at most the service's disk
/// quota (the publish path takes the media library's share off).
pub fn retention(s: &Service) -> Option<Retention> {
    Some(Retention {
        window: window(s)?,
        max_bytes: u64::try_from(s.limits.disk_quota_mb).unwrap_or(0) * 1024 * 1024,
    })
}

/// A video service the caller sees.
pub async fn video(state: &AppState, caller: &Caller, id: i64) -> Result<Service> {
    service_of_kind(state, caller, id, Kind::Video, "DVR is for video services").await
}

/// Turns the DVR on (with a window, at most the plan's) or off.
pub async fn set(state: &AppState, caller: &Caller, id: i64, input: Input) -> Result<Service> {
    let s = video(state, caller, id).await?;
    let st = if input.enabled {
        if s.limits.dvr_minutes <= 0 {
            return Err(Error::over_plan(
                "DVR is not in this service's plan (limits.dvr_minutes is 0)",
            ));
        }
        let minutes = input
            .window_minutes
            .unwrap_or(u32::try_from(s.limits.dvr_minutes.min(120)).unwrap_or(60));
        if minutes == 0 {
            return Err(Error::invalid("window_minutes must be at least 1"));
        }
        if i64::from(minutes) > s.limits.dvr_minutes {
            return Err(Error::over_plan(format!(
                "window_minutes ({minutes}) is over this service's dvr_minutes ({})",
                s.limits.dvr_minutes
            )));
        }
        DvrSettings {
            enabled: true,
            window_minutes: minutes,
        }
    } else {
        DvrSettings {
            enabled: false,
            window_minutes: input.window_minutes.unwrap_or(0),
        }
    };
    save(state, caller, &s, &st).await
}

/// Turns the DVR off.
pub async fn turn_off(state: &AppState, caller: &Caller, id: i64) -> Result<Service> {
    let s = video(state, caller, id).await?;
    let off = DvrSettings {
        enabled: false,
        window_minutes: 0,
    };
    save(state, caller, &s, &off).await
}

async fn save(state: &AppState, caller: &Caller, s: &Service, st: &DvrSettings) -> Result<Service> {
    let mut tx = state.db.pool().begin().await?;
    services::set_dvr(&mut *tx, s.id, Some(st)).await?;
    audit_in(
        &mut tx,
        caller,
        "service.dvr",
        &format!(
            "service {} ({}): {}",
            s.id,
            s.slug,
            serde_json::to_string(st).unwrap_or_default()
        ),
    )
    .await?;
    commit_and_reload(tx, s.id).await
}

/// A stream's archive if it was ever recorded (nothing is created by looking).
pub fn existing(dvr: &Dvr, s: &Service, stream: &str) -> Result<Option<Arc<Archive>>> {
    if !dvr.folder(ServiceId(s.id), stream).is_dir() {
        return Ok(None);
    }
    dvr.archive(ServiceId(s.id), stream).map(Some).map_err(|e| {
        Error::internal(anyhow::anyhow!(
            "the DVR archive of {stream} is unreadable: {e}"
        ))
    })
}

/// The renditions of the service's ladder that were recorded, highest first (the source,
/// if offered, before them).
pub fn renditions(dvr: &Dvr, s: &Service) -> Result<Vec<Rendition>> {
    let Some(spec) = super::ladder::engine_ladder(s) else {
        return Ok(Vec::new());
    };
    let source = spec.passthrough.then(|| {
        let top = spec
            .renditions
            .iter()
            .map(|r| r.video_kbps + r.audio_kbps)
            .max()
            .unwrap_or(4000);
        (
            tidecast_engine::ladder::SOURCE.to_owned(),
            None,
            top * 3 / 2,
        )
    });
    let rungs = spec.renditions.iter().map(|r| {
        let resolution = (r.width > 0 && r.height > 0).then_some((r.width, r.height));
        (r.name.clone(), resolution, r.video_kbps + r.audio_kbps)
    });
    let mut out = Vec::new();
    for (name, resolution, kbps) in source.into_iter().chain(rungs) {
        if let Some(archive) = existing(dvr, s, &format!("{}/{name}", s.slug))? {
            out.push(Rendition {
                name,
                archive,
                kbps,
                resolution,
            });
        }
    }
    Ok(out)
}

/// The archive a recording of `[from_ms, to_ms)` is cut from: the source as it arrived if
/// it was recorded, else the highest rendition with segments there, else the service's own
/// stream (no ladder).
pub fn best_archive(dvr: &Dvr, s: &Service, from_ms: i64, to_ms: i64) -> Option<Arc<Archive>> {
    let recorded = renditions(dvr, s).ok()?;
    recorded
        .into_iter()
        .map(|r| r.archive)
        .find(|a| a.has_segments_in(from_ms, to_ms))
        .or_else(|| {
            existing(dvr, s, &s.slug)
                .ok()
                .flatten()
                .filter(|a| a.has_segments_in(from_ms, to_ms))
        })
}
