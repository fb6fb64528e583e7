//! Song requests from listeners, public (no login), for station websites:
//! `GET /api/v1/public/{slug}/requests?q=` lists what may be requested (tracks of playlists
//! that allow requests), `POST /api/v1/public/{slug}/requests {"media": id}` asks AutoDJ to
//! play one next. The rules (how often a listener may ask, how soon a track may come
//! again) are `domain::requests`'.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::AppState;
use crate::domain::requests::{self as domain, RequestInput};
use crate::headers::{ANY_ORIGIN, set_fixed};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, List, Page};

#[derive(Debug, Serialize)]
pub struct RequestableView {
    id: i64,
    title: String,
    artist: String,
    album: String,
    duration_s: f64,
}

#[derive(Debug, Serialize)]
pub struct RequestedView {
    id: i64,
    title: String,
    artist: String,
    /// Requests ahead of this one, plus one.
    position: usize,
}

/// Station websites call these from their own origin.
fn public(resp: impl IntoResponse) -> Response {
    let mut resp = resp.into_response();
    set_fixed(resp.headers_mut(), &[ANY_ORIGIN]);
    resp
}

pub async fn list(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    page: Page,
    uri: axum::http::Uri,
) -> Response {
    let run = async {
        let q = uri
            .query()
            .and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "q")
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or_default();
        let matching = domain::requestable(&state, &slug, &q).await?;
        let total = matching.len() as i64;
        let items = matching
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(0))
            .take(usize::try_from(page.limit).unwrap_or(100))
            .map(|m| RequestableView {
                id: m.id,
                title: m.title,
                artist: m.artist,
                album: m.album,
                duration_s: m.duration_ms as f64 / 1000.0,
            })
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
    let made: ApiResult<RequestedView> = domain::request(&state, remote.ip(), &slug, input.media)
        .await
        .map(|r| RequestedView {
            id: r.id,
            title: r.track.title,
            artist: r.track.artist,
            position: r.position,
        })
        .map_err(ApiError::from);
    match made {
        Ok(v) => public((StatusCode::CREATED, Json(v))),
        Err(e) => public(e),
    }
}
