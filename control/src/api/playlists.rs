//! `/api/v1/services/{id}/playlists`: a station's AutoDJ playlists.
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
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::playlists::{self, PlaylistFields, PlaylistRow};
use crate::db::services::Service;
use crate::db::{audit, media};
use crate::model::calendar::Calendar;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, List, PathId, PathIds};
use crate::app::AppState;
use crate::domain::access::visible_service;
use crate::time::rfc3339;

/// Tracks a playlist may list.
const MAX_TRACKS: usize = 10_000;

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

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaylistInput {
    name: String,
    #[serde(default = "rotation")]
    kind: String,
    #[serde(default = "shuffle")]
    order: String,
    #[serde(default)]
    media: Option<Vec<i64>>,
    #[serde(default)]
    folder: Option<String>,
    #[serde(default)]
    weight: Option<i64>,
    #[serde(default)]
    schedule: Option<Calendar>,
    #[serde(default)]
    every_n_songs: Option<i64>,
    #[serde(default)]
    every_n_minutes: Option<i64>,
    #[serde(default)]
    at_minute: Option<i64>,
    #[serde(default)]
    interrupts: bool,
    #[serde(default)]
    allow_requests: bool,
    #[serde(default = "yes")]
    enabled: bool,
}

fn rotation() -> String {
    "rotation".into()
}
fn shuffle() -> String {
    "shuffle".into()
}
fn yes() -> bool {
    true
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

/// The radio station `id` as the caller sees it.
async fn station(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Service> {
    let (service, _) = visible_service(state, caller, id).await?;
    if !service.is_radio() {
        return Err(ApiError::invalid("playlists are for radio services"));
    }
    Ok(service)
}

/// A checked playlist: its fields and its tracks.
struct Checked {
    name: String,
    kind: String,
    order: String,
    weight: i64,
    folder: Option<String>,
    schedule: Option<Calendar>,
    every: Option<i64>,
    minutes: Option<i64>,
    at_minute: Option<i64>,
    interrupts: bool,
    media: Vec<i64>,
    allow_requests: bool,
    enabled: bool,
}

impl Checked {
    fn fields(&self) -> PlaylistFields<'_> {
        PlaylistFields {
            name: &self.name,
            kind: &self.kind,
            play_order: &self.order,
            weight: self.weight,
            folder: self.folder.as_deref(),
            schedule: self.schedule.as_ref(),
            every_n_songs: self.every,
            every_n_minutes: self.minutes,
            at_minute: self.at_minute,
            interrupts: self.interrupts,
            allow_requests: self.allow_requests,
            enabled: self.enabled,
        }
    }
}

async fn check(state: &AppState, service: &Service, input: PlaylistInput) -> ApiResult<Checked> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name: 1 to 100 characters"));
    }
    if !["rotation", "scheduled", "interval"].contains(&input.kind.as_str()) {
        return Err(ApiError::invalid(
            "kind must be rotation, scheduled or interval",
        ));
    }
    if !["shuffle", "sequential", "random"].contains(&input.order.as_str()) {
        return Err(ApiError::invalid(
            "order must be shuffle, sequential or random",
        ));
    }
    let weight = input.weight.unwrap_or(3);
    if !(1..=25).contains(&weight) {
        return Err(ApiError::invalid("weight must be between 1 and 25"));
    }
    if let Some(c) = &input.schedule {
        c.validate()
            .map_err(|e| ApiError::invalid(format!("schedule: {e}")))?;
    }
    if input.kind == "scheduled" && input.schedule.is_none() {
        return Err(ApiError::invalid(
            "schedule is required for a scheduled playlist",
        ));
    }
    // An interval playlist has one trigger: every N songs, every N minutes, or at minute M.
    let triggers = [
        input.every_n_songs.is_some(),
        input.every_n_minutes.is_some(),
        input.at_minute.is_some(),
    ]
    .iter()
    .filter(|t| **t)
    .count();
    if input.kind == "interval" {
        if triggers != 1 {
            return Err(ApiError::invalid(
                "an interval playlist needs one of every_n_songs (1 to 100), every_n_minutes (1 to 180) or at_minute (0 to 59)",
            ));
        }
        if input.every_n_songs.is_some_and(|n| !(1..=100).contains(&n)) {
            return Err(ApiError::invalid("every_n_songs must be between 1 and 100"));
        }
        if input
            .every_n_minutes
            .is_some_and(|n| !(1..=180).contains(&n))
        {
            return Err(ApiError::invalid(
                "every_n_minutes must be between 1 and 180",
            ));
        }
        if input.at_minute.is_some_and(|m| !(0..=59).contains(&m)) {
            return Err(ApiError::invalid("at_minute must be between 0 and 59"));
        }
        if input.interrupts && input.every_n_songs.is_some() {
            return Err(ApiError::invalid(
                "interrupts is for timed interval playlists (every_n_minutes or at_minute)",
            ));
        }
    } else if triggers > 0 || input.interrupts {
        return Err(ApiError::invalid(
            "every_n_songs, every_n_minutes, at_minute and interrupts are for interval playlists",
        ));
    }
    let every = input.every_n_songs;
    let (folder, ids) = match (input.folder, input.media) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "give either media (a list of ids) or folder, not both",
            ));
        }
        (Some(f), None) => {
            let f = crate::media::store::clean_folder(&f).map_err(ApiError::invalid)?;
            (Some(f), Vec::new())
        }
        (None, ids) => (None, ids.unwrap_or_default()),
    };
    if ids.len() > MAX_TRACKS {
        return Err(ApiError::invalid(format!(
            "media: at most {MAX_TRACKS} tracks"
        )));
    }
    let owned = media::owned(&state.db, service.owner_id, &ids).await?;
    if let Some(bad) = ids.iter().find(|id| !owned.contains(id)) {
        return Err(ApiError::invalid(format!(
            "media: {bad} is not in this station's media library"
        )));
    }
    Ok(Checked {
        name,
        kind: input.kind,
        order: input.order,
        weight,
        folder,
        schedule: input.schedule,
        every,
        minutes: input.every_n_minutes,
        at_minute: input.at_minute,
        interrupts: input.interrupts,
        media: ids,
        allow_requests: input.allow_requests,
        enabled: input.enabled,
    })
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(input): ApiJson<PlaylistInput>,
) -> ApiResult<(StatusCode, Json<PlaylistView>)> {
    let service = station(&state, &caller, id).await?;
    let c = check(&state, &service, input).await?;
    let pid = playlists::insert(&state.db, id, &c.fields(), &c.media).await?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "playlist.create",
        &format!("playlist {pid} ({}) of service {id}", c.name),
    )
    .await?;
    let row = playlists::by_id(&state.db, id, pid)
        .await?
        .ok_or_else(|| ApiError::not_found("playlist"))?;
    Ok((StatusCode::CREATED, Json(view(&state, &row).await?)))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<List<PlaylistView>>> {
    let service = station(&state, &caller, id).await?;
    let rows = playlists::for_service(&state.db, service.id).await?;
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
    station(&state, &caller, id).await?;
    let row = playlists::by_id(&state.db, id, pid)
        .await?
        .ok_or_else(|| ApiError::not_found("playlist"))?;
    Ok(Json(view(&state, &row).await?))
}

/// Replaces a playlist (the whole of it, as `POST` takes it).
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, pid): PathIds,
    ApiJson(input): ApiJson<PlaylistInput>,
) -> ApiResult<Json<PlaylistView>> {
    let service = station(&state, &caller, id).await?;
    let c = check(&state, &service, input).await?;
    if !playlists::update(&state.db, id, pid, &c.fields(), Some(&c.media)).await? {
        return Err(ApiError::not_found("playlist"));
    }
    audit(
        state.db.pool(),
        Some(caller.id()),
        "playlist.update",
        &format!("playlist {pid} ({}) of service {id}", c.name),
    )
    .await?;
    let row = playlists::by_id(&state.db, id, pid)
        .await?
        .ok_or_else(|| ApiError::not_found("playlist"))?;
    Ok(Json(view(&state, &row).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, pid): PathIds,
) -> ApiResult<StatusCode> {
    station(&state, &caller, id).await?;
    if !playlists::delete(&state.db, id, pid).await? {
        return Err(ApiError::not_found("playlist"));
    }
    audit(
        state.db.pool(),
        Some(caller.id()),
        "playlist.delete",
        &format!("playlist {pid} of service {id}"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
