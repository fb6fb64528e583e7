//! `/api/v1/services/{id}/djs`: DJs of a radio station. Whoever sees the service (its
//! customer, reseller or an admin) manages its DJs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::{Caller, password};
use crate::db::audit;
use crate::db::djs::{self, Dj, DjFields};
use crate::schedule::{self, Slot};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, List, Page, PathId, PathIds};
use crate::app::AppState;
use crate::domain::access::visible_service;
use crate::domain::validate;
use crate::time::rfc3339;

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

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDj {
    username: String,
    password: String,
    priority: i64,
    #[serde(default)]
    scheduled_only: bool,
    #[serde(default)]
    schedule: Vec<Slot>,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchDj {
    username: Option<String>,
    password: Option<String>,
    priority: Option<i64>,
    scheduled_only: Option<bool>,
    schedule: Option<Vec<Slot>>,
}

fn check(username: &str, priority: i64, scheduled_only: bool, slots: &[Slot]) -> ApiResult<()> {
    validate::username(username)?;
    if username.eq_ignore_ascii_case("source") {
        return Err(ApiError::invalid(
            "`source` is the service's own login; pick another DJ name",
        ));
    }
    validate::range("priority", priority, 1, 100)?;
    if slots.len() > 100 {
        return Err(ApiError::invalid("at most 100 schedule slots"));
    }
    for slot in slots {
        schedule::validate(slot).map_err(|m| ApiError::invalid(format!("schedule: {m}")))?;
    }
    if scheduled_only && slots.is_empty() {
        return Err(ApiError::invalid(
            "scheduled_only needs at least one schedule slot",
        ));
    }
    Ok(())
}

/// The radio service `id` as the caller sees it.
async fn radio(state: &AppState, caller: &Caller, id: i64) -> ApiResult<i64> {
    let (service, _) = visible_service(state, caller, id).await?;
    if !service.is_radio() {
        return Err(ApiError::invalid("DJs are for radio services"));
    }
    Ok(service.id)
}

fn conflict_on_duplicate(e: sqlx::Error, username: &str) -> ApiError {
    if crate::db::is_unique_violation(&e) {
        ApiError::conflict(format!("this service already has a DJ called {username:?}"))
    } else {
        e.into()
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<CreateDj>,
) -> ApiResult<(StatusCode, Json<DjView>)> {
    let service = radio(&state, &caller, id).await?;
    check(
        &body.username,
        body.priority,
        body.scheduled_only,
        &body.schedule,
    )?;
    validate::password(&body.password)?;
    let hash = password::hash(body.password).await?;
    let fields = DjFields {
        username: &body.username,
        password_hash: &hash,
        priority: body.priority,
        scheduled_only: body.scheduled_only,
        schedule: &body.schedule,
    };
    let dj_id = djs::insert(state.db.pool(), service, &fields)
        .await
        .map_err(|e| conflict_on_duplicate(e, &body.username))?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "dj.create",
        &format!("dj {dj_id} ({}) of service {service}", body.username),
    )
    .await?;
    let dj = djs::by_id(&state.db, service, dj_id)
        .await?
        .ok_or_else(|| ApiError::not_found("DJ"))?;
    Ok((StatusCode::CREATED, Json(DjView::from(&dj))))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    page: Page,
) -> ApiResult<Json<List<DjView>>> {
    let service = radio(&state, &caller, id).await?;
    let (items, total) = djs::list(&state.db, service, page.limit, page.offset).await?;
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
    let service = radio(&state, &caller, id).await?;
    let dj = djs::by_id(&state.db, service, dj_id)
        .await?
        .ok_or_else(|| ApiError::not_found("DJ"))?;
    let username = body.username.unwrap_or_else(|| dj.username.clone());
    let priority = body.priority.unwrap_or(dj.priority);
    let scheduled_only = body.scheduled_only.unwrap_or(dj.scheduled_only);
    let slots = body.schedule.unwrap_or_else(|| dj.slots().to_vec());
    check(&username, priority, scheduled_only, &slots)?;
    let hash = match body.password {
        Some(pw) => {
            validate::password(&pw)?;
            password::hash(pw).await?
        }
        None => dj.password_hash.clone(),
    };
    let fields = DjFields {
        username: &username,
        password_hash: &hash,
        priority,
        scheduled_only,
        schedule: &slots,
    };
    djs::update(state.db.pool(), dj_id, &fields)
        .await
        .map_err(|e| conflict_on_duplicate(e, &username))?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "dj.update",
        &format!("dj {dj_id} of service {service}"),
    )
    .await?;
    let dj = djs::by_id(&state.db, service, dj_id)
        .await?
        .ok_or_else(|| ApiError::not_found("DJ"))?;
    Ok(Json(DjView::from(&dj)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, dj_id): PathIds,
) -> ApiResult<StatusCode> {
    let service = radio(&state, &caller, id).await?;
    let dj = djs::by_id(&state.db, service, dj_id)
        .await?
        .ok_or_else(|| ApiError::not_found("DJ"))?;
    djs::delete(&state.db, dj.id).await?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "dj.delete",
        &format!("dj {dj_id} ({}) of service {service}", dj.username),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
