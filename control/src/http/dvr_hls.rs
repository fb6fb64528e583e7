//! DVR playback over HLS: `/hls/<slug>/dvr.m3u8` lists the whole archive window (a sliding
//! live playlist while the service records, ended with `#EXT-X-ENDLIST` when it does not),
//! every segment with its `#EXT-X-PROGRAM-DATE-TIME`, a gap (the publisher was away) or a
//! new recording marked `#EXT-X-DISCONTINUITY`; `/hls/<slug>/index.m3u8?start=&end=` is a
//! slice of it; the segments are served from the archive folder at `/hls/<slug>/dvr/<file>`.
//!
//! A service with a transcoding ladder records each rendition: its `dvr.m3u8` and slices
//! are then master playlists over `/hls/<slug>/<rendition>/dvr.m3u8` (and slices), each
//! variant's bandwidth measured from what the archive holds.
//!
//! Only the HTTP side is here (which service and archives a request means, the query,
//! caching headers, gzip): the engine's DVR module writes every playlist and decides which
//! files an archive serves, under its own index lock.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tidecast_engine::dvr::playlist::{Slice, master_playlist};
use tidecast_engine::dvr::{Archive, Dvr};
use tidecast_engine::hls::uri::DVR_PLAYLIST;

use crate::app::AppState;
use crate::db::services::{self, Service};
use crate::domain::dvr::{existing, renditions};
use crate::headers::{ANY_ORIGIN, IMMUTABLE, set_encoding, set_fixed, wants_gzip};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("/hls/{{slug}}/{DVR_PLAYLIST}"), get(playlist))
        .route("/hls/{slug}/dvr/{file}", get(segment))
        .route("/hls/{slug}/{rendition}/dvr/{file}", get(rendition_segment))
}

/// Why a DVR request is refused (small, so results carrying it stay small).
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        plain(self.0, &self.1)
    }
}

fn refused(status: StatusCode, text: &str) -> Refused {
    Refused(status, text.to_owned())
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut res = (status, format!("{text}\n")).into_response();
    set_fixed(res.headers_mut(), &[ANY_ORIGIN]);
    res
}

/// The video service behind `slug`, and the server's archives.
async fn service(state: &AppState, slug: &str) -> Result<(Service, Arc<Dvr>), Refused> {
    let service = services::by_slug(&state.db, slug)
        .await
        .map_err(|_| refused(StatusCode::SERVICE_UNAVAILABLE, "try again"))?
        .filter(|s| s.kind == crate::model::Kind::Video && !s.is_suspended())
        .ok_or_else(|| refused(StatusCode::NOT_FOUND, "no such video service"))?;
    let dvr = state
        .engine
        .dvr()
        .cloned()
        .ok_or_else(|| refused(StatusCode::NOT_FOUND, "this server keeps no DVR archives"))?;
    Ok((service, dvr))
}

/// An archive that cannot be read: logged, and said without details.
fn unreadable(e: crate::domain::Error) -> Refused {
    tracing::error!("{e}");
    refused(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the archive cannot be read",
    )
}

fn nothing_recorded() -> Response {
    plain(StatusCode::NOT_FOUND, "nothing recorded yet")
}

/// The longest slice a request may ask for.
const MAX_SLICE_SECS: i64 = 24 * 3600;

/// A slice's span in unix seconds, or the 400 that says what is wrong with the query.
fn span(query: &str) -> Result<Slice, Refused> {
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
                return Err(refused(
                    StatusCode::BAD_REQUEST,
                    &format!("{k}={v:?}: start and end are unix times in seconds"),
                ));
            }
        }
    }
    let now = chrono::Utc::now().timestamp();
    let Some(start) = start else {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "start is required (unix seconds)",
        ));
    };
    if end.is_some_and(|e| e <= start) {
        return Err(refused(StatusCode::BAD_REQUEST, "end must be after start"));
    }
    if end.unwrap_or(now) - start > MAX_SLICE_SECS {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "a slice is at most 24 hours",
        ));
    }
    Ok(Slice { start, end })
}

fn outside() -> Response {
    plain(
        StatusCode::NOT_FOUND,
        "nothing is archived in that span (outside the DVR window, or the stream was off)",
    )
}

/// `index.m3u8?start=<unix s>&end=<unix s>`: the archived segments overlapping that span.
/// It ends (`#EXT-X-ENDLIST`) once `end` is past or nothing records any more; with `end`
/// open or ahead it grows like a live playlist. With a ladder: a master playlist over the
/// renditions' slices.
pub async fn slice(state: &AppState, slug: &str, query: &str) -> Response {
    let slice = match span(query) {
        Ok(span) => span,
        Err(res) => return res.into_response(),
    };
    let (s, dvr) = match service(state, slug).await {
        Ok(found) => found,
        Err(res) => return res.into_response(),
    };
    let recorded = match renditions(&dvr, &s).map_err(unreadable) {
        Ok(r) => r,
        Err(res) => return res.into_response(),
    };
    if let Some(text) = master_playlist(&recorded, Some(slice)) {
        return playlist_response(text);
    }
    match existing(&dvr, &s, &s.slug).map_err(unreadable) {
        Ok(Some(archive)) => slice_of(&archive, slice),
        Ok(None) => outside(),
        Err(res) => res.into_response(),
    }
}

