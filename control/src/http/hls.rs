//! HLS delivery on the HTTP port: `/hls/<slug>/index.m3u8` and its segments, served from
//! the engine's in-memory live window as prepared bytes.
//!
//! Segments are immutable (their names are never reused), so they are cacheable forever;
//! playlists change with every segment and are cached for about one. Everything carries
//! CORS headers, because players are embedded on customers' own sites.
//!
//! Each playlist request is a viewer's heartbeat (see `tidecast_engine::hls::viewers`); the
//! bytes of every response are counted to its session. HEAD requests never count.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use tidecast_engine::hls::live::LiveStream;
use tidecast_engine::hls::uri::{DVR_PLAYLIST, LiveItem, LiveName, MEDIA_PLAYLIST};
use tidecast_engine::hls::viewers::ViewerKey;

use crate::app::AppState;
use crate::headers::{ANY_ORIGIN, NO_CACHE, set_encoding, set_fixed, wants_gzip};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/hls/{slug}/{file}",
            get(serve).head(serve).options(preflight),
        )
        .route(
            "/hls/{slug}/{rendition}/{file}",
            get(serve_rendition)
                .head(serve_rendition)
                .options(preflight),
        )
}

fn cors(h: &mut HeaderMap) {
    let expose = (
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        "Content-Length, Content-Range, ETag",
    );
    set_fixed(h, &[ANY_ORIGIN, expose]);
}

async fn preflight() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    cors(h);
    set_fixed(
        h,
        &[
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "Range, If-None-Match"),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
    );
    res
}

fn not_found(what: &str) -> Response {
    let mut res = (StatusCode::NOT_FOUND, format!("{what}\n")).into_response();
    cors(res.headers_mut());
    set_fixed(res.headers_mut(), &[NO_CACHE]);
    res
}

/// The `session` token a player URL may carry (`index.m3u8?session=…`): letters, digits,
/// `-`, `_` and `.` only (it is written back into master playlists).
fn session_token(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("session="))
        .filter(|t| {
            !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
}

/// A master playlist whose variant URIs carry `?session=<token>`.
fn with_session(master: &[u8], token: &str) -> Bytes {
    let text = String::from_utf8_lossy(master);
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        out.push_str(line);
        if !line.is_empty() && !line.starts_with('#') {
            out.push_str("?session=");
            out.push_str(token);
        }
        out.push('\n');
    }
    Bytes::from(out)
}

fn sent_bytes(res: &Response) -> u64 {
    res.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0)
}

