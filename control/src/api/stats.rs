//! Live figures: `GET /api/v1/services/{id}/stats` for the owner, and the public
//! `GET /api/v1/public/{slug}/nowplaying` that station websites poll.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tidecast_engine::mount::MountStatus;
use tidecast_engine::{ServiceId, SessionRole};

use crate::auth::Caller;
use crate::db::history::{self, Play};
use crate::db::{media, now, services};

use super::error::{ApiError, ApiResult};
use super::extract::PathId;
use crate::app::AppState;
use crate::domain::access::visible_service;
use crate::headers::{ANY_ORIGIN, set_fixed};
use crate::time::{rfc3339, unix};

#[derive(Debug, Serialize)]
struct SourceView {
    /// Who is on air: `source` (the service's own login) or `DJ <name>`.
    dj: String,
    name: Option<String>,
    content_type: String,
    bitrate_kbps: Option<u32>,
    since: String,
}

#[derive(Debug, Serialize)]
struct MountView {
    mount: String,
    live: bool,
    listeners: usize,
    peak_listeners: usize,
    title: String,
    /// Seconds the live source on air has been silent, if it is now.
    silent_for_s: Option<u64>,
    /// Dead air found on this mount (silence past the threshold).
    dead_air_events: u64,
}

/// A video service's publisher, as measured.
#[derive(Debug, Serialize)]
struct VideoSourceView {
    /// `rtmp` (pushed) or `relay` (pulled from a URL).
    protocol: &'static str,
    video: Option<VideoTrackView>,
    audio: Option<AudioTrackView>,
    /// Measured over the live window's segments.
    bitrate_kbps: Option<u32>,
    since: String,
    uptime_s: i64,
}

#[derive(Debug, Serialize)]
struct VideoTrackView {
    codec: String,
    width: u32,
    height: u32,
    frame_rate: Option<f64>,
}

#[derive(Debug, Serialize)]
struct AudioTrackView {
    codec: String,
    sample_rate: u32,
    channels: u8,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum AnySource {
    Radio(SourceView),
    Video(VideoSourceView),
}

#[derive(Debug, Serialize)]
pub struct StatsView {
    live: bool,
    source: Option<AnySource>,
    listeners: usize,
    peak_listeners: usize,
    now_playing: Option<String>,
    mounts: Vec<MountView>,
    /// Listener sessions that ended in the last 24 hours.
    sessions_24h: i64,
    listener_hours_24h: f64,
    bytes_sent_24h: i64,
    /// Video with a running ladder: the transcoder's figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    transcode: Option<TranscodeStats>,
    /// Radio with AutoDJ running: what it plays, silence and dead air it found.
    #[serde(skip_serializing_if = "Option::is_none")]
    autodj: Option<super::autodj::AutoDjView>,
    /// Its publish targets (restreams) running now.
    targets: Vec<LinkView>,
    /// Its relay, if it has one running.
    #[serde(skip_serializing_if = "Option::is_none")]
    relay: Option<LinkView>,
    /// Stored settings that cannot be read (and so are not in effect until set again).
    problems: Vec<String>,
}

/// A restream target or relay as it runs.
#[derive(Debug, Serialize)]
struct LinkView {
    id: i64,
    /// waiting, connecting, live or retrying.
    state: &'static str,
    kbps: Option<u32>,
    last_error: Option<String>,
}

fn link(id: i64, st: tidecast_engine::targets::Status) -> LinkView {
    LinkView {
        id,
        state: st.state.as_str(),
        kbps: st.kbps(),
        last_error: st.last_error,
    }
}

/// The service's running targets and relay.
fn links(state: &AppState, id: i64) -> (Vec<LinkView>, Option<LinkView>) {
    let targets = state
        .engine
        .targets()
        .all()
        .into_iter()
        .filter(|(_, s, _)| s.0 == id)
        .map(|(tid, _, st)| link(tid, st))
        .collect();
    let relay = state.engine.relays().status(id).map(|st| link(id, st));
    (targets, relay)
}

/// A running ladder's figures, averaged since it started.
#[derive(Debug, Serialize)]
struct TranscodeStats {
    input_fps: f64,
    /// Source seconds handled per second of the busiest stage's work: above 1 keeps up.
    speed: f64,
    dropped_input_frames: u64,
    restarts: u64,
    renditions: Vec<RenditionStatsView>,
}

#[derive(Debug, Serialize)]
struct RenditionStatsView {
    name: String,
    output_fps: f64,
    bitrate_kbps: Option<u32>,
    dropped_frames: u64,
}

fn transcode_stats(
    state: &AppState,
    slug: &str,
    report: &tidecast_engine::transcode::LadderReport,
) -> TranscodeStats {
    use std::sync::atomic::Ordering::Relaxed;
    let secs = report.running_secs();
    let st = &report.stats;
    let round = |x: f64| (x * 100.0).round() / 100.0;
    TranscodeStats {
        input_fps: round(report.input_fps()),
        speed: round(report.speed()),
        dropped_input_frames: st.dropped_in.load(Relaxed),
        restarts: st.restarts.load(Relaxed),
        renditions: report
            .renditions
            .iter()
            .map(|(name, r)| RenditionStatsView {
                name: name.clone(),
                output_fps: round(r.frames_out.load(Relaxed) as f64 / secs),
                bitrate_kbps: state
                    .engine
                    .hls()
                    .get(&format!("{slug}/{name}"))
                    .and_then(|s| s.recent_bitrate_kbps()),
                dropped_frames: r.dropped.load(Relaxed),
            })
            .collect(),
    }
}

fn mounts(state: &AppState, id: i64) -> Vec<MountStatus> {
    state
        .engine
        .mounts()
        .for_service(ServiceId(id))
        .iter()
        .map(|m| m.status())
        .collect()
}

/// The primary mount (named like the service) if live, else any live one.
fn primary<'a>(all: &'a [MountStatus], slug: &str) -> Option<&'a MountStatus> {
    all.iter()
        .filter(|m| m.on_air.is_some())
        .find(|m| m.name == slug)
        .or_else(|| all.iter().find(|m| m.on_air.is_some()))
}

