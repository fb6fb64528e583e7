//! Answers at once while the database is away, instead of letting every request wait for
//! the pool's acquire timeout (see [`crate::db::health`]).
//!
//! Put in front of routes that need the database (the API, uploads, DVR and on-demand
//! HLS). Live HLS, Icecast and RTMP never pass here: media keeps flowing while the database
//! is down.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;
use crate::app::AppState;

/// What a client is told to wait before it tries again (the monitor pings every second).
const RETRY_AFTER_SECS: &str = "5";

pub async fn require_database(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.db.health().is_up() {
        return next.run(req).await;
    }
    const MESSAGE: &str = "the database is unreachable; live streams go on, and this request can be tried again shortly";
    // API clients get the API's JSON error; a person opening the panel or a player page
    // gets a sentence, not JSON.
    let mut resp = if req.uri().path().starts_with("/api/") {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            MESSAGE,
        )
        .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "This page is unavailable for a moment: the server's database is unreachable. \
             Live streams are not affected; try again shortly.\n",
        )
            .into_response()
    };
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    resp
}
