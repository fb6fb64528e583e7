//! `/api/v1/services/{id}/webhook`: where a service's events are POSTed.
//!
//! `PUT {"url","secret"?,"events"?}` sets it (a secret is made when none is given; all
//! events by default), `GET` shows it with how the last delivery went (`null` when there is
//! none: not an error for a page that asks), `DELETE` removes it,
//! `POST …/webhook/test` sends a `test` event now and answers how it went. The URL must be
//! http(s) and reach an address the server may reach (`outbound`); it is checked here and
//! again at every delivery.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Caller;
use crate::auth::secret::{random_b64, token};
use crate::db::{audit, now, webhooks};
use crate::webhooks::{EVENTS, deliver};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PathId};
use crate::app::AppState;
use crate::domain::access::visible_service;

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WebhookInput")]
pub struct Input {
    url: String,
    secret: Option<String>,
    events: Option<Vec<String>>,
}

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

fn view(h: webhooks::Webhook) -> View {
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
    let (service, _) = visible_service(&state, &caller, id).await?;
    Ok(Json(webhooks::get(&state.db, service.id).await?.map(view)))
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Input>,
) -> ApiResult<Json<View>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let url = body.url.trim();
    if url.len() > 2000 {
        return Err(ApiError::invalid("url: at most 2000 characters"));
    }
    let parsed =
        reqwest::Url::parse(url).map_err(|e| ApiError::invalid(format!("url: not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ApiError::invalid(
            "url: must start with https:// (or http://)",
        ));
    }
    state
        .outbound
        .resolve(&parsed)
        .await
        .map_err(|e| ApiError::invalid(format!("url: {e}")))?;
    let secret = match body.secret {
        Some(s) if !(16..=200).contains(&s.chars().count()) => {
            return Err(ApiError::invalid("secret: 16 to 200 characters"));
        }
        Some(s) if s.chars().any(char::is_control) => {
            return Err(ApiError::invalid("secret: no control characters"));
        }
        Some(s) => s,
        None => random_b64(32),
    };
    let events = body
        .events
        .unwrap_or_else(|| EVENTS.iter().map(|e| (*e).to_owned()).collect());
    if events.is_empty() {
        return Err(ApiError::invalid(
            "events: name at least one (or DELETE the webhook)",
        ));
    }
    if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(ApiError::invalid(format!(
            "events: {bad:?} is not one of {}",
            EVENTS.join(", ")
        )));
    }
    let mut events: Vec<&str> = EVENTS
        .iter()
        .copied()
        .filter(|e| events.iter().any(|x| x == e))
        .collect();
    events.dedup();
    webhooks::put(
        &state.db,
        service.id,
        parsed.as_str(),
        &secret,
        &events.join(","),
    )
    .await?;
    audit(
        state.db.pool(),
        Some(caller.id()),
        "webhook.set",
        &format!(
            "service {} webhook to {}",
            service.id,
            parsed.host_str().unwrap_or("")
        ),
    )
    .await?;
    let hook = webhooks::get(&state.db, service.id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(Json(view(hook)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    if !webhooks::delete(&state.db, service.id).await? {
        return Err(ApiError::not_found("webhook"));
    }
    audit(
        state.db.pool(),
        Some(caller.id()),
        "webhook.delete",
        &format!("service {} webhook", service.id),
    )
    .await?;
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
    let (service, _) = visible_service(&state, &caller, id).await?;
    let hook = webhooks::get(&state.db, service.id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    let delivery = token("whd");
    let body = json!({
        "id": delivery,
        "event": "test",
        "at": now(),
        "service": { "id": service.id, "slug": service.slug, "name": service.name, "kind": service.kind },
        "data": { "message": "A test from Tidecast: this webhook works." },
    })
    .to_string();
    let result = deliver::attempt(
        &state.outbound,
        &hook.url,
        &hook.secret,
        "test",
        &delivery,
        body.as_bytes(),
    )
    .await;
    let (status, error) = match &result {
        Ok(()) => ("delivered", None),
        Err(e) => ("failed", Some(e.clone())),
    };
    webhooks::record(&state.db, service.id, "test", status, error.as_deref()).await?;
    Ok(Json(TestResult {
        delivered: result.is_ok(),
        error,
    }))
}