pub async fn service(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<StatsView>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let totals = history::session_totals(&state.db, id, now() - 86_400).await?;
    let (targets, relay) = links(&state, id);
    if service.kind == crate::model::Kind::Video {
        let mut v = video_stats(&state, &service.slug, totals);
        // A relayed source says so.
        if let (Some(AnySource::Video(src)), Some(r)) = (v.source.as_mut(), &relay)
            && r.state == "live"
        {
            src.protocol = "relay";
        }
        v.targets = targets;
        v.relay = relay;
        v.problems = service.problems();
        return Ok(Json(v));
    }
    let all = mounts(&state, id);
    let main = primary(&all, &service.slug);
    // The station's HLS (an AAC ladder), if it runs: its listeners count too.
    let hls = state.engine.hls().get(&service.slug);
    let hls_listeners = hls.as_ref().map_or(0, |s| s.viewers.count());
    let hls_peak = hls.as_ref().map_or(0, |s| s.viewers.peak());
    let ladder = hls.as_ref().and_then(|s| s.ladder());
    Ok(Json(StatsView {
        live: main.is_some(),
        source: main.map(|m| {
            AnySource::Radio(SourceView {
                dj: m.on_air.clone().unwrap_or_default(),
                name: m.info.name.clone(),
                content_type: m.info.content_type.clone(),
                bitrate_kbps: m.info.bitrate_kbps,
                since: rfc3339(unix(m.stream_start)),
            })
        }),
        listeners: all.iter().map(|m| m.listeners).sum::<usize>() + hls_listeners,
        peak_listeners: all.iter().map(|m| m.peak).sum::<usize>() + hls_peak,
        now_playing: main.map(|m| m.title.clone()).filter(|t| !t.is_empty()),
        mounts: all
            .iter()
            .map(|m| MountView {
                mount: format!("/{}", m.name),
                live: m.on_air.is_some(),
                listeners: m.listeners,
                peak_listeners: m.peak,
                title: m.title.clone(),
                silent_for_s: m
                    .silent_since
                    .and_then(|t| t.elapsed().ok())
                    .map(|d| d.as_secs()),
                dead_air_events: m.dead_air_events,
            })
            .collect(),
        sessions_24h: totals.sessions,
        listener_hours_24h: totals.duration_ms as f64 / 3_600_000.0,
        bytes_sent_24h: totals.bytes,
        transcode: ladder.map(|l| transcode_stats(&state, &service.slug, &l)),
        autodj: state
            .engine
            .autodj()
            .is_running(ServiceId(service.id))
            .then(|| super::autodj::view(&state, &service)),
        targets,
        relay,
        problems: service.problems(),
    }))
}

