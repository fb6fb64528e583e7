//! `/api/v1/reseller-plans`: what a reseller may hand out (the rules are
//! `domain::plans`'). Admins manage plans; a reseller sees its own plan; customers have none.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::plans::Plan;
use crate::domain::plans::{self as domain, CreatePlan, PatchPlan};

use super::error::ApiResult;
use super::extract::{ApiJson, List, Page, PathId};

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreatePlan>,
) -> ApiResult<(StatusCode, Json<Plan>)> {
    let plan = domain::create(&state, &caller, body).await?;
    Ok((StatusCode::CREATED, Json(plan)))
}

/// Admins see every plan; a reseller sees its own.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: Page,
) -> ApiResult<Json<List<Plan>>> {
    let (items, total) = domain::list(&state, &caller, page.limit, page.offset).await?;
    Ok(Json(List { items, total }))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Plan>> {
    Ok(Json(domain::visible(&state, &caller, id).await?))
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<PatchPlan>,
) -> ApiResult<Json<Plan>> {
    Ok(Json(domain::patch(&state, &caller, id, body).await?))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    domain::delete(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
