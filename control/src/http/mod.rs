//! The HTTP port: the REST API (`crate::api`) under `/api/v1`, HLS (live, DVR, on demand),
//! the web UI and players, `/metrics` and `/healthz`. Everything here only extracts a
//! request, asks the domain layer or the engine, and presents the answer.

pub mod db_gate;
pub mod dvr_hls;
pub mod hls;
pub mod limits;
pub mod metrics;
pub mod serve;
pub mod track;
pub mod vod;
pub mod web;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::api::error::ApiError;
use crate::api::{extract, media, openapi};
use crate::app::AppState;

/// Every HTTP route of the control plane.
pub fn router(state: AppState) -> Router {
    let (api, ops) = crate::api::routes().finish();
    let spec = Arc::new(openapi::document(&ops));
    let api = api
        .route(
            "/openapi.json",
            get(move || {
                let spec = Arc::clone(&spec);
                async move { Json(spec.as_ref().clone()) }
            }),
        )
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // A little over the JSON limit, so the extractor (not the transport) answers 413 in
        // the API's JSON shape.
        .layer(DefaultBodyLimit::max(extract::MAX_JSON_BYTES + 1))
        // Requests queue here, first come first served, rather than inside the database
        // pool (under load sqlx's pool lets some waiters starve for seconds): one queue for
        // the whole API, entered once the body is in (`limits`).
        .layer(axum::middleware::from_fn_with_state(
            limits::ApiQueue::new(state.db.api_concurrency()),
            limits::after_body,
        ));
    // Uploads stream for as long as they take: outside the API's queue (they would hold a
    // slot for minutes) and without its body limit (the library quota bounds them).
    let uploads = Router::new().route(
        "/api/v1/services/{id}/media",
        post(media::upload)
            .get(media::list)
            .layer(DefaultBodyLimit::disable()),
    );
    // Everything that reads the database answers 503 at once while it is away; health,
    // metrics and live HLS do not need it and keep answering.
    let needs_database = Router::new()
        .merge(uploads)
        .nest("/api/v1", api)
        .merge(dvr_hls::router())
        .merge(vod::router())
        .merge(web::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            db_gate::require_database,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .merge(needs_database)
        .merge(hls::router())
        // After routing, so each request is counted under its route template.
        .route_layer(axum::middleware::from_fn(track::track))
        .with_state(state)
}

/// 200 once every listener is bound and the database answers; 503 otherwise, at once, with
/// the part that is down: `{"status":"ok"|"starting"|"degraded","database":"up"|"down",
/// "statistics_spooled":N}`.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if !state.ready.is_ready() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "starting" })),
        );
    }
    let up = state.db.health().is_up();
    let body = json!({
        "status": if up { "ok" } else { "degraded" },
        "database": if up { "up" } else { "down" },
        "statistics_spooled": state.spooled.load(std::sync::atomic::Ordering::Relaxed),
    });
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn api_not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no API endpoint at {}", uri.path()),
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}
