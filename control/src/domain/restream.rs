//! Publish targets (restreams) as business operations: adding one (its address checked
//! against the outbound policy, the plan's kinds, the service's ladder and picture), removing
//! one, and keeping what the engine runs in step with the database ([`reconcile`]: the
//! targets that should run are started, the ones whose row is gone are stopped, a changed
//! service restarts them).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use tidecast_engine::targets::icecast::{self, IcecastTarget};
use tidecast_engine::targets::radio_video;
use tidecast_engine::targets::rtmp::{self, RtmpTarget};
use tidecast_engine::targets::shoutcast::{self, ShoutcastTarget};

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::services;
use crate::db::services::Service;
use crate::db::targets::{self, NewTarget, Target};
use crate::model::target::{StoredVideo, VideoSettings};
use crate::model::{Kind, TargetKind};
use crate::outbound::PolicyDialer;

use super::access::visible_service;
use super::target_urls;
use super::{Error, Result, audit_now};

/// Targets one service may have.
const MAX_PER_SERVICE: usize = 10;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TargetInput")]
pub struct Input {
    /// `rtmp` (RTMP/RTMPS: YouTube, Twitch, Facebook, any RTMP server), `icecast` or
    /// `shoutcast` (a radio station's mount sent as a source to another server).
    pub kind: TargetKind,
    /// `rtmp[s]://host[:port]/app`, `icecast://user:password@host:port/mount`,
    /// `shoutcast://:password@host:port[/stream id]`. May be left out with a `preset`.
    pub url: Option<String>,
    /// RTMP: the stream key (or give it as the URL's last path segment).
    pub key: Option<String>,
    /// RTMP: `youtube`, `twitch` or `facebook`: their ingest URL when `url` is left out.
    pub preset: Option<String>,
    /// Video: the rendition sent (a rung of the service's ladder); the source as it
    /// arrives when left out or `source`.
    pub rendition: Option<String>,
    /// Radio to RTMP: the picture the station is shown on.
    pub video: Option<VideoSettings>,
}

/// Checks a radio station's picture settings (the media must be the owner's).
async fn video_settings(state: &AppState, owner: i64, v: VideoSettings) -> Result<VideoSettings> {
    let r = |what: &str, v: u32, lo: u32, hi: u32| {
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(Error::invalid(format!(
                "video.{what} must be from {lo} to {hi}"
            )))
        }
    };
    let width = r("width", v.width.unwrap_or(1280), 160, 3840)?;
    let height = r("height", v.height.unwrap_or(720), 90, 2160)?;
    if width % 2 != 0 || height % 2 != 0 {
        return Err(Error::invalid("video.width and video.height must be even"));
    }
    if let Some(m) = v.media {
        let item = crate::db::media::by_id(&state.db, owner, m)
            .await?
            .ok_or_else(|| Error::invalid(format!("video.media: no media {m} in this library")))?;
        if !matches!(item.kind.as_str(), "image" | "video") {
            return Err(Error::invalid("video.media must be a picture or a video"));
        }
    }
    Ok(VideoSettings {
        media: v.media,
        width: Some(width),
        height: Some(height),
        fps: Some(r("fps", v.fps.unwrap_or(30), 1, 60)?),
        video_kbps: Some(r("video_kbps", v.video_kbps.unwrap_or(1500), 100, 20_000)?),
    })
}

/// The rungs a video service's ladder has, by name.
fn rung_names(service: &Service) -> Vec<String> {
    service
        .ladder
        .get()
        .map(|l| l.renditions.iter().map(|r| r.name.clone()).collect())
        .unwrap_or_default()
}

