//! `/api/v1/services/{id}/mounts`: a radio service's mounts. The primary mount is named after
//! the service's slug; extra mounts (other formats and bitrates, fed by the transcoder, or
//! by a source of their own) have names of their own. Any mount may name a `fallback`
//! mount of the same service for its listeners to hear while it has no source. The rules are
//! `domain::mounts`'.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::mounts::MountRow;
use crate::domain::mounts::{self as domain, CreateMount, PatchMount};
use crate::time::rfc3339;

use super::error::ApiResult;
use super::extract::{ApiJson, List, PathId, PathIds};

#[derive(Debug, Serialize)]
pub struct MountView {
    /// `null` for the primary mount (it is the service itself).
    id: Option<i64>,
    name: String,
    path: String,
    primary: bool,
    format: Option<String>,
    bitrate_kbps: Option<i64>,
    fallback: Option<String>,
    live: bool,
    listeners: usize,
    created_at: Option<String>,
}

fn live(state: &AppState, name: &str) -> (bool, usize) {
    state
        .engine
        .mounts()
        .get(name)
        .map_or((false, 0), |m| (m.has_source(), m.listeners()))
}

fn view(state: &AppState, m: &MountRow) -> MountView {
    let (is_live, listeners) = live(state, &m.name);
    MountView {
        id: Some(m.id),
        name: m.name.clone(),
        path: format!("/{}", m.name),
        primary: false,
        format: Some(m.format.clone()),
        bitrate_kbps: Some(m.bitrate_kbps),
        fallback: m.fallback.clone(),
        live: is_live,
        listeners,
        created_at: Some(rfc3339(m.created_at)),
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<List<MountView>>> {
    let (service, extra) = domain::list(&state, &caller, id).await?;
    let (is_live, listeners) = live(&state, &service.slug);
    let mut items = vec![MountView {
        id: None,
        name: service.slug.clone(),
        path: format!("/{}", service.slug),
        primary: true,
        format: None,
        bitrate_kbps: None,
        fallback: service.fallback.clone(),
        live: is_live,
        listeners,
        created_at: None,
    }];
    items.extend(extra.iter().map(|m| view(&state, m)));
    let total = items.len() as i64;
    Ok(Json(List { items, total }))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<CreateMount>,
) -> ApiResult<(StatusCode, Json<MountView>)> {
    let row = domain::create(&state, &caller, id, body).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &row))))
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, mid): PathIds,
    ApiJson(body): ApiJson<PatchMount>,
) -> ApiResult<Json<MountView>> {
    let row = domain::patch(&state, &caller, id, mid, body).await?;
    Ok(Json(view(&state, &row)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, mid): PathIds,
) -> ApiResult<StatusCode> {
    domain::delete(&state, &caller, id, mid).await?;
    Ok(StatusCode::NO_CONTENT)
}
