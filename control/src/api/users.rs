//! `/api/v1/users`: accounts of admins, resellers and customers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::auth::Caller;
use crate::auth::caller::Suspension;
use crate::db::users::{Role, User, UserScope};
use crate::db::{plans, services};
use crate::domain::users::{self, CreateUser, PatchUser};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, List, Page, PathId};
use crate::app::AppState;
use crate::domain::access::visible_user;
use crate::time::rfc3339;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub role: Role,
    /// A reseller's plan.
    pub plan: Option<i64>,
    /// The reseller a customer belongs to.
    pub reseller: Option<i64>,
    /// `active`, or `suspended` (by an admin or its reseller: it may read, not change).
    pub status: &'static str,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            email: u.email.clone(),
            role: u.role(),
            plan: u.plan_id,
            reseller: u.reseller_id,
            status: if u.suspended_by().is_some() {
                "suspended"
            } else {
                "active"
            },
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let user = users::create(&state, &caller, body).await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: Page,
) -> ApiResult<Json<List<UserView>>> {
    let scope = match caller.role() {
        Role::Admin => UserScope::All,
        Role::Reseller => UserScope::ResellerTree(caller.id()),
        Role::Customer => UserScope::Only(caller.id()),
    };
    let (items, total) = crate::db::users::list(&state.db, scope, page.limit, page.offset).await?;
    Ok(Json(List {
        items: items.iter().map(UserView::from).collect(),
        total,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<UserView>> {
    let user = visible_user(&state, &caller, id).await?;
    Ok(Json(UserView::from(&user)))
}

#[derive(Debug, Serialize)]
pub struct MeView {
    #[serde(flatten)]
    user: UserView,
    /// Cookie sessions (the web UI): the `X-CSRF-Token` value for changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf: Option<String>,
    /// While the caller may read but not change anything: `account` (its own suspension)
    /// or `reseller` (its reseller's).
    #[serde(skip_serializing_if = "Option::is_none")]
    suspended: Option<Suspension>,
}

impl MeView {
    pub fn new(user: &User, csrf: Option<String>, suspended: Option<Suspension>) -> Self {
        Self {
            user: UserView::from(user),
            csrf,
            suspended,
        }
    }
}

pub async fn me(caller: Caller) -> Json<MeView> {
    Json(MeView::new(
        &caller.user,
        caller.csrf.clone(),
        caller.suspension,
    ))
}

/// A user after a PATCH; a password change also says what it ended.
#[derive(Debug, Serialize)]
pub struct PatchedView {
    #[serde(flatten)]
    user: UserView,
    /// With a new password: `sessions_ended` and `api_keys_revoked` (API keys keep working
    /// unless the request asked `"revoke_api_keys": true`).
    #[serde(flatten)]
    password: Option<users::PasswordChange>,
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<PatchUser>,
) -> ApiResult<Json<PatchedView>> {
    let done = users::patch(&state, &caller, id, body).await?;
    Ok(Json(PatchedView {
        user: UserView::from(&done.user),
        password: done.password,
    }))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    users::delete(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
pub struct ResellerUsageView {
    plan: Option<plans::Plan>,
    customers: i64,
    services: i64,
    /// Listener slots given to the services (their `max_listeners`), as the plan counts them.
    listeners: i64,
    disk_mb: i64,
}

/// `GET /api/v1/me/usage`: a reseller's plan and what it uses of it.
pub async fn my_usage(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<ResellerUsageView>> {
    if caller.role() != Role::Reseller {
        return Err(ApiError::forbidden("usage against a plan is for resellers"));
    }
    let mut tx = state.db.pool().begin().await?;
    let plan = users::caller_plan(&mut tx, &caller).await?;
    let customers = crate::db::users::count_customers(&mut *tx, caller.id()).await?;
    let used = services::reseller_usage(&mut *tx, caller.id(), None).await?;
    tx.commit().await?;
    Ok(Json(ResellerUsageView {
        plan,
        customers,
        services: used.services,
        listeners: used.listeners,
        disk_mb: used.disk_mb,
    }))
}
