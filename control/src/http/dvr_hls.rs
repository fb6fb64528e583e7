//! DVR playback over HLS: `/hls/<slug>/dvr.m3u8` lists the whole archive window (a sliding
//! live playlist while the service records, ended with `#EXT-X-ENDLIST` when it does not),
//! every segment with its `#EXT-X-PROGRAM-DATE-TIME`, a gap (the publisher was away) or a
//! new recording marked `#EXT-X-DISCONTINUITY`; `/hls/<slug>/index.m3u8?start=&end=` is a
//! slice of it; the segments are served from the archive folder at `/hls/<slug>/dvr/<file>`.
//!
//! A service with a transcoding ladder records each rendition: its `dvr.m3u8` and slices
//! are then master playlists over `/hls/<slug>/<rendition>/dvr.m3u8` (and slices), each
//! variant's bandwidth measured from what the archive holds.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use tidecast_engine::dvr::index::{Entry, Index};
use tidecast_engine::dvr::{Archive, Dvr};

use crate::app::AppState;
use crate::db::services::{self, Service};
use crate::domain::dvr::{Recorded, existing, renditions};

/// A jump between segments larger than this is a gap (the publisher was away).
const GAP_MS: i64 = 1500;

/// Segments a master playlist measures a variant's bandwidth over (the newest of the span).
const MEASURED: usize = 60;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hls/{slug}/dvr.m3u8", get(playlist))
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
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
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

/// A master playlist over the renditions with segments in `[from_ms, to_ms)`, each
/// variant's URI `<rendition>/<uri>`; `None` when none has any.
fn master(recorded: &[Recorded], from_ms: i64, to_ms: i64, uri: &str) -> Option<String> {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let mut any = false;
    for r in recorded {
        let index = r.archive.index.read().unwrap_or_else(|p| p.into_inner());
        let (peak, average) = measure(&index, from_ms, to_ms)
            .unwrap_or((u64::from(r.kbps) * 1200, u64::from(r.kbps) * 1000));
        if index.range(from_ms, to_ms).next().is_none() {
            continue;
        }
        any = true;
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average}"
        );
        if let Some((w, h)) = r.resolution {
            let _ = write!(out, ",RESOLUTION={w}x{h}");
        }
        let _ = writeln!(out, "\n{}/{uri}", r.name);
    }
    any.then_some(out)
}

/// Peak and average bits per second of the newest segments in `[from_ms, to_ms)`.
fn measure(index: &Index, from_ms: i64, to_ms: i64) -> Option<(u64, u64)> {
    let entries = index.entries();
    // The newest segments of the span, found by binary search like a slice.
    let end = entries.partition_point(|e| e.start_ms < to_ms);
    let begin = entries
        .partition_point(|e| e.end_ms() <= from_ms)
        .max(end.saturating_sub(MEASURED));
    let (mut peak, mut bytes, mut ms) = (0u64, 0u64, 0u64);
    for e in entries.range(begin..end) {
        let d = u64::from(e.duration_ms.max(1));
        peak = peak.max(e.bytes * 8000 / d);
        bytes += e.bytes;
        ms += d;
    }
    (ms > 0).then(|| (peak, bytes * 8000 / ms))
}

/// The longest slice a request may ask for.
const MAX_SLICE_SECS: i64 = 24 * 3600;

