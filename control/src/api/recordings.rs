//! `/api/v1/services/{id}/recordings`: spans of a video service's DVR archive exported to
//! MP4 files in the customer's media library, and (radio) the live DJ sets recorded there.
//!
//! `POST {"from","to"}` (unix seconds, at most 24 hours) answers 202 at once with the
//! recording `exporting`; the segments of that span are pinned (hard links, so the window
//! can move on meanwhile) and remuxed without re-encoding by the transcoder, with progress
//! in `GET …/recordings/{rid}`; the MP4 then joins the library (folder `Recordings`) and the
//! recording is `done` with its `media_id`, or `failed` with why. An export a server stop
//! interrupted runs again at the next start, if the archive still holds its span.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::recordings::{self, Recording};
use crate::domain::access::visible_service;
use crate::domain::recordings::{Input, SettingsInput, export_span, set_record_sets, station};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PathId};

#[derive(Debug, Serialize)]
pub struct View {
    id: i64,
    kind: String,
    status: String,
    /// 0 ..= 1.
    progress: f64,
    /// Unix seconds (a set's end grows while it records).
    from: f64,
    to: f64,
    label: String,
    media_id: Option<i64>,
    error: Option<String>,
    created_at: i64,
}

pub fn view(r: &Recording) -> View {
    View {
        id: r.id,
        kind: r.kind.clone(),
        status: r.status.clone(),
        progress: r.progress_permille as f64 / 1000.0,
        from: r.from_ms as f64 / 1000.0,
        to: r.to_ms as f64 / 1000.0,
        label: r.label.clone(),
        media_id: r.media_id,
        error: r.error.clone(),
        created_at: r.created_at,
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    page: super::extract::Page,
) -> ApiResult<Json<super::extract::List<View>>> {
    let (s, _) = visible_service(&state, &caller, id).await?;
    let rows = recordings::list(&state.db, s.id).await?;
    let total = rows.len() as i64;
    let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let take = usize::try_from(page.limit).unwrap_or(0);
    let items: Vec<View> = rows.iter().skip(skip).take(take).map(view).collect();
    Ok(Json(super::extract::List { items, total }))
}

pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, rid)): Path<(i64, i64)>,
) -> ApiResult<Json<View>> {
    let (s, _) = visible_service(&state, &caller, id).await?;
    let r = recordings::by_id(&state.db, s.id, rid)
        .await?
        .ok_or_else(|| ApiError::not_found("recording"))?;
    Ok(Json(view(&r)))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(input): ApiJson<Input>,
) -> ApiResult<(StatusCode, Json<View>)> {
    let (_, row) = export_span(&state, &caller, id, input).await?;
    Ok((StatusCode::ACCEPTED, Json(view(&row))))
}

#[derive(Debug, Serialize)]
pub struct SettingsView {
    /// Radio: every live set (a DJ or the station's own encoder on air) is recorded into the
    /// media library, as the source sends it (MP3 stays MP3).
    record_sets: bool,
    folder: &'static str,
}

pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<SettingsView>> {
    let s = station(&state, &caller, id).await?;
    Ok(Json(SettingsView {
        record_sets: s.record_sets,
        folder: crate::jobs::live_sets::FOLDER,
    }))
}

pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(input): ApiJson<SettingsInput>,
) -> ApiResult<Json<SettingsView>> {
    let record_sets = input.record_sets;
    set_record_sets(&state, &caller, id, input).await?;
    Ok(Json(SettingsView {
        record_sets,
        folder: crate::jobs::live_sets::FOLDER,
    }))
}