/// A video service: its HLS stream's publisher and viewers.
fn video_stats(state: &AppState, slug: &str, totals: history::SessionTotals) -> StatsView {
    use std::sync::atomic::Ordering::Relaxed;
    use tidecast_engine::media::AudioConfig;
    let stream = state.engine.hls().get(slug);
    let ladder = stream.as_ref().and_then(|s| s.ladder());
    // With a ladder the service's own stream has no segments to measure: the source's
    // bitrate is what it offered the ladder over the source time decoded.
    let measured = stream
        .as_ref()
        .and_then(|s| s.recent_bitrate_kbps())
        .or_else(|| {
            let l = ladder.as_ref()?;
            let secs = l.stats.media_time.load(Relaxed) as f64 / 90_000.0;
            (secs > 1.0)
                .then(|| (l.stats.bytes_in.load(Relaxed) as f64 * 8.0 / secs / 1000.0) as u32)
        });
    let source = stream.as_ref().and_then(|s| s.source()).map(|src| {
        let since = unix(src.since);
        VideoSourceView {
            protocol: "rtmp",
            video: src.config.video.as_ref().map(|v| VideoTrackView {
                codec: v.codec_string.clone(),
                width: v.width,
                height: v.height,
                frame_rate: v.fps.map(|f| (f * 1000.0).round() / 1000.0),
            }),
            audio: src.config.audio.as_ref().map(|a| AudioTrackView {
                codec: a.codec_string(),
                sample_rate: a.sample_rate(),
                channels: match a {
                    AudioConfig::Aac(c) => c.channels,
                    AudioConfig::Mp3 { channels, .. } => *channels,
                },
            }),
            bitrate_kbps: measured,
            since: rfc3339(since),
            uptime_s: (now() - since).max(0),
        }
    });
    StatsView {
        live: source.is_some(),
        source: source.map(AnySource::Video),
        listeners: stream.as_ref().map_or(0, |s| s.viewers.count()),
        peak_listeners: stream.as_ref().map_or(0, |s| s.viewers.peak()),
        now_playing: None,
        mounts: Vec::new(),
        sessions_24h: totals.sessions,
        listener_hours_24h: totals.duration_ms as f64 / 3_600_000.0,
        bytes_sent_24h: totals.bytes,
        transcode: ladder.map(|l| transcode_stats(state, slug, &l)),
        autodj: None,
        targets: Vec::new(),
        relay: None,
        problems: Vec::new(),
    }
}

#[derive(Debug, Serialize)]
struct Station {
    name: String,
    slug: String,
    kind: crate::model::Kind,
    listen_url: Option<String>,
    hls_url: String,
    player_url: String,
}

#[derive(Debug, Serialize)]
struct NowPlaying {
    /// As listeners see it (ICY): `Artist - Title`.
    title: String,
    /// When it started (not shown for what plays next).
    #[serde(skip_serializing_if = "String::is_empty")]
    since: String,
    /// The track's own fields, when AutoDJ plays it from the library.
    #[serde(skip_serializing_if = "Option::is_none")]
    track: Option<super::autodj::TrackView>,
    /// The track's cover art, when it has one (`/api/v1/public/<slug>/cover?m=<media id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    cover: Option<String>,
}

#[derive(Debug, Serialize)]
struct PlayView {
    title: String,
    dj: Option<String>,
    played_at: String,
}

impl From<Play> for PlayView {
    fn from(p: Play) -> Self {
        Self {
            title: p.title,
            dj: p.dj,
            played_at: rfc3339(p.started_at),
        }
    }
}

#[derive(Debug, Serialize)]
struct PublicView {
    station: Station,
    live: bool,
    live_dj: Option<String>,
    now_playing: Option<NowPlaying>,
    /// What plays next (AutoDJ); `null` while a live source decides.
    next: Option<NowPlaying>,
    history: Vec<PlayView>,
    listeners: usize,
}

