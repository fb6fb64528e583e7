//! The REST API (`/api/v1`) and the operational endpoints (`/healthz`).

pub mod access;
pub mod autodj;
pub mod djs;
pub mod dvr;
pub mod error;
pub mod extract;
pub mod history;
pub mod keys;
pub mod login;
pub mod media;
pub mod mounts;
pub mod plans;
pub mod playlists;
pub mod provision;
pub mod recordings;
pub mod reports;
pub mod requests;
pub mod services;
pub mod site;
pub mod state;
pub mod stats;
pub mod system;
pub mod time;
pub mod transcode;
pub mod usage;
pub mod users;
pub mod validate;
pub mod webhooks;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tower::limit::ConcurrencyLimitLayer;

use error::ApiError;
use state::AppState;

/// Every HTTP route of the control plane.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/login", post(login::login))
        .route("/logout", post(login::logout))
        .route("/me", get(users::me))
        .route("/provision", post(provision::provision))
        .route("/users/{id}/suspend", post(provision::suspend_user))
        .route("/users/{id}/unsuspend", post(provision::unsuspend_user))
        .route("/services/{id}/source/stop", post(provision::stop_source))
        .route(
            "/services/{id}/autodj/restart",
            post(provision::restart_autodj),
        )
        .route("/me/usage", get(users::my_usage))
        .route("/system", get(system::get))
        .route("/settings", get(site::get_settings).put(site::put_settings))
        .route(
            "/announcements",
            get(site::announcements).post(site::announce),
        )
        .route("/announcements/{id}", axum::routing::delete(site::withdraw))
        .route("/users/{id}/login-as", post(login::login_as))
        .route("/users", post(users::create).get(users::list))
        .route(
            "/users/{id}",
            get(users::get).patch(users::patch).delete(users::delete),
        )
        .route("/reseller-plans", post(plans::create).get(plans::list))
        .route(
            "/reseller-plans/{id}",
            get(plans::get).patch(plans::patch).delete(plans::delete),
        )
        .route("/api-keys", post(keys::create).get(keys::list))
        .route("/api-keys/{id}", axum::routing::delete(keys::revoke))
        .route("/services", post(services::create).get(services::list))
        .route(
            "/services/{id}",
            get(services::get)
                .patch(services::patch)
                .delete(services::delete),
        )
        .route("/services/{id}/suspend", post(services::suspend))
        .route("/services/{id}/unsuspend", post(services::unsuspend))
        .route(
            "/services/{id}/rotate-credentials",
            post(services::rotate_credentials),
        )
        .route("/services/{id}/stats", get(stats::service))
        .route("/services/{id}/usage", get(usage::service))
        .route("/usage", get(usage::all))
        .route("/services/{id}/stats/history", get(history::get))
        .route(
            "/services/{id}/webhook",
            get(webhooks::get)
                .put(webhooks::put)
                .delete(webhooks::delete),
        )
        .route("/services/{id}/webhook/test", post(webhooks::test))
        .route("/services/{id}/stats/report", get(reports::all))
        .route("/services/{id}/stats/report/{name}", get(reports::one))
        .route(
            "/services/{id}/transcode",
            get(transcode::get)
                .put(transcode::put)
                .delete(transcode::delete),
        )
        .route("/public/{slug}/nowplaying", get(stats::nowplaying))
        .route("/public/{slug}/cover", get(stats::public_cover))
        .route(
            "/public/{slug}/requests",
            get(requests::list).post(requests::create),
        )
        .route(
            "/services/{id}/mounts",
            post(mounts::create).get(mounts::list),
        )
        .route(
            "/services/{id}/mounts/{mount}",
            axum::routing::patch(mounts::patch).delete(mounts::delete),
        )
        .route("/services/{id}/djs", post(djs::create).get(djs::list))
        .route(
            "/services/{id}/djs/{dj}",
            axum::routing::patch(djs::patch).delete(djs::delete),
        )
        .route(
            "/services/{id}/media/{mid}",
            get(media::get).patch(media::patch).delete(media::delete),
        )
        .route("/services/{id}/media/{mid}/cover", get(media::cover))
        .route(
            "/services/{id}/playlists",
            post(playlists::create).get(playlists::list),
        )
        .route(
            "/services/{id}/playlists/{pid}",
            get(playlists::get)
                .put(playlists::replace)
                .delete(playlists::delete),
        )
        .route("/services/{id}/autodj", get(autodj::get).put(autodj::put))
        .route(
            "/services/{id}/dvr",
            get(dvr::get).put(dvr::put).delete(dvr::delete),
        )
        .route(
            "/services/{id}/recordings",
            get(recordings::list).post(recordings::create),
        )
        .route(
            "/services/{id}/recordings/settings",
            get(recordings::get_settings).put(recordings::put_settings),
        )
        .route("/services/{id}/recordings/{rid}", get(recordings::get_one))
        .route("/services/{id}/autodj/start", post(autodj::start))
        .route("/services/{id}/autodj/stop", post(autodj::stop))
        .route("/services/{id}/autodj/skip", post(autodj::skip))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // A little over the JSON limit, so the extractor (not the transport) answers 413 in
        // the API's JSON shape.
        .layer(DefaultBodyLimit::max(extract::MAX_JSON_BYTES + 1))
        // Requests queue here, first come first served, rather than inside the database
        // pool: under load sqlx's pool lets some waiters starve for seconds.
        .layer(ConcurrencyLimitLayer::new(state.db.api_concurrency()));
    // Uploads stream for as long as they take: outside the API's queue (they would hold a
    // slot for minutes) and without its body limit (the library quota bounds them).
    let uploads = Router::new().route(
        "/api/v1/services/{id}/media",
        post(media::upload)
            .get(media::list)
            .layer(DefaultBodyLimit::disable()),
    );
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::metrics::metrics))
        .merge(uploads)
        .nest("/api/v1", api)
        .merge(crate::dvr_hls::router())
        .merge(crate::vod::router())
        .merge(crate::hls::router())
        .merge(crate::web::router())
        // After routing, so each request is counted under its route template.
        .route_layer(axum::middleware::from_fn(crate::http_metrics::track))
        .with_state(state)
}

/// 200 once every listener is bound and the database answers; 503 otherwise.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if !state.ready.is_ready() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "starting" })),
        );
    }
    match sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(state.db.pool())
        .await
    {
        Ok(_) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!("health check: database unreachable: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "database unreachable" })),
            )
        }
    }
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
