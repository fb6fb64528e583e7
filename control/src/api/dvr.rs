//! `/api/v1/services/{id}/dvr`: a video service's DVR (time-shift archive).
//!
//! `PUT {"enabled":true,"window_minutes":N}` records every segment of the service's stream
//! to disk from the next publish on, keeping the last `window_minutes` (at most the plan's
//! `dvr_minutes`); `DELETE` or `{"enabled":false}` stops recording (what is archived stays
//! until the window passes it). Played back at `/hls/<slug>/dvr.m3u8`.

use std::time::Duration;

use tidecast_engine::dvr::Retention;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::audit;
use crate::db::services::{self, Service};

use super::access::visible_service;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PathId};
use super::state::AppState;

/// A service's DVR settings as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub enabled: bool,
    pub window_minutes: u32,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DvrSettingsInput")]
pub struct Input {
    enabled: bool,
    window_minutes: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct View {
    enabled: bool,
    window_minutes: u32,
    /// The plan's cap.
    max_minutes: i64,
    /// Where it plays.
    playlist: String,
    applies: &'static str,
}

fn settings(s: &Service) -> Option<Settings> {
    s.dvr_json
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
}

/// The window the engine records with, if the service records (capped by a plan lowered
/// since the settings were saved).
pub fn window(s: &Service) -> Option<Duration> {
    let st = settings(s).filter(|st| st.enabled && s.kind == "video")?;
    let minutes = i64::from(st.window_minutes).min(s.dvr_minutes);
    (minutes > 0).then(|| Duration::from_secs(u64::try_from(minutes).unwrap_or(0) * 60))
}

/// What the engine keeps if the service records: its window, in at most the service's disk
/// quota (the publish path takes the media library's share off).
pub fn retention(s: &Service) -> Option<Retention> {
    Some(Retention {
        window: window(s)?,
        max_bytes: u64::try_from(s.disk_quota_mb).unwrap_or(0) * 1024 * 1024,
    })
}

fn view(s: &Service) -> View {
    let st = settings(s).unwrap_or(Settings {
        enabled: false,
        window_minutes: 0,
    });
    View {
        enabled: st.enabled && s.dvr_minutes > 0,
        window_minutes: st.window_minutes,
        max_minutes: s.dvr_minutes,
        playlist: format!("/hls/{}/dvr.m3u8", s.slug),
        applies: "from the next time the source connects",
    }
}

async fn video(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Service> {
    let (s, _) = visible_service(state, caller, id).await?;
    if s.kind != "video" {
        return Err(ApiError::invalid("DVR is for video services"));
    }
    Ok(s)
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<View>> {
    Ok(Json(view(&video(&state, &caller, id).await?)))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(input): ApiJson<Input>,
) -> ApiResult<Json<View>> {
    let s = video(&state, &caller, id).await?;
    let st = if input.enabled {
        if s.dvr_minutes <= 0 {
            return Err(ApiError::over_plan(
                "DVR is not in this service's plan (limits.dvr_minutes is 0)",
            ));
        }
        let minutes = input
            .window_minutes
            .unwrap_or(u32::try_from(s.dvr_minutes.min(120)).unwrap_or(60));
        if minutes == 0 {
            return Err(ApiError::invalid("window_minutes must be at least 1"));
        }
        if i64::from(minutes) > s.dvr_minutes {
            return Err(ApiError::over_plan(format!(
                "window_minutes ({minutes}) is over this service's dvr_minutes ({})",
                s.dvr_minutes
            )));
        }
        Settings {
            enabled: true,
            window_minutes: minutes,
        }
    } else {
        Settings {
            enabled: false,
            window_minutes: input.window_minutes.unwrap_or(0),
        }
    };
    save(&state, &caller, &s, &st).await
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<View>> {
    let s = video(&state, &caller, id).await?;
    save(
        &state,
        &caller,
        &s,
        &Settings {
            enabled: false,
            window_minutes: 0,
        },
    )
    .await
}

async fn save(
    state: &AppState,
    caller: &Caller,
    s: &Service,
    st: &Settings,
) -> ApiResult<Json<View>> {
    let json = serde_json::to_string(st).map_err(ApiError::internal)?;
    let mut tx = state.db.pool().begin().await?;
    services::set_dvr(&mut *tx, s.id, Some(&json)).await?;
    audit(
        &mut *tx,
        Some(caller.id()),
        "service.dvr",
        &format!("service {} ({}): {json}", s.id, s.slug),
    )
    .await?;
    tx.commit().await?;
    let s = services::by_id(state.db.pool(), s.id)
        .await?
        .ok_or_else(|| ApiError::not_found("service"))?;
    Ok(Json(view(&s)))
}
