//! `/api/v1/services/{id}/autodj`: a station's AutoDJ.
//!
//! `GET` shows its settings and what it is doing (now playing, next, on air or yielding to
//! a live source); `PUT` changes the settings (format, bitrate, crossfade, loudness target;
//! applied at once if it runs); `POST …/autodj/start|stop|skip`. Starting needs `autodj` in
//! the station's plan and a playlist with something to play; a started AutoDJ stays on
//! across server restarts until stopped.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tidecast_engine::ServiceId;
use tidecast_engine::autodj::{AutoDjError, Track};

use crate::auth::Caller;
use crate::autodj::{self, Settings};
use crate::db::services::{self, Service};
use crate::db::{audit, playlists};

use super::access::visible_service;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PathId};
use super::state::AppState;

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
    settings: Settings,
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

/// Settings as `PUT` takes them: any subset.
#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AutoDjSettingsInput")]
pub struct SettingsInput {
    format: Option<String>,
    bitrate_kbps: Option<u32>,
    crossfade_s: Option<f64>,
    target_lufs: Option<f64>,
    dead_air_s: Option<f64>,
}

pub fn view(state: &AppState, s: &Service) -> AutoDjView {
    let status = state.engine.autodj().status(ServiceId(s.id));
    let st = status.clone().unwrap_or_default();
    AutoDjView {
        settings: Settings::of(s),
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

async fn station(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Service> {
    let (service, _) = visible_service(state, caller, id).await?;
    if service.kind != "radio" {
        return Err(ApiError::invalid("AutoDJ is for radio services"));
    }
    Ok(service)
}

async fn reload(state: &AppState, id: i64) -> ApiResult<Service> {
    services::by_id(state.db.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("service"))
}

async fn save(
    state: &AppState,
    caller: &Caller,
    s: &Service,
    settings: &Settings,
    action: &str,
) -> ApiResult<()> {
    let json = serde_json::to_string(settings).map_err(ApiError::internal)?;
    let mut tx = state.db.pool().begin().await?;
    services::set_autodj(&mut *tx, s.id, &json).await?;
    audit(
        &mut *tx,
        Some(caller.id()),
        action,
        &format!("service {} ({})", s.id, s.slug),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn start_error(e: anyhow::Error) -> ApiError {
    match e.downcast_ref::<AutoDjError>() {
        Some(AutoDjError::NoTranscoder) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            AutoDjError::NoTranscoder.to_string(),
        ),
        _ => ApiError::internal(e),
    }
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<AutoDjView>> {
    let s = station(&state, &caller, id).await?;
    Ok(Json(view(&state, &s)))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(input): ApiJson<SettingsInput>,
) -> ApiResult<Json<AutoDjView>> {
    let s = station(&state, &caller, id).await?;
    let mut settings = Settings::of(&s);
    if let Some(f) = input.format {
        settings.format = f;
    }
    if let Some(b) = input.bitrate_kbps {
        settings.bitrate_kbps = b;
    }
    if let Some(c) = input.crossfade_s {
        settings.crossfade_s = c;
    }
    if let Some(t) = input.target_lufs {
        settings.target_lufs = t;
    }
    if let Some(d) = input.dead_air_s {
        settings.dead_air_s = d;
    }
    settings.validate(&s).map_err(|e| {
        if e.contains("max_bitrate_kbps") {
            ApiError::over_plan(e)
        } else {
            ApiError::invalid(e)
        }
    })?;
    save(&state, &caller, &s, &settings, "autodj.settings").await?;
    let s = reload(&state, id).await?;
    if state.engine.autodj().is_running(ServiceId(id)) {
        autodj::start(&state, &s).await.map_err(start_error)?;
    }
    Ok(Json(view(&state, &s)))
}

pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<AutoDjView>> {
    let s = station(&state, &caller, id).await?;
    if s.autodj == 0 {
        return Err(ApiError::over_plan(
            "AutoDJ is not in this station's plan (limits.autodj)",
        ));
    }
    if s.is_suspended() {
        return Err(ApiError::conflict("the service is suspended"));
    }
    let mut playable = false;
    for p in playlists::for_service(&state.db, id).await? {
        if p.enabled == 0 {
            continue;
        }
        let n = match p.folder.as_deref() {
            Some(f) => crate::db::media::in_folder(&state.db, s.owner_id, f)
                .await?
                .len(),
            None => playlists::items(&state.db, p.id).await?.len(),
        };
        if n > 0 {
            playable = true;
            break;
        }
    }
    if !playable {
        return Err(ApiError::invalid(
            "nothing to play: add tracks to an enabled playlist first",
        ));
    }
    let mut settings = Settings::of(&s);
    settings.enabled = true;
    save(&state, &caller, &s, &settings, "autodj.start").await?;
    let s = reload(&state, id).await?;
    autodj::start(&state, &s).await.map_err(start_error)?;
    tracing::info!(by = %caller.user.username, slug = %s.slug, "AutoDJ started");
    Ok(Json(view(&state, &s)))
}

pub async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<AutoDjView>> {
    let s = station(&state, &caller, id).await?;
    let mut settings = Settings::of(&s);
    settings.enabled = false;
    save(&state, &caller, &s, &settings, "autodj.stop").await?;
    state.engine.autodj().stop(ServiceId(id));
    tracing::info!(by = %caller.user.username, slug = %s.slug, "AutoDJ stopped");
    let s = reload(&state, id).await?;
    Ok(Json(view(&state, &s)))
}

pub async fn skip(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<AutoDjView>> {
    let s = station(&state, &caller, id).await?;
    if !state.engine.autodj().skip(ServiceId(id)) {
        return Err(ApiError::conflict("AutoDJ is not running"));
    }
    Ok(Json(view(&state, &s)))
}
