//! `/api/v1/services/{id}/targets`: where a station's stream is sent on to (restreaming).
//!
//! `POST {"kind":"icecast","url":"icecast://user:pass@host:port/mount"}` adds a target,
//! `GET` lists them with what each is doing (waiting, connecting, live with its bitrate,
//! retrying with the last error), `DELETE …/targets/{tid}` removes one. The password never
//! comes back. The address must be one the server may reach (`outbound`), checked here
//! and at every connect.
//!
//! What runs follows the database: [`reconcile`] starts the targets that should run and
//! stops the ones whose row is gone (deleted, or their service or owner was), at start,
//! after each change, and every few seconds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tidecast_engine::targets::icecast::{self, IcecastTarget};
use tidecast_engine::targets::radio_video;
use tidecast_engine::targets::rtmp::{self, RtmpTarget};
use tidecast_engine::targets::shoutcast::{self, ShoutcastTarget};

use crate::auth::Caller;
use crate::db::services::{Service, TargetKinds};
use crate::db::targets::{self, NewTarget, Target};
use crate::db::{audit, services};
use crate::outbound::PolicyDialer;

use super::access::visible_service;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PathId, PathIds};
use super::state::AppState;
use super::target_urls;
use super::time::unix;

/// Targets one service may have.
const MAX_PER_SERVICE: usize = 10;
const RECONCILE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TargetInput")]
pub struct Input {
    /// `rtmp` (RTMP/RTMPS: YouTube, Twitch, Facebook, any RTMP server), `icecast` or
    /// `shoutcast` (a radio station's mount sent as a source to another server).
    kind: String,
    /// `rtmp[s]://host[:port]/app`, `icecast://user:password@host:port/mount`,
    /// `shoutcast://:password@host:port[/stream id]`. May be left out with a `preset`.
    url: Option<String>,
    /// RTMP: the stream key (or give it as the URL's last path segment).
    key: Option<String>,
    /// RTMP: `youtube`, `twitch` or `facebook`: their ingest URL when `url` is left out.
    preset: Option<String>,
    /// Video: the rendition sent (a rung of the service's ladder); the source as it
    /// arrives when left out or `source`.
    rendition: Option<String>,
    /// Radio to RTMP: the picture the station is shown on.
    video: Option<VideoInput>,
}

/// A radio station sent to a video platform: a still image or a looping clip from the
/// owner's media (a dark background when left out) with the station name and the title
/// playing drawn on it, and the station's audio.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoInput {
    /// A picture or video in the owner's media library.
    media: Option<i64>,
    /// 1280x720 when left out.
    width: Option<u32>,
    height: Option<u32>,
    /// Pictures per second: 30 when left out (1 to 60).
    fps: Option<u32>,
    /// 1500 when left out (100 to 20000).
    video_kbps: Option<u32>,
}

/// A radio target's picture as stored: the settings and the background's file.
#[derive(Debug, Serialize, Deserialize)]
struct StoredVideo {
    settings: VideoInput,
    file: Option<String>,
}

fn stored_video(t: &Target) -> Option<StoredVideo> {
    serde_json::from_str(t.video_json.as_deref()?).ok()
}

#[derive(Debug, Serialize)]
pub struct View {
    id: i64,
    kind: String,
    /// The address, without the password or key.
    url: String,
    /// RTMP: the stream key, for the service's owner only.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// Video: the rendition sent (`source`: as it arrives).
    #[serde(skip_serializing_if = "Option::is_none")]
    rendition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    video: Option<VideoInput>,
    /// waiting, connecting, live, retrying, or disabled (the plan no longer allows it).
    state: &'static str,
    last_error: Option<String>,
    last_error_at: Option<i64>,
    live_since: Option<i64>,
    kbps: Option<u32>,
    bytes: u64,
    connections: u64,
}

