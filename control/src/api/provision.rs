//! The calls billing modules (WHMCS, Blesta, Clientexec) make, beside the plain resources:
//!
//! - `POST /api/v1/provision`: a customer and its service in one call, idempotent on the
//!   caller's `client_id` (a retried call answers what the first one made, a different
//!   request under the same id is refused);
//! - `POST /api/v1/users/{id}/suspend|unsuspend`: every service of a customer, or of all a
//!   reseller's customers;
//! - `POST /api/v1/services/{id}/source/stop`: drop the live source (it may reconnect);
//! - `POST /api/v1/services/{id}/autodj/restart`.
//!
//! Terminate is `DELETE /api/v1/services/{id}`, limits are `PATCH …/services/{id}`,
//! passwords `PATCH …/users/{id}`, usage `GET /api/v1/usage`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tidecast_engine::ServiceId;

use crate::auth::Caller;
use crate::db::services::{self, ServiceScope};
use crate::db::users::{self, Role};
use crate::db::{audit, is_unique_violation, now, provisions};

use super::access::visible_user;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PathId};
use super::state::AppState;

/// A call left half done this long ago (a crash) may be resumed by its retry.
const STALE_SECONDS: i64 = 30;

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionRequest {
    /// The billing system's own id for this order (1-200 characters).
    client_id: String,
    /// `{"username","password","email"?}`
    customer: Value,
    /// `{"name","kind","slug"?,"limits"?}`
    service: Value,
}

#[derive(Debug, Serialize)]
pub struct ProvisionView {
    client_id: String,
    /// `true` when this answers an earlier call with the same `client_id`.
    replayed: bool,
    customer: Value,
    service: Value,
}

fn digest(v: &Value) -> String {
    Sha256::digest(v.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn provision(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ProvisionRequest>,
) -> ApiResult<(StatusCode, Json<ProvisionView>)> {
    if caller.role() == Role::Customer {
        return Err(ApiError::forbidden(
            "provisioning is for resellers and admins",
        ));
    }
    let client_id = body.client_id.trim().to_owned();
    if client_id.is_empty()
        || client_id.chars().count() > 200
        || client_id.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "client_id must be 1-200 characters without control characters",
        ));
    }
    let sha = digest(&json!({"customer": body.customer, "service": body.service}));
    let existing = provisions::find(state.db.pool(), caller.id(), &client_id).await?;
    let row = match existing {
        Some(p) => {
            if p.request_sha != sha {
                return Err(ApiError::conflict(format!(
                    "client_id {client_id:?} was used for a different request"
                )));
            }
            if let (Some(u), Some(s)) = (p.user_id, p.service_id) {
                return replay(&state, &caller, &headers, client_id, u, s).await;
            }
            if now() - p.created_at < STALE_SECONDS {
                return Err(ApiError::conflict(format!(
                    "a call with client_id {client_id:?} is still running; retry in a few seconds"
                )));
            }
            p
        }
        None => match provisions::claim(state.db.pool(), caller.id(), &client_id, &sha).await {
            Ok(id) => provisions::Provision {
                id,
                request_sha: sha,
                user_id: None,
                service_id: None,
                created_at: now(),
            },
            Err(e) if is_unique_violation(&e) => {
                return Err(ApiError::conflict(format!(
                    "a call with client_id {client_id:?} is still running; retry in a few seconds"
                )));
            }
            Err(e) => return Err(e.into()),
        },
    };
    // The customer (unless a crashed earlier call made it already).
    let user_id = match row.user_id {
        Some(id) => id,
        None => {
            let mut customer = body.customer.clone();
            if let Some(obj) = customer.as_object_mut() {
                obj.insert("role".into(), json!("customer"));
            }
            let input = serde_json::from_value(customer)
                .map_err(|e| ApiError::invalid(format!("customer: {e}")));
            let made = match input {
                Ok(input) => {
                    super::users::create(State(state.clone()), caller.clone(), ApiJson(input)).await
                }
                Err(e) => Err(e),
            };
            match made {
                Ok((_, Json(u))) => {
                    provisions::set_user(state.db.pool(), row.id, u.id).await?;
                    u.id
                }
                Err(e) => {
                    provisions::forget(state.db.pool(), row.id).await?;
                    return Err(e.prefixed("customer: "));
                }
            }
        }
    };
    // The service.
    let mut service = body.service.clone();
    if let Some(obj) = service.as_object_mut() {
        obj.insert("owner".into(), json!(user_id));
    }
    let input =
        serde_json::from_value(service).map_err(|e| ApiError::invalid(format!("service: {e}")));
    let made = match input {
        Ok(input) => {
            super::services::create(
                State(state.clone()),
                caller.clone(),
                headers.clone(),
                ApiJson(input),
            )
            .await
        }
        Err(e) => Err(e),
    };
    let service_view = match made {
        Ok((_, Json(v))) => serde_json::to_value(&v).map_err(ApiError::internal)?,
        Err(e) => {
            // Nothing half made stays: the customer goes, and the id may be used again.
            let mut tx = state.db.pool().begin().await?;
            users::delete(&mut *tx, user_id).await?;
            provisions::forget(&mut *tx, row.id).await?;
            audit(
                &mut *tx,
                Some(caller.id()),
                "provision.rollback",
                &format!("user {user_id} ({client_id})"),
            )
            .await?;
            tx.commit().await?;
            return Err(e.prefixed("service: "));
        }
    };
    let service_id = service_view["id"].as_i64().unwrap_or_default();
    provisions::set_service(state.db.pool(), row.id, service_id).await?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "provision.create",
        &format!("user {user_id} and service {service_id} for {client_id:?}"),
    )
    .await?;
    let customer = user_value(&state, &caller, user_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(ProvisionView {
            client_id,
            replayed: false,
            customer,
            service: service_view,
        }),
    ))
}

