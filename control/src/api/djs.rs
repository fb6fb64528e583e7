//! `/api/v1/services/{id}/djs`: DJs of a radio station. Whoever sees the service (its
//! customer, reseller or an admin) manages its DJs (the rules are `domain::djs`').

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::djs::Dj;
use crate::domain::djs::{self as domain, CreateDj, PatchDj};
use crate::schedule::Slot;
use crate::time::rfc3339;

use super::error::ApiResult;
use super::extract::{ApiJson, List, Page, PathId, PathIds};

#[derive(Debug, Serialize)]
pub struct DjView {
    id: i64,
    service: i64,
    username: String,
    priority: i64,
    scheduled_only: bool,
    schedule: Vec<Slot>,
    created_at: String,
    updated_at: String,
}

impl From<&Dj> for DjView {
    fn from(d: &Dj) -> Self {
        Self {
            id: d.id,
            service: d.service_id,
            username: d.username.clone(),
            priority: d.priority,
            scheduled_only: d.scheduled_only,
            schedule: d.slots().to_vec(),
            created_at: rfc3339(d.created_at),
            updated_at: rfc3339(d.updated_at),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<CreateDj>,
) -> ApiResult<(StatusCode, Json<DjView>)> {
    let dj = domain::create(&state, &caller, id, body).await?;
    Ok((StatusCode::CREATED, Json(DjView::from(&dj))))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    page: Page,
) -> ApiResult<Json<List<DjView>>> {
    let (items, total) = domain::list(&state, &caller, id, page.limit, page.offset).await?;
    Ok(Json(List {
        items: items.iter().map(DjView::from).collect(),
        total,
    }))
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, dj_id): PathIds,
    ApiJson(body): ApiJson<PatchDj>,
) -> ApiResult<Json<DjView>> {
    let dj = domain::patch(&state, &caller, id, dj_id, body).await?;
    Ok(Json(DjView::from(&dj)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, dj_id): PathIds,
) -> ApiResult<StatusCode> {
    domain::delete(&state, &caller, id, dj_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