/// `/hls/<slug>/<file>`: the service's playlist (a master playlist when it has
/// renditions) and, without renditions, its segments.
async fn serve(
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: Method,
    Path((slug, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    req_headers: HeaderMap,
) -> Response {
    // `index.m3u8?start=&end=`: a slice of the DVR archive, live or not.
    if file == MEDIA_PLAYLIST
        && let Some(q) = query.as_deref()
        && url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "start" || k == "end")
    {
        return crate::http::dvr_hls::slice(&state, &slug, q).await;
    }
    // An on-demand relay starts on the first ask: its first segment is waited for.
    let relayed = state.engine.demand().touch(&slug);
    let stream = match state.engine.hls().get(&slug) {
        Some(s) => s,
        None if relayed => match wait_for_stream(&state.engine, &slug).await {
            Some(s) => s,
            None => return not_found("the relayed source did not start in time; try again"),
        },
        None => return not_found("no such stream, or it is not live"),
    };
    let request = Request {
        remote,
        method,
        slug,
        file,
        query,
        headers: req_headers,
    };
    serve_from(&state.engine, &stream, Arc::clone(&stream), request).await
}

/// How long a request waits for an on-demand relay to have its first segment.
const ON_DEMAND_WAIT: Duration = Duration::from_secs(20);

/// The stream `slug` once it has a segment, within [`ON_DEMAND_WAIT`].
async fn wait_for_stream(engine: &tidecast_engine::Engine, slug: &str) -> Option<Arc<LiveStream>> {
    let deadline = tokio::time::Instant::now() + ON_DEMAND_WAIT;
    loop {
        if let Some(s) = engine.hls().get(slug).filter(|s| s.has_segments()) {
            return Some(s);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `/hls/<slug>/<rendition>/<file>`: a rendition's playlist and segments. Viewers are
/// counted on the service's stream, whichever rendition their player is on.
async fn serve_rendition(
    State(state): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: Method,
    Path((slug, rendition, file)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    req_headers: HeaderMap,
) -> Response {
    // The rendition's DVR window, or a slice of its archive.
    if file == DVR_PLAYLIST {
        return crate::http::dvr_hls::rendition_playlist(&state, &slug, &rendition, &req_headers)
            .await;
    }
    if file == MEDIA_PLAYLIST
        && let Some(q) = query.as_deref()
        && url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "start" || k == "end")
    {
        return crate::http::dvr_hls::rendition_slice(&state, &slug, &rendition, q).await;
    }
    state.engine.demand().touch(&slug);
    let hls = state.engine.hls();
    let (Some(base), Some(stream)) = (hls.get(&slug), hls.get(&format!("{slug}/{rendition}")))
    else {
        return not_found("no such stream or rendition, or it is not live");
    };
    let request = Request {
        remote,
        method,
        slug,
        file,
        query,
        headers: req_headers,
    };
    serve_from(&state.engine, &base, stream, request).await
}

/// What a request to a stream carries.
struct Request {
    remote: SocketAddr,
    method: Method,
    slug: String,
    file: String,
    query: Option<String>,
    headers: HeaderMap,
}

/// Answers `req` from `stream`; viewers and limits are those of `base`, the service's stream.
async fn serve_from(
    engine: &tidecast_engine::Engine,
    base: &LiveStream,
    stream: Arc<LiveStream>,
    req: Request,
) -> Response {
    let Request {
        remote,
        method,
        slug,
        file,
        query,
        headers: req_headers,
    } = req;
    let agent = req_headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|a| a.chars().take(256).collect::<String>());
    let counts = method == Method::GET;
    if file == MEDIA_PLAYLIST {
        // LL-HLS blocking reload: answer once the segment (or part) asked for exists.
        if let Some(msn) = query_num(query.as_deref(), "_HLS_msn") {
            let part = query_num(query.as_deref(), "_HLS_part").and_then(|p| u32::try_from(p).ok());
            if msn > stream.next_msn() + 2 {
                let mut res = (
                    StatusCode::BAD_REQUEST,
                    "_HLS_msn is too far ahead of the live edge\n",
                )
                    .into_response();
                cors(res.headers_mut());
                return res;
            }
            let wait = Duration::from_secs(3 * u64::from(stream.target_secs()));
            wait_for(&stream, msn, part, wait).await;
        }
        let (mut plain, mut etag, mut gz) = stream.playlist_encoded(gzip);
        if plain.is_empty() {
            // Published, but the first segment is not complete yet.
            return not_found("the stream is starting; try again in a few seconds");
        }
        // A player's session token follows it from the master playlist to the rendition
        // playlists it picks, so the viewer is one session whatever it plays.
        let token = session_token(query.as_deref());
        if let Some(t) = token.as_deref().filter(|_| stream.is_master()) {
            plain = with_session(&plain, t);
            gz = gzip(&plain);
            etag = format!("{}-{t}\"", etag.trim_end_matches('"'));
        }
        let wants_gzip = wants_gzip(&req_headers);
        // Each encoding is its own representation, with its own validator.
        let etag = if wants_gzip {
            format!("{}-gz\"", etag.trim_end_matches('"'))
        } else {
            etag
        };
        let mut res = respond(
            &req_headers,
            if wants_gzip { gz } else { plain },
            "application/vnd.apple.mpegurl",
            "public, max-age=1",
            &etag,
            false,
        );
        set_encoding(res.headers_mut(), wants_gzip);
        if counts {
            let key = ViewerKey {
                ip: remote.ip(),
                user_agent: agent,
                token,
            };
            let max = base.limits().max_listeners as usize;
            if let Err(full) = base.viewers.playlist(key, sent_bytes(&res), max) {
                tracing::info!(%remote, stream = %slug, "viewer refused: {full}");
                if let tidecast_engine::hls::viewers::Full::Stream(limit) = full {
                    engine
                        .events()
                        .mount_event(tidecast_engine::events::MountEvent::Full {
                            service_id: base.service_id(),
                            mount: base.slug().to_owned(),
                            limit,
                            at: std::time::SystemTime::now(),
                        });
                }
                let mut res = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{full}; try again later\n"),
                )
                    .into_response();
                cors(res.headers_mut());
                set_fixed(res.headers_mut(), &[(header::RETRY_AFTER, "10")]);
                return res;
            }
            // Counted once the viewer is let in (a refusal sends nothing of the stream).
            engine.traffic().add(base.service_id(), sent_bytes(&res));
        }
        return res;
    }
    let mut found = stream.segment_by_name(&file);
    // A part named by the playlist's preload hint is answered as soon as it is finished.
    if found.is_none()
        && let Some(pt) = stream.part_target()
        && let Some(LiveName {
            item: LiveItem::Part { msn, index },
            ..
        }) = LiveName::parse(&file)
        && msn <= stream.next_msn() + 1
    {
        wait_for(&stream, msn, Some(index), Duration::from_secs_f64(pt * 6.0)).await;
        found = stream.segment_by_name(&file);
    }
    match found {
        Some(data) => {
            let etag = format!("\"{file}\"");
            let content_type = if file.ends_with(".ts") {
                "video/mp2t"
            } else {
                "video/mp4"
            };
            let res = respond(
                &req_headers,
                data,
                content_type,
                "public, max-age=31536000, immutable",
                &etag,
                true,
            );
            if counts {
                engine.traffic().add(base.service_id(), sent_bytes(&res));
                base.viewers
                    .segment(remote.ip(), agent.as_deref(), sent_bytes(&res));
            }
            res
        }
        None => not_found("no such segment (it may have left the live window)"),
    }
}

/// A 200, a 304 for a matching `If-None-Match`, or a 206 for a single byte range.
fn respond(
    req: &HeaderMap,
    body: Bytes,
    content_type: &'static str,
    cache: &'static str,
    etag: &str,
    ranges: bool,
) -> Response {
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, cache)
        .header(header::ETAG, etag);
    if ranges {
        builder = builder.header(header::ACCEPT_RANGES, "bytes");
    }
    let not_modified = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let res = if not_modified {
        builder.status(StatusCode::NOT_MODIFIED).body(Body::empty())
    } else {
        match req
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .filter(|_| ranges)
        {
            None => builder
                .header(header::CONTENT_LENGTH, body.len())
                .body(Body::from(body)),
            Some(spec) => match byte_range(spec, body.len()) {
                Some((start, end)) => builder
                    .status(StatusCode::PARTIAL_CONTENT)
                    .header(
                        header::CONTENT_RANGE,
                        format!("bytes {start}-{end}/{}", body.len()),
                    )
                    .header(header::CONTENT_LENGTH, end - start + 1)
                    .body(Body::from(body.slice(start..=end))),
                None => builder
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{}", body.len()))
                    .body(Body::empty()),
            },
        }
    };
    let mut res = res.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    cors(res.headers_mut());
    res
}

/// A numeric query parameter.
fn query_num(query: Option<&str>, name: &str) -> Option<u64> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// Waits (at most `limit`) until `stream` has segment `msn`, or its part `part`.
async fn wait_for(stream: &LiveStream, msn: u64, part: Option<u32>, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    let mut changes = stream.watch();
    while !stream.has(msn, part) {
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            // Timed out (the player gets the playlist as it stands), or the stream is gone.
            _ => break,
        }
    }
}

/// Playlists compress to about half; done once per playlist version (see
/// `LiveStream::playlist_encoded`), never per request.
pub(crate) fn gzip(data: &[u8]) -> Bytes {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    Bytes::from(enc.finish().unwrap_or_default())
}

/// A single `bytes=` range (`a-b`, `a-`, `-n`) within `len`, as inclusive offsets.
fn byte_range(spec: &str, len: usize) -> Option<(usize, usize)> {
    let spec = spec.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: usize = b.parse().ok()?;
        if n == 0 {
            return None;
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: usize = a.parse().ok()?;
        let end = if b.is_empty() {
            len - 1
        } else {
            b.parse::<usize>().ok()?.min(len - 1)
        };
        (start, end)
    };
    (start <= end && start < len).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(byte_range("bytes=900-", 1000), Some((900, 999)));
        assert_eq!(byte_range("bytes=-100", 1000), Some((900, 999)));
        assert_eq!(byte_range("bytes=990-2000", 1000), Some((990, 999)));
        assert_eq!(byte_range("bytes=1000-", 1000), None);
        assert_eq!(byte_range("bytes=5-1", 1000), None);
        assert_eq!(byte_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(byte_range("items=0-1", 1000), None);
    }
}
