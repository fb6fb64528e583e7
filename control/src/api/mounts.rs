//! `/api/v1/services/{id}/mounts`: a radio service's mounts. The primary mount is named after
//! the service's slug; extra mounts (other formats and bitrates, fed by the transcoder, or
//! by a source of their own) have names of their own. Any mount may name a `fallback`
//! mount of the same service for its listeners to hear while it has no source.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::audit;
use crate::db::mounts::{self, MountRow};
use crate::db::services::Service;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, List, PathId, PathIds};
use crate::app::AppState;
use crate::domain::access::visible_service;
use crate::domain::validate;
use crate::time::{double_option, rfc3339};

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

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMount {
    path: String,
    format: Format,
    bitrate_kbps: i64,
    fallback: Option<String>,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchMount {
    format: Option<Format>,
    bitrate_kbps: Option<i64>,
    #[serde(default, deserialize_with = "double_option")]
    fallback: Option<Option<String>>,
}

#[derive(schemars::JsonSchema, Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Format {
    Mp3,
    Aac,
    Opus,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Self::Mp3 => "mp3",
            Self::Aac => "aac",
            Self::Opus => "opus",
        }
    }
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

/// The radio service `id` as the caller sees it.
async fn radio(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Service> {
    let (service, _) = visible_service(state, caller, id).await?;
    if !service.is_radio() {
        return Err(ApiError::invalid("mounts are for radio services"));
    }
    Ok(service)
}

/// A fallback must be another mount of the same service.
fn check_bitrate(service: &Service, kbps: i64) -> ApiResult<i64> {
    let max = service.limits.max_bitrate_kbps.min(320);
    Ok(validate::range("bitrate_kbps", kbps, 8, max)?)
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<List<MountView>>> {
    let service = radio(&state, &caller, id).await?;
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
    items.extend(
        mounts::for_service(&state.db, id)
            .await?
            .iter()
            .map(|m| view(&state, m)),
    );
    let total = items.len() as i64;
    Ok(Json(List { items, total }))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<CreateMount>,
) -> ApiResult<(StatusCode, Json<MountView>)> {
    let service = radio(&state, &caller, id).await?;
    let name = body.path.trim_start_matches('/').to_owned();
    validate::slug(&name).map_err(|_| {
        ApiError::invalid("path must be /name: 2-63 lowercase letters, digits and inner hyphens")
    })?;
    let bitrate = check_bitrate(&service, body.bitrate_kbps)?;
    if let Some(fb) = &body.fallback {
        crate::domain::mounts::check_fallback(&state, &service, &name, fb).await?;
    }
    if mounts::name_taken(state.db.pool(), &name).await? {
        return Err(ApiError::conflict(format!("mount /{name} is taken")));
    }
    let fallback = body.fallback.as_deref().map(|f| f.trim_start_matches('/'));
    let mid = mounts::insert(
        &state.db,
        id,
        &name,
        body.format.as_str(),
        bitrate,
        fallback,
    )
    .await?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "mount.create",
        &format!("mount {mid} (/{name}) of service {id}"),
    )
    .await?;
    let row = mounts::by_id(&state.db, id, mid)
        .await?
        .ok_or_else(|| ApiError::not_found("mount"))?;
    Ok((StatusCode::CREATED, Json(view(&state, &row))))
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, mid): PathIds,
    ApiJson(body): ApiJson<PatchMount>,
) -> ApiResult<Json<MountView>> {
    let service = radio(&state, &caller, id).await?;
    let row = mounts::by_id(&state.db, id, mid)
        .await?
        .ok_or_else(|| ApiError::not_found("mount"))?;
    let format = body
        .format
        .map_or(row.format.clone(), |f| f.as_str().to_owned());
    let bitrate = check_bitrate(&service, body.bitrate_kbps.unwrap_or(row.bitrate_kbps))?;
    let fallback = body.fallback.unwrap_or(row.fallback.clone());
    if let Some(fb) = &fallback {
        crate::domain::mounts::check_fallback(&state, &service, &row.name, fb).await?;
    }
    let fallback = fallback.as_deref().map(|f| f.trim_start_matches('/'));
    mounts::update(&state.db, mid, &format, bitrate, fallback).await?;
    crate::domain::mounts::push_fallback(&state, &row.name, fallback);
    audit(
        state.db.pool(),
        Some(caller.id()),
        "mount.update",
        &format!("mount {mid} (/{}) of service {id}", row.name),
    )
    .await?;
    let row = mounts::by_id(&state.db, id, mid)
        .await?
        .ok_or_else(|| ApiError::not_found("mount"))?;
    Ok(Json(view(&state, &row)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, mid): PathIds,
) -> ApiResult<StatusCode> {
    let service = radio(&state, &caller, id).await?;
    let row = mounts::by_id(&state.db, id, mid)
        .await?
        .ok_or_else(|| ApiError::not_found("mount"))?;
    let mut tx = state.db.pool().begin().await?;
    mounts::clear_fallbacks_to(&mut *tx, &row.name).await?;
    sqlx::query("UPDATE services SET fallback = NULL WHERE id = $1 AND fallback = $2")
        .bind(id)
        .bind(&row.name)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM mounts WHERE id = $1")
        .bind(mid)
        .execute(&mut *tx)
        .await?;
    audit(
        &mut *tx,
        Some(caller.id()),
        "mount.delete",
        &format!("mount {mid} (/{}) of service {id}", row.name),
    )
    .await?;
    tx.commit().await?;
    if service.fallback.as_deref() == Some(row.name.as_str()) {
        crate::domain::mounts::push_fallback(&state, &service.slug, None);
    }
    // A source already on the removed mount plays on until it disconnects; admission
    // refuses it from then on.
    Ok(StatusCode::NO_CONTENT)
}