async fn user_value(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Value> {
    let u = visible_user(state, caller, id).await?;
    serde_json::to_value(super::users::UserView::from(&u)).map_err(ApiError::internal)
}

async fn replay(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    client_id: String,
    user: i64,
    service: i64,
) -> ApiResult<(StatusCode, Json<ProvisionView>)> {
    let gone = || {
        ApiError::new(
            StatusCode::GONE,
            "gone",
            format!("what client_id {client_id:?} made has since been deleted"),
        )
    };
    let customer = user_value(state, caller, user).await.map_err(|_| gone())?;
    let Json(v) = super::services::get(
        State(state.clone()),
        caller.clone(),
        headers.clone(),
        PathId(service),
    )
    .await
    .map_err(|_| gone())?;
    Ok((
        StatusCode::OK,
        Json(ProvisionView {
            client_id,
            replayed: true,
            customer,
            service: serde_json::to_value(&v).map_err(ApiError::internal)?,
        }),
    ))
}

#[derive(Debug, Serialize)]
pub struct BulkView {
    status: &'static str,
    services: Vec<i64>,
}

/// Every service of a customer, or of all a reseller's customers.
async fn bulk(
    state: AppState,
    caller: Caller,
    id: i64,
    suspend: bool,
) -> ApiResult<Json<BulkView>> {
    if caller.role() == Role::Customer {
        return Err(ApiError::forbidden(
            "only admins and resellers suspend accounts",
        ));
    }
    let target = visible_user(&state, &caller, id).await?;
    if target.id == caller.id() {
        return Err(ApiError::invalid("you cannot suspend your own account"));
    }
    let scope = match target.role() {
        Role::Customer => ServiceScope::Owner(target.id),
        Role::Reseller => ServiceScope::Reseller(target.id),
        Role::Admin => return Err(ApiError::invalid("admins have no services to suspend")),
    };
    let (all, _) = services::list(&state.db, scope, None, i64::MAX, 0).await?;
    let mut changed = Vec::new();
    for s in all {
        if s.is_suspended() == suspend {
            continue;
        }
        super::services::apply_status(
            &state,
            &s,
            suspend,
            Some(caller.id()),
            Some(&format!("with every service of user {}", target.username)),
        )
        .await?;
        changed.push(s.id);
    }
    tracing::info!(by = %caller.user.username, user = %target.username, services = changed.len(), "account {}", if suspend { "suspended" } else { "unsuspended" });
    Ok(Json(BulkView {
        status: if suspend { "suspended" } else { "active" },
        services: changed,
    }))
}

pub async fn suspend_user(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<BulkView>> {
    bulk(state, caller, id, true).await
}

pub async fn unsuspend_user(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<BulkView>> {
    bulk(state, caller, id, false).await
}

/// Drops the live source (an encoder that reconnects comes back; rotate the credentials
/// to keep it out).
pub async fn stop_source(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    let (s, _) = super::access::visible_service(&state, &caller, id).await?;
    let dropped = state
        .engine
        .registry()
        .drop_sources(ServiceId(s.id), "the source was stopped through the API");
    audit(
        state.db.pool(),
        Some(caller.id()),
        "service.source_stop",
        &format!("service {id} ({})", s.slug),
    )
    .await?;
    Ok(Json(json!({ "dropped": dropped })))
}

/// Stops and starts AutoDJ (a stuck station, new settings): it plays a fresh track.
pub async fn restart_autodj(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    let (s, _) = super::access::visible_service(&state, &caller, id).await?;
    if !state.engine.autodj().is_running(ServiceId(s.id)) {
        return Err(ApiError::conflict(
            "AutoDJ is not running; start it instead",
        ));
    }
    state.engine.autodj().stop(ServiceId(s.id));
    crate::autodj::start(&state, &s)
        .await
        .map_err(|e| ApiError::conflict(format!("AutoDJ did not start again: {e}")))?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "autodj.restart",
        &format!("service {id} ({})", s.slug),
    )
    .await?;
    Ok(Json(json!({ "running": true })))
}