/// A slice's span in unix seconds, or the 400 that says what is wrong with the query.
fn span(query: &str) -> Result<(i64, Option<i64>), Refused> {
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
    Ok((start, end))
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
    let (start, end) = match span(query) {
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
    let to_ms = end.map_or(i64::MAX, |e| e.saturating_mul(1000));
    let uri = match end {
        Some(end) => format!("index.m3u8?start={start}&end={end}"),
        None => format!("index.m3u8?start={start}"),
    };
    if let Some(text) = master(&recorded, start.saturating_mul(1000), to_ms, &uri) {
        return playlist_response(text);
    }
    match existing(&dvr, &s, &s.slug).map_err(unreadable) {
        Ok(Some(archive)) => slice_of(&archive, start, end),
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
    let (start, end) = match span(query) {
        Ok(span) => span,
        Err(res) => return res.into_response(),
    };
    let (s, dvr) = match service(state, slug).await {
        Ok(found) => found,
        Err(res) => return res.into_response(),
    };
    match existing(&dvr, &s, &format!("{}/{rendition}", s.slug)).map_err(unreadable) {
        Ok(Some(archive)) => slice_of(&archive, start, end),
        Ok(None) => outside(),
        Err(res) => res.into_response(),
    }
}

fn slice_of(archive: &Archive, start: i64, end: Option<i64>) -> Response {
    let now = chrono::Utc::now().timestamp();
    let text = {
        let index = archive.index.read().unwrap_or_else(|p| p.into_inner());
        let to_ms = end.map_or(i64::MAX, |e| e.saturating_mul(1000));
        let entries: Vec<&Entry> = index.range(start.saturating_mul(1000), to_ms).collect();
        if entries.is_empty() {
            return outside();
        }
        let ended = end.is_some_and(|e| e <= now) || !archive.is_recording();
        render(&entries, ended)
    };
    playlist_response(text)
}

fn playlist_response(text: impl Into<Body>) -> Response {
    let mut res = text.into().into_response();
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
    if let Some(text) = master(&recorded, i64::MIN, i64::MAX, "dvr.m3u8") {
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

/// An archive's whole-window playlist as last rendered, plain and gzipped.
struct Rendered {
    /// What it was rendered from: first and last seq, segments, recording.
    key: (u64, u64, usize, bool),
    plain: Bytes,
    gz: Bytes,
}

/// Whole-window playlists by archive folder, rendered once per change of the archive:
/// players reload them every segment, and a 24-hour window is 4 MB of text (11 ms to
/// render, about 10× smaller gzipped).
static WHOLE: LazyLock<Mutex<HashMap<PathBuf, Arc<Rendered>>>> = LazyLock::new(Default::default);

fn whole(archive: &Archive, headers: &HeaderMap) -> Response {
    let dir = archive.dir();
    let (key, text) = {
        let index = archive.index.read().unwrap_or_else(|p| p.into_inner());
        let entries = index.entries();
        let (Some(first), Some(last)) = (entries.front(), entries.back()) else {
            return nothing_recorded();
        };
        let key = (first.seq, last.seq, entries.len(), archive.is_recording());
        let cached = WHOLE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&dir)
            .filter(|r| r.key == key)
            .cloned();
        match cached {
            Some(r) => (key, Err(r)),
            None => {
                let all: Vec<&Entry> = entries.iter().collect();
                (key, Ok(render(&all, !key.3)))
            }
        }
    };
    let rendered = match text {
        Err(r) => r,
        Ok(text) => {
            let gz = crate::http::hls::gzip(text.as_bytes());
            let r = Arc::new(Rendered {
                key,
                plain: Bytes::from(text),
                gz,
            });
            WHOLE
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(dir, Arc::clone(&r));
            r
        }
    };
    let wants_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(crate::http::hls::accepts_gzip);
    let body = if wants_gzip {
        rendered.gz.clone()
    } else {
        rendered.plain.clone()
    };
    let mut res = playlist_response(body);
    let h = res.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if wants_gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    res
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

/// Whether the index names `file`: segments are `<seq>-<start ms>.<ext>` and init segments
/// `init-<seq>.mp4`, so the seq finds its entry by binary search (a 24-hour archive answers
/// as fast as a minute's). Never a path the request makes up.
fn indexed(index: &Index, file: &str) -> bool {
    let entries = index.entries();
    let find = |seq: u64| {
        let at = entries.partition_point(|e| e.seq < seq);
        entries.get(at)
    };
    if let Some(seq) = file
        .strip_prefix("init-")
        .and_then(|r| r.strip_suffix(".mp4"))
        .and_then(|n| n.parse::<u64>().ok())
    {
        // Its first segment, or (that one trimmed) the oldest segment still using it.
        return [find(seq), entries.front()]
            .into_iter()
            .flatten()
            .any(|e| e.init.as_deref() == Some(file));
    }
    file.split_once('-')
        .and_then(|(seq, _)| seq.parse::<u64>().ok())
        .and_then(find)
        .is_some_and(|e| e.file == file)
}

async fn serve_file(archive: &Archive, file: &str) -> Response {
    let known = indexed(
        &archive.index.read().unwrap_or_else(|p| p.into_inner()),
        file,
    );
    if !known {
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
        Err(_) => no_segment(),
    }
}
