//! `/api/v1/users`: accounts of admins, resellers and customers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::caller::Credential;
use crate::auth::{Caller, password};
use crate::db::users::{self, NewUser, Role, User, UserChanges, UserScope};
use crate::db::{audit, plans, services, tokens};

use super::access::visible_user;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, List, Page, PathId};
use super::state::AppState;
use super::time::{double_option, rfc3339};
use super::validate;

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
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    username: String,
    password: String,
    email: Option<String>,
    #[serde(default = "customer")]
    role: Role,
    plan: Option<i64>,
}

fn customer() -> Role {
    Role::Customer
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let reseller_id = match caller.role() {
        Role::Customer => return Err(ApiError::forbidden("customers cannot create users")),
        Role::Reseller if body.role != Role::Customer => {
            return Err(ApiError::forbidden("resellers can only create customers"));
        }
        Role::Reseller if body.plan.is_some() => {
            return Err(ApiError::forbidden(
                "only an admin can assign reseller plans",
            ));
        }
        Role::Reseller => Some(caller.id()),
        Role::Admin => None,
    };
    validate::username(&body.username)?;
    validate::password(&body.password)?;
    if let Some(email) = &body.email {
        validate::email(email)?;
    }
    if body.plan.is_some() && body.role != Role::Reseller {
        return Err(ApiError::invalid("plan is only for resellers"));
    }
    if let Some(plan) = body.plan {
        plans::by_id(state.db.pool(), plan)
            .await?
            .ok_or_else(|| ApiError::invalid(format!("reseller plan {plan} does not exist")))?;
    }
    if users::by_username(&state.db, &body.username)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(format!(
            "username {:?} is taken",
            body.username
        )));
    }
    let hash = password::hash(body.password).await?;

    let mut tx = state.db.pool().begin().await?;
    if let Some(reseller) = reseller_id {
        users::lock_row(&mut *tx, reseller).await?;
        let plan = caller_plan(&mut tx, &caller).await?;
        if let Some(max) = plan.and_then(|p| p.max_customers) {
            let have = users::count_customers(&mut *tx, reseller).await?;
            if have >= max {
                return Err(ApiError::over_plan(format!(
                    "your plan allows {max} customers and you have {have}"
                )));
            }
        }
    }
    let id = users::insert(
        &mut *tx,
        &NewUser {
            username: &body.username,
            password_hash: &hash,
            email: body.email.as_deref(),
            role: body.role,
            reseller_id,
            plan_id: body.plan,
        },
    )
    .await?;
    audit(
        &mut *tx,
        Some(caller.id()),
        "user.create",
        &format!("user {id} ({})", body.username),
    )
    .await?;
    let user = users::by_id(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("user vanished")))?;
    tx.commit().await?;
    tracing::info!(by = %caller.user.username, user = %user.username, role = user.role().as_str(), "user created");
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

/// The reseller plan of a reseller caller, read inside the transaction.
pub async fn caller_plan(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    caller: &Caller,
) -> ApiResult<Option<plans::Plan>> {
    let Some(plan_id) = caller.user.plan_id else {
        return Ok(None);
    };
    Ok(plans::by_id(&mut **tx, plan_id).await?)
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
    let (items, total) = users::list(&state.db, scope, page.limit, page.offset).await?;
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
}

impl MeView {
    pub fn new(user: &User, csrf: Option<String>) -> Self {
        Self {
            user: UserView::from(user),
            csrf,
        }
    }
}

pub async fn me(caller: Caller) -> Json<MeView> {
    Json(MeView {
        user: UserView::from(&caller.user),
        csrf: caller.csrf.clone(),
    })
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchUser {
    password: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    plan: Option<Option<i64>>,
}

pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<PatchUser>,
) -> ApiResult<Json<UserView>> {
    let target = visible_user(&state, &caller, id).await?;
    if let Some(pw) = &body.password {
        validate::password(pw)?;
    }
    if let Some(Some(email)) = &body.email {
        validate::email(email)?;
    }
    if let Some(plan) = body.plan {
        if caller.role() != Role::Admin {
            return Err(ApiError::forbidden(
                "only an admin can assign reseller plans",
            ));
        }
        if target.role() != Role::Reseller {
            return Err(ApiError::invalid("plan is only for resellers"));
        }
        if let Some(plan) = plan {
            plans::by_id(state.db.pool(), plan)
                .await?
                .ok_or_else(|| ApiError::invalid(format!("reseller plan {plan} does not exist")))?;
        }
    }
    let password_hash = match body.password {
        Some(pw) => Some(password::hash(pw).await?),
        None => None,
    };
    let password_changed = password_hash.is_some();
    let changes = UserChanges {
        password_hash,
        email: body.email,
        plan_id: body.plan,
    };
    users::update(state.db.pool(), id, &changes).await?;
    if password_changed {
        // A changed password ends every other login of that user (the caller's own
        // session survives when it changes its own password).
        let keep = match caller.credential {
            Credential::Session(sid) if caller.id() == id => Some(sid),
            _ => None,
        };
        tokens::revoke_user_sessions(&state.db, id, keep).await?;
        audit(
            state.db.pool(),
            Some(caller.id()),
            "user.password",
            &format!("user {id}"),
        )
        .await?;
        tracing::info!(by = %caller.user.username, user = %target.username, "password changed; other logins ended");
    }
    let user = users::by_id(state.db.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(UserView::from(&user)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    let target = visible_user(&state, &caller, id).await?;
    match caller.role() {
        Role::Customer => return Err(ApiError::forbidden("customers cannot delete accounts")),
        Role::Reseller if target.id == caller.id() => {
            return Err(ApiError::forbidden(
                "resellers cannot delete their own account",
            ));
        }
        _ if target.id == caller.id() => {
            return Err(ApiError::conflict("you cannot delete your own account"));
        }
        _ => {}
    }
    let mut tx = state.db.pool().begin().await?;
    if services::count_by_owner(&mut *tx, id).await? > 0 {
        return Err(ApiError::conflict(
            "the user still owns services; delete them first",
        ));
    }
    if users::count_customers(&mut *tx, id).await? > 0 {
        return Err(ApiError::conflict(
            "the reseller still has customers; delete or move them first",
        ));
    }
    users::delete(&mut *tx, id).await?;
    audit(
        &mut *tx,
        Some(caller.id()),
        "user.delete",
        &format!("user {id} ({})", target.username),
    )
    .await?;
    tx.commit().await?;
    // Their media library went with them in the database; its files go too.
    let files = state.data_dir.join("media").join(id.to_string());
    if files.is_dir()
        && let Err(e) = tokio::fs::remove_dir_all(&files).await
    {
        tracing::warn!(user = %target.username, "the deleted user's media files were not all removed from {}: {e}", files.display());
    }
    tracing::info!(by = %caller.user.username, user = %target.username, "user deleted");
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
    let plan = caller_plan(&mut tx, &caller).await?;
    let customers = users::count_customers(&mut *tx, caller.id()).await?;
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
