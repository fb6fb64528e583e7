//! Song requests from listeners, public (no login), for station websites:
//! `GET /api/v1/public/{slug}/requests?q=` lists what may be requested (tracks of playlists
//! that allow requests), `POST /api/v1/public/{slug}/requests {"media": id}` asks AutoDJ to
//! play one next. A listener (by address) may make [`PER_IP`] requests per
//! [`IP_WINDOW_SECS`]; a track requested or played in the last [`GAP_SECS`] waits.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tidecast_engine::ServiceId;

use crate::db::{now, requests, services};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, List, Page};
use crate::app::AppState;

/// Requests one address may make per window.
const PER_IP: i64 = 3;
const IP_WINDOW_SECS: i64 = 15 * 60;
/// How long before a track can be requested again (after a request or a play).
const GAP_SECS: i64 = 60 * 60;

#[derive(Debug, Serialize)]
pub struct RequestableView {
    id: i64,
    title: String,
    artist: String,
    album: String,
    duration_s: f64,
}

#[derive(schemars::JsonSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    media: i64,
}

#[derive(Debug, Serialize)]
pub struct RequestedView {
    id: i64,
    title: String,
    artist: String,
    /// Requests ahead of this one, plus one.
    position: usize,
}

fn public(resp: impl IntoResponse) -> Response {
    let mut resp = resp.into_response();
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

async fn station(state: &AppState, slug: &str) -> ApiResult<services::Service> {
    services::by_slug(&state.db, slug)
        .await?
        .filter(|s| s.is_radio() && !s.is_suspended())
        .ok_or_else(|| ApiError::not_found("station"))
}

pub async fn list(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    page: Page,
    uri: axum::http::Uri,
) -> Response {
    let run = async {
        let s = station(&state, &slug).await?;
        let q = uri
            .query()
            .and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "q")
                    .map(|(_, v)| v.to_lowercase())
            })
            .unwrap_or_default();
        let all = requests::requestable(&state.db, s.id, s.owner_id).await?;
        let matching: Vec<RequestableView> = all
            .into_iter()
            .filter(|m| {
                q.is_empty()
                    || m.title.to_lowercase().contains(&q)
                    || m.artist.to_lowercase().contains(&q)
            })
            .map(|m| RequestableView {
                id: m.id,
                title: m.title,
                artist: m.artist,
                album: m.album,
                duration_s: m.duration_ms as f64 / 1000.0,
            })
            .collect();
        let total = matching.len() as i64;
        let items = matching
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(0))
            .take(usize::try_from(page.limit).unwrap_or(100))
            .collect();
        Ok::<_, ApiError>(Json(List { items, total }))
    };
    match run.await {
        Ok(j) => public(j),
        Err(e) => public(e),
    }
}

pub async fn create(
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    ApiJson(input): ApiJson<RequestInput>,
) -> Response {
    match request(&state, remote, &slug, input).await {
        Ok(v) => public((StatusCode::CREATED, Json(v))),
        Err(e) => public(e),
    }
}

async fn request(
    state: &AppState,
    remote: SocketAddr,
    slug: &str,
    input: RequestInput,
) -> ApiResult<RequestedView> {
    let s = station(state, slug).await?;
    if !state.engine.autodj().is_running(ServiceId(s.id)) {
        return Err(ApiError::conflict(
            "this station takes requests only while AutoDJ is on",
        ));
    }
    let allowed = requests::requestable(&state.db, s.id, s.owner_id).await?;
    let Some(m) = allowed.into_iter().find(|m| m.id == input.media) else {
        return Err(ApiError::not_found("requestable track"));
    };
    let ip = remote.ip().to_string();
    let t = now();
    if requests::count_by_ip(&state.db, s.id, &ip, t - IP_WINDOW_SECS).await? >= PER_IP {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!(
                "at most {PER_IP} requests every {} minutes; try again later",
                IP_WINDOW_SECS / 60
            ),
        ));
    }
    if requests::recently(&state.db, s.id, m.id, t - GAP_SECS).await? {
        return Err(ApiError::conflict(format!(
            "\"{}\" was requested or played in the last {} minutes; pick another",
            m.title,
            GAP_SECS / 60
        )));
    }
    let id = requests::insert(&state.db, s.id, m.id, &ip).await?;
    let position = requests::pending(&state.db, s.id)
        .await?
        .iter()
        .position(|r| r.id == id)
        .map_or(1, |p| p + 1);
    tracing::info!(slug = %s.slug, %ip, media = m.id, "song requested: {:?}", m.title);
    Ok(RequestedView {
        id,
        title: m.title,
        artist: m.artist,
        position,
    })
}