/// Adds a target to service `id`; it starts at once.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    id: i64,
    body: Input,
) -> Result<(Service, Target)> {
    let (service, _) = visible_service(state, caller, id).await?;
    let kind = body.kind;
    if !service.limits.restream.allows(kind) {
        return Err(Error::forbidden(format!(
            "this service's plan does not include {kind} targets"
        )));
    }
    let radio = service.is_radio();
    if kind != TargetKind::Rtmp && !radio {
        return Err(Error::invalid(format!(
            "kind: {kind} targets send a radio station's mount; this is a video service (use rtmp)"
        )));
    }
    if body.preset.is_some() && kind != TargetKind::Rtmp {
        return Err(Error::invalid("preset: presets are for rtmp targets"));
    }
    let url = match (&body.url, &body.preset) {
        (Some(u), _) => u.trim().to_owned(),
        (None, Some(p)) => target_urls::PRESETS
            .iter()
            .find(|x| x.name == p)
            .map(|x| x.url.to_owned())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "preset: {p:?} is not one of youtube, twitch, facebook"
                ))
            })?,
        (None, None) => return Err(Error::invalid("url: required (or a preset for rtmp)")),
    };
    let addr = match kind {
        TargetKind::Rtmp => target_urls::rtmp(&url, body.key.as_deref())?,
        TargetKind::Shoutcast => target_urls::shoutcast(&url)?,
        TargetKind::Icecast => target_urls::icecast(&url)?,
    };
    if body.key.is_some() && kind != TargetKind::Rtmp {
        return Err(Error::invalid(
            "key: only rtmp targets have a stream key (the password is in the URL)",
        ));
    }
    let rendition = match body.rendition.as_deref().map(str::trim) {
        None | Some("" | "source") => None,
        Some(_) if radio => {
            return Err(Error::invalid(
                "rendition: a radio station is sent as its mount is heard",
            ));
        }
        Some(r) => {
            let names = rung_names(&service);
            if !names.iter().any(|n| n == r) {
                return Err(Error::invalid(format!(
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
    let video = match (body.video, radio && kind == TargetKind::Rtmp) {
        (v, true) => Some(video_settings(state, service.owner_id, v.unwrap_or_default()).await?),
        (Some(_), false) => {
            return Err(Error::invalid(
                "video: only a radio station sent to an rtmp target is drawn as video",
            ));
        }
        (None, false) => None,
    };
    if radio && kind == TargetKind::Rtmp && state.engine.transcoder().is_none() {
        return Err(Error::Unavailable(
            "this server runs without a transcoder: a radio station cannot be sent as video".into(),
        ));
    }
    state
        .outbound
        .resolve_host(addr.host.clone(), addr.port)
        .await
        .map_err(|e| Error::invalid(format!("url: {e}")))?;
    if targets::of_service(&state.db, service.id).await?.len() >= MAX_PER_SERVICE {
        return Err(Error::invalid(format!(
            "a service has at most {MAX_PER_SERVICE} targets"
        )));
    }
    let video = match video {
        Some(settings) => {
            let file = match settings.media {
                Some(m) => crate::db::media::by_id(&state.db, service.owner_id, m)
                    .await?
                    .map(|item| state.data_dir.join(&item.path).display().to_string()),
                None => None,
            };
            Some(StoredVideo { settings, file })
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
            video: video.as_ref(),
        },
    )
    .await?;
    // The address only: never the password or key.
    audit_now(
        state,
        caller,
        "target.create",
        &format!(
            "service {} {kind} target {tid} to {}:{}{}",
            service.id, addr.host, addr.port, addr.mount
        ),
    )
    .await?;
    reconcile(state).await;
    let row = targets::of_service(&state.db, service.id)
        .await?
        .into_iter()
        .find(|t| t.id == tid)
        .ok_or_else(|| Error::NotFound("target"))?;
    Ok((service, row))
}

/// Removes a target; it stops at once.
pub async fn delete(state: &AppState, caller: &Caller, id: i64, tid: i64) -> Result<()> {
    let (service, _) = visible_service(state, caller, id).await?;
    if !targets::delete(&state.db, service.id, tid).await? {
        return Err(Error::NotFound("target"));
    }
    audit_now(
        state,
        caller,
        "target.delete",
        &format!("service {} target {tid}", service.id),
    )
    .await?;
    reconcile(state).await;
    Ok(())
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
        // A read that fails must not look like "no longer wanted": the database going
        // away mid-pass would stop every restream. Settle nothing this pass.
        let service = match services::by_id(state.db.pool(), t.service_id).await {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("publish targets not checked: {e}");
                return;
            }
        };
        if service.limits.restream.allows(t.kind) {
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
    match (t.kind, service.kind) {
        (TargetKind::Rtmp, Kind::Radio) => {
            let Some(transcoder) = state.engine.transcoder() else {
                return;
            };
            let (v, file) = t
                .video
                .get()
                .cloned()
                .map_or_else(Default::default, |s| (s.settings, s.file));
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
        (TargetKind::Rtmp, Kind::Video) => {
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
        (TargetKind::Shoutcast, _) => shoutcast::start(
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
        (TargetKind::Icecast, _) => icecast::start(
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
        tls: t.tls,
    }
}
