//! `/hls/vod/<media id>/index.m3u8` (the master playlist), `/hls/vod/<media id>/<rung>/index.m3u8`
//! and the rungs' segments, from the finished ladder on disk. Public like live streams, so
//! players embedded on customers' sites can play them; only finished ladders are served.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hls/vod/{id}/{file}", get(master).head(master))
        .route("/hls/vod/{id}/{rung}/{file}", get(rung).head(rung))
}

async fn master(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    if file != tidecast_engine::hls::vod::PLAYLIST {
        return missing();
    }
    serve(&state, &id, None, &file).await
}

async fn rung(
    State(state): State<AppState>,
    Path((id, rung, file)): Path<(String, String, String)>,
) -> Response {
    serve(&state, &id, Some(&rung), &file).await
}

async fn serve(state: &AppState, id: &str, rung: Option<&str>, file: &str) -> Response {
    // Only names the transcoder writes: digits, a rung's name, `index.m3u8`, `NNNNN.ts`.
    let Ok(id) = id.parse::<i64>() else {
        return missing();
    };
    let segment = tidecast_engine::hls::uri::parse_vod_segment(file).is_some();
    let name_ok = |r: &str| {
        !r.is_empty()
            && r.len() <= 32
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let playlist = file == tidecast_engine::hls::vod::PLAYLIST;
    if !(playlist || (segment && rung.is_some())) || !rung.is_none_or(name_ok) {
        return missing();
    }
    match crate::db::vod::is_ready(&state.db, id).await {
        Ok(true) => {}
        Ok(false) => return missing(),
        Err(e) => {
            tracing::error!("cannot look up on-demand video {id}: {e}");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response();
        }
    }
    let mut path = crate::vod::dir(&state.data_dir, id);
    if let Some(r) = rung {
        path.push(r);
    }
    path.push(file);
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return missing();
    };
    let (content_type, cache) = if segment {
        ("video/mp2t", "public, max-age=86400")
    } else {
        // Short enough that a deleted video stops playing soon, long enough for a CDN.
        ("application/vnd.apple.mpegurl", "public, max-age=60")
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
    let mut res = (
        StatusCode::NOT_FOUND,
        "no such on-demand video, or it is not transcoded yet\n",
    )
        .into_response();
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}
