//! `/api/v1/services/{id}/webhook`: where a service's events are POSTed.
//!
//! `PUT {"url","secret"?,"events"?}` sets it (a secret is made when none is given; all
//! events by default), `GET` shows it with how the last delivery went (`null` when there is
//! none: not an error for a page that asks), `DELETE` removes it,
//! `POST …/webhook/test` sends a `test` event now and answers how it went. The URL must be
//! http(s) and reach an address the server may reach (`outbound`); it is checked here and
//! again at every delivery. The rules are `domain::webhooks`'.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::webhooks::Webhook;
use crate::domain::webhooks::{self as domain, Input};

use super::error::ApiResult;
use super::extract::{ApiJson, PathId};

#[derive(Debug, Serialize)]
pub struct View {
    url: String,
    /// Signs every body: `X-Tidecast-Signature: t=<unix>,v1=<HMAC-SHA256(secret, "t.body")>`.
    secret: String,
    events: Vec<String>,
    delivered: i64,
    failed: i64,
    last: Option<Last>,
}

#[derive(Debug, Serialize)]
pub struct Last {
    event: Option<String>,
    /// delivered, retrying or failed
    status: Option<String>,
    error: Option<String>,
    at: Option<i64>,
}

fn view(h: Webhook) -> View {
    View {
        events: h.events.split(',').map(str::to_owned).collect(),
        last: h.last_at.map(|at| Last {
            event: h.last_event,
            status: h.last_status,
            error: h.last_error,
            at: Some(at),
        }),
        url: h.url,
        secret: h.secret,
        delivered: h.delivered,
        failed: h.failed,
    }
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Option<View>>> {
    Ok(Json(domain::get(&state, &caller, id).await?.map(view)))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Input>,
) -> ApiResult<Json<View>> {
    Ok(Json(view(domain::put(&state, &caller, id, body).await?)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    domain::delete(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
pub struct TestResult {
    delivered: bool,
    error: Option<String>,
}

/// Sends a `test` event now (one attempt, no retries) and says how it went.
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<TestResult>> {
    let outcome = domain::test(&state, &caller, id).await?;
    Ok(Json(TestResult {
        delivered: outcome.delivered,
        error: outcome.error,
    }))
}