fn view(state: &AppState, t: &Target, owner: bool, kinds: TargetKinds) -> View {
    let mut st = state.engine.targets().status(t.id).unwrap_or_default();
    let allowed = kinds.allows(&t.kind);
    if !allowed {
        st.last_error = Some(format!(
            "stopped: this service's plan no longer includes {} targets",
            t.kind
        ));
    }
    let url = match t.kind.as_str() {
        "rtmp" => format!(
            "rtmp{}://{}:{}{}",
            if t.tls != 0 { "s" } else { "" },
            t.host,
            t.port,
            t.mount
        ),
        "shoutcast" => format!("shoutcast://{}:{}{}", t.host, t.port, t.mount),
        _ => format!("icecast://{}@{}:{}{}", t.username, t.host, t.port, t.mount),
    };
    View {
        id: t.id,
        kind: t.kind.clone(),
        url,
        key: (owner && t.kind == "rtmp").then(|| t.secret.clone()),
        rendition: t.rendition.clone(),
        video: stored_video(t).map(|v| v.settings),
        state: if allowed {
            st.state.as_str()
        } else {
            "disabled"
        },
        kbps: st.kbps(),
        last_error: st.last_error,
        last_error_at: st.last_error_at.map(unix),
        live_since: st.live_since.map(unix),
        bytes: st.bytes,
        connections: st.connections,
    }
}

/// The presets for RTMP targets (their URLs are editable defaults).
pub async fn presets(_caller: Caller) -> Json<Vec<target_urls::Preset>> {
    Json(target_urls::PRESETS.to_vec())
}

/// Checks a radio station's picture settings (the media must be the owner's).
async fn video_settings(state: &AppState, owner: i64, v: VideoInput) -> ApiResult<VideoInput> {
    let r = |what: &str, v: u32, lo: u32, hi: u32| {
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(ApiError::invalid(format!(
                "video.{what} must be from {lo} to {hi}"
            )))
        }
    };
    let width = r("width", v.width.unwrap_or(1280), 160, 3840)?;
    let height = r("height", v.height.unwrap_or(720), 90, 2160)?;
    if width % 2 != 0 || height % 2 != 0 {
        return Err(ApiError::invalid(
            "video.width and video.height must be even",
        ));
    }
    if let Some(m) = v.media {
        let item = crate::db::media::by_id(&state.db, owner, m)
            .await?
            .ok_or_else(|| {
                ApiError::invalid(format!("video.media: no media {m} in this library"))
            })?;
        if !matches!(item.kind.as_str(), "image" | "video") {
            return Err(ApiError::invalid(
                "video.media must be a picture or a video",
            ));
        }
    }
    Ok(VideoInput {
        media: v.media,
        width: Some(width),
        height: Some(height),
        fps: Some(r("fps", v.fps.unwrap_or(30), 1, 60)?),
        video_kbps: Some(r("video_kbps", v.video_kbps.unwrap_or(1500), 100, 20_000)?),
    })
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<Vec<View>>> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let owner = caller.id() == service.owner_id;
    let rows = targets::of_service(&state.db, service.id).await?;
    let kinds = service.limits().restream;
    Ok(Json(
        rows.iter().map(|t| view(&state, t, owner, kinds)).collect(),
    ))
}