/// No login: what a station's own website shows. Only public facts, never credentials.
pub async fn nowplaying(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Response {
    match public(&state, &headers, &slug).await {
        Ok(view) => {
            let mut resp = Json(view).into_response();
            // Station websites on other origins poll this.
            let cache = (header::CACHE_CONTROL, "public, max-age=5");
            set_fixed(resp.headers_mut(), &[ANY_ORIGIN, cache]);
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn public(state: &AppState, headers: &HeaderMap, slug: &str) -> ApiResult<PublicView> {
    let service = services::by_slug(&state.db, slug)
        .await?
        .ok_or_else(|| ApiError::not_found("station"))?;
    let all = if service.is_suspended() {
        Vec::new()
    } else {
        mounts(state, service.id)
    };
    let main = primary(&all, &service.slug);
    let mut history: Vec<PlayView> = history::recent_titles(&state.db, service.id, 11)
        .await?
        .into_iter()
        .map(PlayView::from)
        .collect();
    // The newest row is what plays now, if that mount is still live with that title.
    let now_playing = main.filter(|m| !m.title.is_empty()).map(|m| {
        let since = history
            .first()
            .filter(|p| p.title == m.title)
            .map(|p| p.played_at.clone());
        NowPlaying {
            title: m.title.clone(),
            since: since.unwrap_or_else(|| rfc3339(unix(m.stream_start))),
            track: None,
            cover: None,
        }
    });
    // While AutoDJ is on air it knows the track behind the title, and what comes next.
    let autodj = state
        .engine
        .autodj()
        .status(ServiceId(service.id))
        .filter(|s| s.on_air && main.is_some());
    let mut now_playing = now_playing;
    let mut next = None;
    if let Some(st) = &autodj {
        if let (Some(np), Some(t)) = (now_playing.as_mut(), st.now.as_ref())
            && np.title == t.display()
        {
            np.track = Some(t.into());
        }
        next = st.next.as_ref().map(|t| NowPlaying {
            title: t.display(),
            since: String::new(),
            track: Some(t.into()),
            cover: None,
        });
    }
    if now_playing.is_some() && !history.is_empty() {
        history.remove(0);
    }
    history.truncate(10);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let base = state.links.http_base(host);
    let listen_host = state.links.host(host);
    for np in now_playing.iter_mut().chain(next.iter_mut()) {
        if let Some(t) = &np.track
            && media::by_id(&state.db, service.owner_id, t.media_id)
                .await?
                .is_some_and(|m| m.cover_path.is_some())
        {
            np.cover = Some(format!(
                "{base}/api/v1/public/{}/cover?m={}",
                service.slug, t.media_id
            ));
        }
    }
    // A channel is live while its publisher is; a station while a mount has a source.
    let live = if service.kind == crate::model::Kind::Video {
        !service.is_suspended()
            && state
                .engine
                .registry()
                .count(ServiceId(service.id), SessionRole::Source)
                > 0
    } else {
        main.is_some()
    };
    Ok(PublicView {
        station: Station {
            name: service.name.clone(),
            slug: service.slug.clone(),
            kind: service.kind,
            listen_url: (service.is_radio()).then(|| {
                format!(
                    "http://{listen_host}:{}/{}",
                    state.links.icecast_port, service.slug
                )
            }),
            hls_url: format!("{base}/hls/{}/index.m3u8", service.slug),
            player_url: format!("{base}/player/{}", service.slug),
        },
        live,
        // AutoDJ is not a live DJ.
        live_dj: main
            .and_then(|m| m.on_air.clone())
            .filter(|_| autodj.is_none()),
        now_playing,
        next,
        history,
        listeners: all.iter().map(|m| m.listeners).sum(),
    })
}

/// `GET /api/v1/public/<slug>/cover?m=<media id>`: the cover art of what plays now or next
/// on a station, for players and station websites. Only those two tracks: the rest of a
/// customer's library stays private.
pub async fn public_cover(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> ApiResult<Response> {
    let m = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("m="))
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| ApiError::invalid("add ?m=<media id> of the track playing now"))?;
    let service = services::by_slug(&state.db, &slug)
        .await?
        .ok_or_else(|| ApiError::not_found("station"))?;
    let status = state.engine.autodj().status(ServiceId(service.id));
    let current = status
        .iter()
        .any(|st| st.now.iter().chain(st.next.iter()).any(|t| t.media_id == m));
    if !current {
        return Err(ApiError::not_found("cover art of a track playing now"));
    }
    let path = media::by_id(&state.db, service.owner_id, m)
        .await?
        .and_then(|m| m.cover_path)
        .ok_or_else(|| ApiError::not_found("cover art"))?;
    let mut resp = super::media::cover_file(&state, &path).await?;
    // The URL names the track, so the picture behind it never changes.
    let cache = (header::CACHE_CONTROL, "public, max-age=3600");
    set_fixed(resp.headers_mut(), &[cache, ANY_ORIGIN]);
    Ok(resp)
}
