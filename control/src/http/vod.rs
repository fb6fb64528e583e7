//! `/hls/vod/<public id>/index.m3u8` (the master playlist), `/hls/vod/<public id>/<rung>/index.m3u8`
//! and the rungs' segments, from the finished ladder on disk, to whom the item's visibility
//! allows (`domain::media::playback`): anyone for a public or unlisted item (players
//! embedded on customers' sites), the owner's side or a signed URL for a private one.
//!
//! A signed request's playlists are served with the signature on every URI they carry
//! (the engine's playlist writer adds it), so a player's following requests are signed
//! too; those answers are `private` to caches. Whatever may not play is a 404, as a missing
//! item is; only a signature of ours that has expired gets a 403 saying so.

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tidecast_engine::hls::{playlist, uri};

use crate::app::AppState;
use crate::auth::Caller;
use crate::domain::media::{Playback, playback};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hls/vod/{id}/{file}", get(master).head(master))
        .route("/hls/vod/{id}/{rung}/{file}", get(rung).head(rung))
}

async fn master(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    parts: Parts,
) -> Response {
    if file != tidecast_engine::hls::vod::PLAYLIST {
        return missing();
    }
    serve(&state, parts, &id, None, &file).await
}

async fn rung(
    State(state): State<AppState>,
    Path((id, rung, file)): Path<(String, String, String)>,
    parts: Parts,
) -> Response {
    serve(&state, parts, &id, Some(&rung), &file).await
}

/// Who is logged in (a session cookie or a bearer token), if anyone.
pub async fn viewer(parts: &mut Parts, state: &AppState) -> Option<Caller> {
    Caller::from_request_parts(parts, state).await.ok()
}

async fn serve(
    state: &AppState,
    mut parts: Parts,
    id: &str,
    rung: Option<&str>,
    file: &str,
) -> Response {
    // Only names the transcoder writes: a rung's name, `index.m3u8`, `NNNNN.ts`.
    let segment = uri::parse_vod_segment(file).is_some();
    let name_ok = |r: &str| {
        !r.is_empty()
            && r.len() <= 32
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let is_playlist = file == tidecast_engine::hls::vod::PLAYLIST;
    if !(is_playlist || (segment && rung.is_some())) || !rung.is_none_or(name_ok) {
        return missing();
    }
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let (item, carry, shared) =
        match playback(state, id, &query, async || viewer(&mut parts, state).await).await {
            Ok(Playback::Play {
                item,
                carry,
                shared,
            }) => (item, carry, shared),
            Ok(Playback::Hidden) => return missing(),
            Ok(Playback::Expired) => return expired(),
            Err(e) => {
                tracing::error!("cannot look up on-demand video {id:?}: {e}");
                return (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response();
            }
        };
    let mut path = crate::vod::dir(&state.data_dir, item.id);
    if let Some(r) = rung {
        path.push(r);
    }
    path.push(file);
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return missing();
    };
    let carried = carry.as_ref().map(|s| s.query());
    let bytes = match carried.as_deref().and_then(uri::Query::new) {
        Some(q) if is_playlist => {
            playlist::with_query(&String::from_utf8_lossy(&bytes), q).into_bytes()
        }
        _ => bytes,
    };
    let (content_type, cache) = match (segment, shared) {
        (true, true) => ("video/mp2t", "public, max-age=86400"),
        (true, false) => ("video/mp2t", "private, max-age=86400"),
        // Short enough that a deleted (or hidden) video stops playing soon, long enough
        // for a CDN.
        (false, true) => ("application/vnd.apple.mpegurl", "public, max-age=60"),
        (false, false) => ("application/vnd.apple.mpegurl", "private, max-age=60"),
    };
    let mut res = Body::from(bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

fn missing() -> Response {
    answer(
        StatusCode::NOT_FOUND,
        "no such on-demand video, or it is not transcoded yet\n",
    )
}

fn expired() -> Response {
    answer(
        StatusCode::FORBIDDEN,
        "this link to a private video has expired: ask its owner for a new one\n",
    )
}

fn answer(status: StatusCode, text: &'static str) -> Response {
    let mut res = (status, text).into_response();
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}
