//! DVR playback over HLS: `/hls/<slug>/dvr.m3u8` lists the whole archive window (a sliding
//! live playlist while the service records, ended with `#EXT-X-ENDLIST` when it does not),
//! every segment with its `#EXT-X-PROGRAM-DATE-TIME`, a gap (the publisher was away) or a
//! new recording marked `#EXT-X-DISCONTINUITY`; `/hls/<slug>/index.m3u8?start=&end=` is a
//! slice of it; the segments are served from the archive folder at `/hls/<slug>/dvr/<file>`.

use std::fmt::Write as _;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tidecast_engine::ServiceId;
use tidecast_engine::dvr::Archive;
use tidecast_engine::dvr::index::Entry;

use crate::api::state::AppState;
use crate::db::services;

/// A jump between segments larger than this is a gap (the publisher was away).
const GAP_MS: i64 = 1500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hls/{slug}/dvr.m3u8", get(playlist))
        .route("/hls/{slug}/dvr/{file}", get(segment))
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut res = (status, format!("{text}\n")).into_response();
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

async fn archive(state: &AppState, slug: &str) -> Result<std::sync::Arc<Archive>, Response> {
    let service = services::by_slug(&state.db, slug)
        .await
        .map_err(|_| plain(StatusCode::SERVICE_UNAVAILABLE, "try again"))?
        .filter(|s| s.kind == "video" && !s.is_suspended())
        .ok_or_else(|| plain(StatusCode::NOT_FOUND, "no such video service"))?;
    let dvr = state
        .engine
        .dvr()
        .ok_or_else(|| plain(StatusCode::NOT_FOUND, "this server keeps no DVR archives"))?;
    dvr.archive(ServiceId(service.id), &service.slug)
        .map_err(|e| {
            tracing::error!(%slug, "DVR archive unreadable: {e}");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the archive cannot be read",
            )
        })
}

/// The longest slice a request may ask for.
const MAX_SLICE_SECS: i64 = 24 * 3600;

/// `index.m3u8?start=<unix s>&end=<unix s>`: the archived segments overlapping that span.
/// It ends (`#EXT-X-ENDLIST`) once `end` is past or nothing records any more; with `end`
/// open or ahead it grows like a live playlist.
pub async fn slice(state: &AppState, slug: &str, query: &str) -> Response {
    let (mut start, mut end) = (None, None);
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match &*k {
            "start" => &mut start,
            "end" => &mut end,
            _ => continue,
        };
        match v.parse::<i64>() {
            Ok(t) if t >= 0 => *slot = Some(t),
            _ => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    &format!("{k}={v:?}: start and end are unix times in seconds"),
                );
            }
        }
    }
    let now = chrono::Utc::now().timestamp();
    let Some(start) = start else {
        return plain(StatusCode::BAD_REQUEST, "start is required (unix seconds)");
    };
    if end.is_some_and(|e| e <= start) {
        return plain(StatusCode::BAD_REQUEST, "end must be after start");
    }
    if end.unwrap_or(now) - start > MAX_SLICE_SECS {
        return plain(StatusCode::BAD_REQUEST, "a slice is at most 24 hours");
    }
    let archive = match archive(state, slug).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let text = {
        let index = archive.index.read().unwrap_or_else(|p| p.into_inner());
        let to_ms = end.map_or(i64::MAX, |e| e.saturating_mul(1000));
        let entries: Vec<&Entry> = index.range(start.saturating_mul(1000), to_ms).collect();
        if entries.is_empty() {
            return plain(
                StatusCode::NOT_FOUND,
                "nothing is archived in that span (outside the DVR window, or the stream was off)",
            );
        }
        let ended = end.is_some_and(|e| e <= now) || !archive.is_recording();
        render(&entries, ended)
    };
    playlist_response(text)
}

fn playlist_response(text: String) -> Response {
    let mut res = text.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.apple.mpegurl"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=1"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

async fn playlist(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let archive = match archive(&state, &slug).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let text = {
        let index = archive.index.read().unwrap_or_else(|p| p.into_inner());
        let entries: Vec<&Entry> = index.entries().iter().collect();
        if entries.is_empty() {
            return plain(StatusCode::NOT_FOUND, "nothing recorded yet");
        }
        render(&entries, !archive.is_recording())
    };
    playlist_response(text)
}

/// A playlist of `entries`; `ended` adds `#EXT-X-ENDLIST`.
pub fn render(entries: &[&Entry], ended: bool) -> String {
    let target = entries
        .iter()
        .map(|e| (f64::from(e.duration_ms) / 1000.0).round() as u64)
        .max()
        .unwrap_or(2)
        .max(1);
    let fmp4 = entries.iter().any(|e| e.init.is_some());
    let mut out = String::new();
    let _ = writeln!(out, "#EXTM3U");
    let _ = writeln!(out, "#EXT-X-VERSION:{}", if fmp4 { 7 } else { 3 });
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{target}");
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", entries[0].seq);
    let mut init: Option<&str> = None;
    let mut prev_end: Option<i64> = None;
    for (i, e) in entries.iter().enumerate() {
        let gap = prev_end.is_some_and(|end| (e.start_ms - end).abs() > GAP_MS);
        if i > 0 && (e.discontinuity || gap) {
            let _ = writeln!(out, "#EXT-X-DISCONTINUITY");
        }
        if let Some(map) = e.init.as_deref()
            && init != Some(map)
        {
            let _ = writeln!(out, "#EXT-X-MAP:URI=\"dvr/{map}\"");
            init = Some(map);
        }
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(e.start_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{at}");
        let _ = writeln!(out, "#EXTINF:{:.3},", f64::from(e.duration_ms) / 1000.0);
        let _ = writeln!(out, "dvr/{}", e.file);
        prev_end = Some(e.end_ms());
    }
    if ended {
        let _ = writeln!(out, "#EXT-X-ENDLIST");
    }
    out
}

async fn segment(
    State(state): State<AppState>,
    Path((slug, file)): Path<(String, String)>,
) -> Response {
    let archive = match archive(&state, &slug).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    // Only what the index names (never a path the request makes up).
    let known = {
        let index = archive.index.read().unwrap_or_else(|p| p.into_inner());
        index
            .entries()
            .iter()
            .any(|e| e.file == file || e.init.as_deref() == Some(file.as_str()))
    };
    if !known {
        return plain(StatusCode::NOT_FOUND, "no such segment in the archive");
    }
    match tokio::fs::read(archive.dir().join(&file)).await {
        Ok(bytes) => {
            let content_type = if file.ends_with(".ts") {
                "video/mp2t"
            } else {
                "video/mp4"
            };
            let mut res = Body::from(bytes).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            res
        }
        // Trimmed out of the window since the playlist was read.
        Err(_) => plain(StatusCode::NOT_FOUND, "no such segment in the archive"),
    }
}
