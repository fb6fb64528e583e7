//! `/api/v1/reseller-plans`: what a reseller may hand out. Admins manage plans; a reseller
//! sees its own plan; customers have none.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use crate::auth::Caller;
use crate::db::audit;
use crate::db::plans::{self, Plan, PlanFields};
use crate::db::users::Role;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, List, Page, PathId};
use crate::app::AppState;
use crate::domain::validate;
use crate::time::double_option;

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePlan {
    name: String,
    max_customers: Option<i64>,
    max_services: Option<i64>,
    max_listeners: Option<i64>,
    max_disk_mb: Option<i64>,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchPlan {
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    max_customers: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    max_services: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    max_listeners: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    max_disk_mb: Option<Option<i64>>,
}

fn admin_only(caller: &Caller) -> ApiResult<()> {
    if caller.role() == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only an admin can manage reseller plans",
        ))
    }
}

fn check(fields: PlanFields) -> ApiResult<PlanFields> {
    let limit = |field: &str, v: Option<i64>| -> ApiResult<Option<i64>> {
        v.map(|v| validate::range(field, v, 0, 1_000_000_000).map_err(ApiError::from))
            .transpose()
    };
    Ok(PlanFields {
        name: validate::name("name", &fields.name)?,
        max_customers: limit("max_customers", fields.max_customers)?,
        max_services: limit("max_services", fields.max_services)?,
        max_listeners: limit("max_listeners", fields.max_listeners)?,
        max_disk_mb: limit("max_disk_mb", fields.max_disk_mb)?,
    })
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreatePlan>,
) -> ApiResult<(StatusCode, Json<Plan>)> {
    admin_only(&caller)?;
    let fields = check(PlanFields {
        name: body.name,
        max_customers: body.max_customers,
        max_services: body.max_services,
        max_listeners: body.max_listeners,
        max_disk_mb: body.max_disk_mb,
    })?;
    let id = plans::insert(&state.db, &fields).await.map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            ApiError::conflict(format!("a plan named {:?} exists", fields.name))
        } else {
            e.into()
        }
    })?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "plan.create",
        &format!("plan {id} ({})", fields.name),
    )
    .await?;
    let plan = plans::by_id(state.db.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("plan"))?;
    Ok((StatusCode::CREATED, Json(plan)))
}

/// Admins see every plan; a reseller sees its own.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: Page,
) -> ApiResult<Json<List<Plan>>> {
    let only = match caller.role() {
        Role::Admin => None,
        Role::Reseller => match caller.user.plan_id {
            Some(id) => Some(id),
            None => {
                return Ok(Json(List {
                    items: vec![],
                    total: 0,
                }));
            }
        },
        Role::Customer => return Err(ApiError::forbidden("customers have no reseller plan")),
    };
    let (items, total) = plans::list(&state.db, only, page.limit, page.offset).await?;
    Ok(Json(List { items, total }))
}

async fn visible_plan(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Plan> {
    let visible = match caller.role() {
        Role::Admin => true,
        Role::Reseller => caller.user.plan_id == Some(id),
        Role::Customer => false,
    };
    let plan = plans::by_id(state.db.pool(), id).await?;
    plan.filter(|_| visible)
        .ok_or_else(|| ApiError::not_found("plan"))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Plan>> {
    Ok(Json(visible_plan(&state, &caller, id).await?))
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<PatchPlan>,
) -> ApiResult<Json<Plan>> {
    let plan = visible_plan(&state, &caller, id).await?;
    admin_only(&caller)?;
    let fields = check(PlanFields {
        name: body.name.unwrap_or(plan.name),
        max_customers: body.max_customers.unwrap_or(plan.max_customers),
        max_services: body.max_services.unwrap_or(plan.max_services),
        max_listeners: body.max_listeners.unwrap_or(plan.max_listeners),
        max_disk_mb: body.max_disk_mb.unwrap_or(plan.max_disk_mb),
    })?;
    plans::update(&state.db, id, &fields).await?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "plan.update",
        &format!("plan {id}"),
    )
    .await?;
    let plan = plans::by_id(state.db.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("plan"))?;
    Ok(Json(plan))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    visible_plan(&state, &caller, id).await?;
    admin_only(&caller)?;
    let users = plans::users_on(&state.db, id).await?;
    if users > 0 {
        return Err(ApiError::conflict(format!(
            "{users} reseller(s) are on this plan; move them first"
        )));
    }
    plans::delete(&state.db, id).await?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "plan.delete",
        &format!("plan {id}"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
