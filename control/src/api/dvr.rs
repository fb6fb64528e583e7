//! `/api/v1/services/{id}/dvr`: a video service's DVR (the rules are `domain::dvr`'s).
//! Played back at `/hls/<slug>/dvr.m3u8`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::services::Service;
use crate::domain::dvr::{self, Input};

use super::error::ApiResult;
use super::extract::{ApiJson, PathId};

#[derive(Debug, Serialize)]
pub struct View {
    enabled: bool,
    window_minutes: u32,
    /// The plan's cap.
    max_minutes: i64,
    /// Where it plays.
    playlist: String,
    applies: &'static str,
    /// The stored settings cannot be read (the DVR is off until they are set again).
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

fn view(s: &Service) -> View {
    let st = dvr::settings(s);
    View {
        enabled: st.enabled && s.limits.dvr_minutes > 0,
        window_minutes: st.window_minutes,
        max_minutes: s.limits.dvr_minutes,
        playlist: format!("/hls/{}/dvr.m3u8", s.slug),
        applies: "from the next time the source connects",
        problem: s.dvr.problem().map(ToString::to_string),
    }
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<View>> {
    Ok(Json(view(&dvr::video(&state, &caller, id).await?)))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(input): ApiJson<Input>,
) -> ApiResult<Json<View>> {
    Ok(Json(view(&dvr::set(&state, &caller, id, input).await?)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<View>> {
    Ok(Json(view(&dvr::turn_off(&state, &caller, id).await?)))
}
