//! `/api/v1/services/{id}/playlists`: a station's AutoDJ playlists (the rules are
//! `domain::playlists`').
//!
//! `{"name","kind":"rotation"|"scheduled"|"interval","order":"shuffle"|"sequential"|"random",
//! "media":[ids] | "folder":"path","weight":1..25,"schedule":{calendar},"every_n_songs":N |
//! "every_n_minutes":N | "at_minute":M,"interrupts":bool,"allow_requests":bool,"enabled":bool}`. Tracks come from the owner's library (ids of
//! another customer's files are refused as unknown); a playlist made from a folder follows
//! the folder's contents. A scheduled playlist needs a `schedule`; a rotation playlist may
//! have one (its hours of operation); an interval playlist needs one trigger, and a timed one
//! may `interrupt` the track playing (news at the top of the hour) instead of waiting for
//! its end.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::playlists::{self, PlaylistRow};
use crate::domain::playlists::{self as domain, PlaylistInput};
use crate::model::calendar::Calendar;
use crate::time::rfc3339;

use super::error::ApiResult;
use super::extract::{ApiJson, List, PathId, PathIds};

#[derive(Debug, Serialize)]
pub struct PlaylistView {
    id: i64,
    name: String,
    kind: String,
    order: String,
    weight: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    folder: Option<String>,
    media: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<Calendar>,
    #[serde(skip_serializing_if = "Option::is_none")]
    every_n_songs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    every_n_minutes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at_minute: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupts: bool,
    allow_requests: bool,
    enabled: bool,
    created_at: String,
    updated_at: String,
}

async fn view(state: &AppState, p: &PlaylistRow) -> ApiResult<PlaylistView> {
    let media = if p.folder.is_some() {
        Vec::new()
    } else {
        playlists::items(&state.db, p.id).await?
    };
    Ok(PlaylistView {
        id: p.id,
        name: p.name.clone(),
        kind: p.kind.clone(),
        order: p.play_order.clone(),
        weight: p.weight,
        folder: p.folder.clone(),
        media,
        schedule: p.schedule.get().cloned(),
        every_n_songs: p.every_n_songs,
        every_n_minutes: p.every_n_minutes,
        at_minute: p.at_minute,
        interrupts: p.interrupts != 0,
        allow_requests: p.allow_requests != 0,
        enabled: p.enabled != 0,
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(p.updated_at),
    })
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(input): ApiJson<PlaylistInput>,
) -> ApiResult<(StatusCode, Json<PlaylistView>)> {
    let row = domain::create(&state, &caller, id, input).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &row).await?)))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<List<PlaylistView>>> {
    let rows = domain::list(&state, &caller, id).await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        items.push(view(&state, r).await?);
    }
    let total = items.len() as i64;
    Ok(Json(List { items, total }))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, pid): PathIds,
) -> ApiResult<Json<PlaylistView>> {
    let row = domain::get(&state, &caller, id, pid).await?;
    Ok(Json(view(&state, &row).await?))
}

/// Replaces a playlist (the whole of it, as `POST` takes it).
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, pid): PathIds,
    ApiJson(input): ApiJson<PlaylistInput>,
) -> ApiResult<Json<PlaylistView>> {
    let row = domain::replace(&state, &caller, id, pid, input).await?;
    Ok(Json(view(&state, &row).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, pid): PathIds,
) -> ApiResult<StatusCode> {
    domain::delete(&state, &caller, id, pid).await?;
    Ok(StatusCode::NO_CONTENT)
}
