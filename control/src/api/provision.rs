//! The calls billing modules (WHMCS, Blesta, Clientexec) make, beside the plain resources
//! (the rules are `domain::provision`'s):
//!
//! - `POST /api/v1/provision`: a customer and its service in one call, idempotent on the
//!   caller's `client_id`, all or nothing;
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

use crate::app::AppState;
use crate::auth::Caller;
use crate::domain::{autodj, provision, services};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PathId};

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
    customer: super::users::UserView,
    service: super::services::ServiceView,
}

pub async fn provision(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ProvisionRequest>,
) -> ApiResult<(StatusCode, Json<ProvisionView>)> {
    let made = provision::provision(
        &state,
        &caller,
        &body.client_id,
        body.customer,
        body.service,
    )
    .await?;
    let status = if made.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(ProvisionView {
            client_id: made.client_id,
            replayed: made.replayed,
            customer: super::users::UserView::from(&made.user),
            service: super::services::view(&state, &headers, &made.service),
        }),
    ))
}

#[derive(Debug, Serialize)]
pub struct BulkView {
    status: &'static str,
    services: Vec<i64>,
}

async fn bulk(
    state: AppState,
    caller: Caller,
    id: i64,
    suspend: bool,
) -> ApiResult<Json<BulkView>> {
    let changed = provision::set_account_status(&state, &caller, id, suspend).await?;
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
    let dropped = services::stop_source(&state, &caller, id).await?;
    Ok(Json(json!({ "dropped": dropped })))
}

/// Stops and starts AutoDJ (a stuck station, new settings): it plays a fresh track.
pub async fn restart_autodj(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    autodj::restart(&state, &caller, id)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(json!({ "running": true })))
}
