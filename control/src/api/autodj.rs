//! `/api/v1/services/{id}/autodj`: a station's AutoDJ.
//!
//! `GET` shows its settings and what it is doing (now playing, next, on air or yielding to
//! a live source); `PUT` changes the settings (format, bitrate, crossfade, loudness target;
//! applied at once if it runs); `POST …/autodj/start|stop|skip`. Starting needs `autodj` in
//! the station's plan and a playlist with something to play; a started AutoDJ stays on
//! across server restarts until stopped.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tidecast_engine::ServiceId;
use tidecast_engine::autodj::Track;

use crate::auth::Caller;
use crate::db::services::Service;
use crate::domain::autodj::{self, SettingsInput};
use crate::model::autodj::AutoDjSettings;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PathId};
use crate::app::AppState;

#[derive(Debug, Serialize)]
pub struct TrackView {
    pub(crate) media_id: i64,
    title: String,
    artist: String,
    album: String,
}

impl From<&Track> for TrackView {
    fn from(t: &Track) -> Self {
        Self {
            media_id: t.media_id,
            title: t.title.clone(),
            artist: t.artist.clone(),
            album: t.album.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AutoDjView {
    #[serde(flatten)]
    settings: AutoDjSettings,
    /// Its thread runs (it may be yielding to a live source).
    running: bool,
    /// Listeners hear it now.
    on_air: bool,
    now_playing: Option<TrackView>,
    started_at: Option<String>,
    next: Option<TrackView>,
    /// Seconds its output has been silent, if it is now.
    silent_for_s: Option<f64>,
    /// Dead air found (and skipped past) since it started.
    dead_air_events: u64,
}

pub fn view(state: &AppState, s: &Service) -> AutoDjView {
    let status = state.engine.autodj().status(ServiceId(s.id));
    let st = status.clone().unwrap_or_default();
    AutoDjView {
        settings: autodj::settings(s),
        running: status.is_some(),
        on_air: st.on_air,
        now_playing: st.now.as_ref().map(TrackView::from),
        started_at: st.since.map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        }),
        next: st.next.as_ref().map(TrackView::from),
        silent_for_s: st
            .silent_since
            .and_then(|t| t.elapsed().ok())
            .map(|d| (d.as_secs_f64() * 10.0).round() / 10.0),
        dead_air_events: st.dead_air_events,
    }
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<AutoDjView>> {
    let s = autodj::station(&state, &caller, id).await?;
    Ok(Json(view(&state, &s)))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(input): ApiJson<SettingsInput>,
) -> ApiResult<Json<AutoDjView>> {
    let s = autodj::configure(&state, &caller, id, input).await?;
    Ok(Json(view(&state, &s)))
}

pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<AutoDjView>> {
    let s = autodj::start(&state, &caller, id).await?;
    Ok(Json(view(&state, &s)))
}

pub async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<AutoDjView>> {
    let s = autodj::stop(&state, &caller, id).await?;
    Ok(Json(view(&state, &s)))
}

pub async fn skip(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<AutoDjView>> {
    let s = autodj::station(&state, &caller, id).await?;
    if !state.engine.autodj().skip(ServiceId(id)) {
        return Err(ApiError::conflict("AutoDJ is not running"));
    }
    Ok(Json(view(&state, &s)))
}
