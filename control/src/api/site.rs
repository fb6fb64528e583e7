//! Site-wide things the web UI shows: announcements (admins write, everyone logged in
//! reads on their dashboard) and system settings (admins). The rules are `domain::site`'.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::site::Announcement;
use crate::domain::site::{self as domain, AnnouncementInput, SettingsInput};
use crate::model::site::SiteSettings;
use crate::time::rfc3339;

use super::error::ApiResult;
use super::extract::{ApiJson, List, PathId};

#[derive(Debug, Serialize)]
pub struct AnnouncementView {
    id: i64,
    message: String,
    level: String,
    created_at: String,
}

impl From<Announcement> for AnnouncementView {
    fn from(a: Announcement) -> Self {
        Self {
            id: a.id,
            message: a.message,
            level: a.level,
            created_at: rfc3339(a.created_at),
        }
    }
}

pub async fn announcements(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<List<AnnouncementView>>> {
    let items: Vec<AnnouncementView> = domain::announcements(&state)
        .await?
        .into_iter()
        .map(AnnouncementView::from)
        .collect();
    let total = items.len() as i64;
    Ok(Json(List { items, total }))
}

pub async fn announce(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AnnouncementInput>,
) -> ApiResult<(StatusCode, Json<AnnouncementView>)> {
    let made = domain::announce(&state, &caller, body).await?;
    Ok((StatusCode::CREATED, Json(AnnouncementView::from(made))))
}

pub async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    domain::withdraw(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get_settings(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<SiteSettings>> {
    Ok(Json(domain::settings(&state).await?))
}

pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SettingsInput>,
) -> ApiResult<Json<SiteSettings>> {
    Ok(Json(domain::put_settings(&state, &caller, body).await?))
}