/// The rungs a video service's ladder has, by name.
fn rung_names(service: &Service) -> Vec<String> {
    service
        .transcode_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<super::transcode::Ladder>(j).ok())
        .map(|l| l.renditions.into_iter().map(|r| r.name).collect())
        .unwrap_or_default()
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Input>,
) -> ApiResult<(StatusCode, Json<View>)> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    let kind = body.kind.as_str();
    if !TargetKinds::NAMES.contains(&kind) {
        return Err(ApiError::invalid(format!(
            "kind: {kind:?} is not a target kind this server sends to; kinds: rtmp, icecast, shoutcast"
        )));
    }
    if !service.limits().restream.allows(kind) {
        return Err(ApiError::forbidden(format!(
            "this service's plan does not include {kind} targets"
        )));
    }
    let radio = service.kind == "radio";
    if kind != "rtmp" && !radio {
        return Err(ApiError::invalid(format!(
            "kind: {kind} targets send a radio station's mount; this is a video service (use rtmp)"
        )));
    }
    if body.preset.is_some() && kind != "rtmp" {
        return Err(ApiError::invalid("preset: presets are for rtmp targets"));
    }
    let url = match (&body.url, &body.preset) {
        (Some(u), _) => u.trim().to_owned(),
        (None, Some(p)) => target_urls::PRESETS
            .iter()
            .find(|x| x.name == p)
            .map(|x| x.url.to_owned())
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "preset: {p:?} is not one of youtube, twitch, facebook"
                ))
            })?,
        (None, None) => return Err(ApiError::invalid("url: required (or a preset for rtmp)")),
    };
    let addr = match kind {
        "rtmp" => target_urls::rtmp(&url, body.key.as_deref())?,
        "shoutcast" => target_urls::shoutcast(&url)?,
        _ => target_urls::icecast(&url)?,
    };
    if body.key.is_some() && kind != "rtmp" {
        return Err(ApiError::invalid(
            "key: only rtmp targets have a stream key (the password is in the URL)",
        ));
    }
    let rendition = match body.rendition.as_deref().map(str::trim) {
        None | Some("" | "source") => None,
        Some(_) if radio => {
            return Err(ApiError::invalid(
                "rendition: a radio station is sent as its mount is heard",
            ));
        }
        Some(r) => {
            let names = rung_names(&service);
            if !names.iter().any(|n| n == r) {
                return Err(ApiError::invalid(format!(
                    "rendition: {r:?} is not a rung of this service's ladder ({})",
                    if names.is_empty() {
                        "it has none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )));
            }
            Some(r.to_owned())
        }
    };
    let video = match (body.video, radio && kind == "rtmp") {
        (v, true) => Some(video_settings(&state, service.owner_id, v.unwrap_or_default()).await?),
        (Some(_), false) => {
            return Err(ApiError::invalid(
                "video: only a radio station sent to an rtmp target is drawn as video",
            ));
        }
        (None, false) => None,
    };
    if radio && kind == "rtmp" && state.engine.transcoder().is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "this server runs without a transcoder: a radio station cannot be sent as video",
        ));
    }
    state
        .outbound
        .resolve_host(addr.host.clone(), addr.port)
        .await
        .map_err(|e| ApiError::invalid(format!("url: {e}")))?;
    if targets::of_service(&state.db, service.id).await?.len() >= MAX_PER_SERVICE {
        return Err(ApiError::invalid(format!(
            "a service has at most {MAX_PER_SERVICE} targets"
        )));
    }
    let video_json = match video {
        Some(settings) => {
            let file = match settings.media {
                Some(m) => crate::db::media::by_id(&state.db, service.owner_id, m)
                    .await?
                    .map(|item| state.data_dir.join(&item.path).display().to_string()),
                None => None,
            };
            Some(serde_json::to_string(&StoredVideo { settings, file }).unwrap_or_default())
        }
        None => None,
    };
    let tid = targets::insert(
        &state.db,
        service.id,
        &NewTarget {
            kind,
            host: &addr.host,
            port: i64::from(addr.port),
            mount: &addr.mount,
            username: &addr.user,
            secret: &addr.secret,
            tls: addr.tls,
            rendition: rendition.as_deref(),
            video_json: video_json.as_deref(),
        },
    )
    .await?;
    // The address only: never the password or key.
    audit(
        state.db.pool(),
        Some(caller.id()),
        "target.create",
        &format!(
            "service {} {kind} target {tid} to {}:{}{}",
            service.id, addr.host, addr.port, addr.mount
        ),
    )
    .await?;
    reconcile(&state).await;
    let row = targets::of_service(&state.db, service.id)
        .await?
        .into_iter()
        .find(|t| t.id == tid)
        .ok_or_else(|| ApiError::not_found("target"))?;
    let owner = caller.id() == service.owner_id;
    Ok((
        StatusCode::CREATED,
        Json(view(&state, &row, owner, service.limits().restream)),
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathIds(id, tid): PathIds,
) -> ApiResult<StatusCode> {
    let (service, _) = visible_service(&state, &caller, id).await?;
    if !targets::delete(&state.db, service.id, tid).await? {
        return Err(ApiError::not_found("target"));
    }
    audit(
        state.db.pool(),
        Some(caller.id()),
        "target.delete",
        &format!("service {} target {tid}", service.id),
    )
    .await?;
    reconcile(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

/// What a target runs with besides its own row (which never changes): a renamed service
/// or station, or a plan that no longer allows its kind, restarts or stops it.
fn signature(t: &Target, service: &Service) -> String {
    format!("{}\n{}\n{}", service.slug, service.name, t.kind)
}

/// Starts the targets in the database that should run and are not running (or run with
/// what changed since), stops the running ones that should not.
pub async fn reconcile(state: &AppState) {
    let rows = match targets::all(&state.db).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("publish targets not checked: {e}");
            return;
        }
    };
    let mut wanted = HashMap::new();
    for t in rows {
        let Ok(Some(service)) = services::by_id(state.db.pool(), t.service_id).await else {
            continue;
        };
        if service.limits().restream.allows(&t.kind) {
            wanted.insert(t.id, (signature(&t, &service), t, service));
        }
    }
    let sigs = wanted
        .iter()
        .map(|(id, (s, _, _))| (*id, s.clone()))
        .collect();
    for id in state.engine.targets().settle(&sigs) {
        if let Some((sig, t, service)) = wanted.get(&id) {
            start(state, t, service);
            state.engine.targets().set_signature(id, sig.clone());
        }
    }
}

/// Starts target `t` of `service`.
fn start(state: &AppState, t: &Target, service: &Service) {
    let Ok(port) = u16::try_from(t.port) else {
        return;
    };
    let dialer = Arc::new(PolicyDialer(Arc::clone(&state.outbound)));
    let service_id = tidecast_engine::ServiceId(service.id);
    match (t.kind.as_str(), service.kind.as_str()) {
        ("rtmp", "radio") => {
            let Some(transcoder) = state.engine.transcoder() else {
                return;
            };
            let (v, file) = stored_video(t).map_or_else(Default::default, |s| (s.settings, s.file));
            radio_video::start(
                &state.engine.restreaming(),
                t.id,
                service_id,
                Arc::clone(transcoder),
                radio_video::Picture {
                    mount: service.slug.clone(),
                    station: service.name.clone(),
                    background: file.map(std::path::PathBuf::from),
                    width: v.width.unwrap_or(1280),
                    height: v.height.unwrap_or(720),
                    fps: v.fps.unwrap_or(30),
                    video_kbps: v.video_kbps.unwrap_or(1500),
                },
                rtmp_target(t, port),
                dialer,
            );
        }
        ("rtmp", _) => {
            let stream = match &t.rendition {
                Some(r) => format!("{}/{r}", service.slug),
                None => service.slug.clone(),
            };
            rtmp::start(
                &state.engine.restreaming(),
                t.id,
                service_id,
                state.engine.taps().get(&stream),
                rtmp_target(t, port),
                dialer,
            );
        }
        ("shoutcast", _) => shoutcast::start(
            &state.engine.restreaming(),
            t.id,
            service_id,
            service.slug.clone(),
            ShoutcastTarget {
                host: t.host.clone(),
                port,
                stream_id: t.mount.trim_matches('/').parse().ok(),
                password: t.secret.clone(),
            },
            dialer,
        ),
        _ => icecast::start(
            &state.engine.restreaming(),
            t.id,
            service_id,
            service.slug.clone(),
            IcecastTarget {
                host: t.host.clone(),
                port,
                mount: t.mount.clone(),
                user: t.username.clone(),
                password: t.secret.clone(),
            },
            dialer,
        ),
    }
    tracing::info!(target = t.id, service = %service.slug, kind = %t.kind, remote = %format!("{}:{}{}", t.host, t.port, t.mount), "publish target started");
}

fn rtmp_target(t: &Target, port: u16) -> RtmpTarget {
    RtmpTarget {
        host: t.host.clone(),
        port,
        app: t.mount.trim_start_matches('/').to_owned(),
        key: t.secret.clone(),
        tls: t.tls != 0,
    }
}

/// Keeps what runs (targets and relays) in step with the database until the process ends.
pub async fn run(state: AppState) {
    loop {
        reconcile(&state).await;
        super::relays::reconcile(&state).await;
        tokio::time::sleep(RECONCILE_EVERY).await;
    }
}