/// `/hls/<slug>/<rendition>/index.m3u8?start=&end=`: a rendition's slice.
pub async fn rendition_slice(
    state: &AppState,
    slug: &str,
    rendition: &str,
    query: &str,
) -> Response {
    let slice = match span(query) {
        Ok(span) => span,
        Err(res) => return res.into_response(),
    };
    let (s, dvr) = match service(state, slug).await {
        Ok(found) => found,
        Err(res) => return res.into_response(),
    };
    match existing(&dvr, &s, &format!("{}/{rendition}", s.slug)).map_err(unreadable) {
        Ok(Some(archive)) => slice_of(&archive, slice),
        Ok(None) => outside(),
        Err(res) => res.into_response(),
    }
}

fn slice_of(archive: &Archive, slice: Slice) -> Response {
    match archive.slice_playlist(slice, chrono::Utc::now().timestamp_millis()) {
        Some(text) => playlist_response(text),
        None => outside(),
    }
}

fn playlist_response(text: impl Into<Body>) -> Response {
    let mut res = text.into().into_response();
    set_fixed(
        res.headers_mut(),
        &[
            (header::CONTENT_TYPE, "application/vnd.apple.mpegurl"),
            (header::CACHE_CONTROL, "max-age=1"),
            ANY_ORIGIN,
        ],
    );
    res
}

/// `/hls/<slug>/dvr.m3u8`: the whole window; a master playlist over the renditions when the
/// service's ladder was recorded.
async fn playlist(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (s, dvr) = match service(&state, &slug).await {
        Ok(found) => found,
        Err(res) => return res.into_response(),
    };
    let recorded = match renditions(&dvr, &s).map_err(unreadable) {
        Ok(r) => r,
        Err(res) => return res.into_response(),
    };
    if let Some(text) = master_playlist(&recorded, None) {
        return playlist_response(text);
    }
    match existing(&dvr, &s, &s.slug).map_err(unreadable) {
        Ok(Some(archive)) => whole(&archive, &headers),
        Ok(None) => nothing_recorded(),
        Err(res) => res.into_response(),
    }
}

/// `/hls/<slug>/<rendition>/dvr.m3u8`: a rendition's whole window.
pub async fn rendition_playlist(
    state: &AppState,
    slug: &str,
    rendition: &str,
    headers: &HeaderMap,
) -> Response {
    let (s, dvr) = match service(state, slug).await {
        Ok(found) => found,
        Err(res) => return res.into_response(),
    };
    match existing(&dvr, &s, &format!("{}/{rendition}", s.slug)).map_err(unreadable) {
        Ok(Some(archive)) => whole(&archive, headers),
        Ok(None) => nothing_recorded(),
        Err(res) => res.into_response(),
    }
}

/// The archive's whole window; the engine renders (and we gzip) it once per change of the
/// archive: players reload it every segment, and a 24-hour window is 4 MB of text.
fn whole(archive: &Archive, headers: &HeaderMap) -> Response {
    let Some(window) = archive.window_playlist(crate::http::hls::gzip) else {
        return nothing_recorded();
    };
    let wants_gzip = wants_gzip(headers);
    let body = if wants_gzip {
        window.encoded.clone()
    } else {
        window.plain.clone()
    };
    let mut res = playlist_response(body);
    set_encoding(res.headers_mut(), wants_gzip);
    res
}

async fn segment(
    State(state): State<AppState>,
    Path((slug, file)): Path<(String, String)>,
) -> Response {
    let (s, dvr) = match service(&state, &slug).await {
        Ok(found) => found,
        Err(res) => return res.into_response(),
    };
    match existing(&dvr, &s, &s.slug).map_err(unreadable) {
        Ok(Some(archive)) => serve_file(&archive, &file).await,
        Ok(None) => no_segment(),
        Err(res) => res.into_response(),
    }
}

async fn rendition_segment(
    State(state): State<AppState>,
    Path((slug, rendition, file)): Path<(String, String, String)>,
) -> Response {
    let (s, dvr) = match service(&state, &slug).await {
        Ok(found) => found,
        Err(res) => return res.into_response(),
    };
    match existing(&dvr, &s, &format!("{}/{rendition}", s.slug)).map_err(unreadable) {
        Ok(Some(archive)) => serve_file(&archive, &file).await,
        Ok(None) => no_segment(),
        Err(res) => res.into_response(),
    }
}

fn no_segment() -> Response {
    plain(StatusCode::NOT_FOUND, "no such segment in the archive")
}

async fn serve_file(archive: &Archive, file: &str) -> Response {
    // Only names the index holds: never a path the request makes up.
    if !archive.holds(file) {
        return no_segment();
    }
    match tokio::fs::read(archive.dir().join(file)).await {
        Ok(bytes) => {
            let content_type = if file.ends_with(".ts") {
                "video/mp2t"
            } else {
                "video/mp4"
            };
            let mut res = Body::from(bytes).into_response();
            let fixed = [(header::CONTENT_TYPE, content_type), IMMUTABLE, ANY_ORIGIN];
            set_fixed(res.headers_mut(), &fixed);
            res
        }
        // Trimmed out of the window since the playlist was read.
        Err(_) => no_segment(),
    }
}
