//! A radio station sent to a video platform (YouTube, Twitch, Facebook, any RTMP server):
//! the station's mount, followed like an uncounted listener, is drawn as video by the
//! transcoder (a picture, the station's name and the title playing, the station's audio;
//! encoded once for this target) into a tap of this target's own, which an RTMP target
//! ([`super::rtmp`]) sends on.
//!
//! The encoder runs while something is on air (a live source, a DJ or AutoDJ) and is
//! started again when the source's format changes; titles go to it as they change.
//! Stations that send MP3 or AAC can be drawn (Ogg and WebM carry their own framing the
//! drawing does not read yet; the target says so in its last error).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::Context;
use super::rtmp::RtmpTarget;
use super::{SharedStatus, TargetError, lock};
use crate::dial::Dialer;
use crate::media::AudioConfig;
use crate::media::mpa::{Framer, Kind};
use crate::tap::{Tap, TapOutput, TapWriter};
use crate::transcode::{RadioVideoInput, RadioVideoJob, Transcoder};

/// How the station is drawn.
#[derive(Debug, Clone)]
pub struct Picture {
    /// The station's primary mount.
    pub mount: String,
    pub station: String,
    /// A picture or clip from the owner's media; `None`: a plain background.
    pub background: Option<PathBuf>,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub video_kbps: u32,
}

/// The AAC bitrate the station's audio is sent at.
const AUDIO_KBPS: u32 = 128;

/// Starts target `id`: `picture` of `service`'s station sent to `to`, until it is stopped.
pub fn start(
    ctx: &Context,
    id: i64,
    service: crate::admission::ServiceId,
    transcoder: Arc<dyn Transcoder>,
    picture: Picture,
    to: RtmpTarget,
    dialer: Arc<dyn Dialer>,
) {
    let (cancel, status) = ctx.targets.register(id, service);
    let tap = Arc::new(Tap::default());
    {
        let (tap, cancel, status) = (Arc::clone(&tap), cancel.clone(), Arc::clone(&status));
        tokio::spawn(async move {
            super::rtmp::run(id, &tap, &to, dialer.as_ref(), &status, &cancel).await;
        });
    }
    let mounts = Arc::clone(&ctx.mounts);
    tokio::spawn(async move {
        draw(&mounts, &transcoder, &picture, &tap, &status, &cancel).await;
    });
}

/// Follows the mount and keeps an encoder running while something is on air.
async fn draw(
    mounts: &crate::mount::Mounts,
    transcoder: &Arc<dyn Transcoder>,
    picture: &Picture,
    tap: &Arc<Tap>,
    status: &SharedStatus,
    cancel: &CancellationToken,
) {
    loop {
        let mount = loop {
            if let Some(m) = mounts.get(&picture.mount)
                && m.status().on_air.is_some()
            {
                break m;
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                () = cancel.cancelled() => return,
            }
        };
        let content_type = mount.info().map(|i| i.content_type).unwrap_or_default();
        let Some(kind) = Kind::for_content_type(&content_type) else {
            {
                let mut st = lock(status);
                st.last_error = Some(TargetError::NotDrawable(content_type).to_string());
                st.last_error_at = Some(std::time::SystemTime::now());
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(5)) => continue,
                () = cancel.cancelled() => return,
            }
        };
        let (_, mut chunks) = mount.follow();
        let mut on_air = mount.on_air_watch();
        let mut framer = Framer::new(kind);
        let mut encoder: Option<(AudioConfig, Box<dyn RadioVideoInput>)> = None;
        let mut title_version = None;
        // A format the encoder would not start for is tried again only after a while.
        let mut refused: Option<(AudioConfig, std::time::Instant)> = None;
        loop {
            let bytes = tokio::select! {
                () = cancel.cancelled() => return,
                changed = on_air.changed() => {
                    if changed.is_err() || mount.status().on_air.is_none() {
                        break;
                    }
                    continue;
                }
                got = chunks.recv() => match got {
                    Ok(b) => b,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                },
            };
            for (config, frame) in framer.push(&bytes) {
                let retry = refused
                    .as_ref()
                    .is_none_or(|(c, at)| *c != config || at.elapsed() > Duration::from_secs(30));
                if encoder.as_ref().is_none_or(|(c, _)| *c != config) && retry {
                    let (title, version) = mount.title();
                    title_version = Some(version);
                    let job = RadioVideoJob {
                        audio: config.clone(),
                        width: picture.width,
                        height: picture.height,
                        fps: picture.fps,
                        video_kbps: picture.video_kbps,
                        audio_kbps: AUDIO_KBPS,
                        background: picture.background.clone(),
                        station: picture.station.clone(),
                        title: title.to_string(),
                    };
                    let out = Box::new(TapOutput(TapWriter::new(Arc::clone(tap))));
                    // The old encoder (a format change) stops before the new one starts.
                    encoder = None;
                    // Opening the picture and the encoders is blocking work.
                    let t = Arc::clone(transcoder);
                    let started = tokio::task::spawn_blocking(move || t.radio_video(job, out))
                        .await
                        .unwrap_or_else(|e| {
                            Err(crate::transcode::TranscodeError::failed(
                                "starting the encoder",
                                e,
                            ))
                        });
                    match started {
                        Ok(e) => encoder = Some((config, e)),
                        Err(e) => {
                            refused = Some((config.clone(), std::time::Instant::now()));
                            tracing::warn!(mount = %picture.mount, "radio as video did not start: {e}");
                            let mut st = lock(status);
                            st.last_error = Some(TargetError::Drawing(e).to_string());
                            st.last_error_at = Some(std::time::SystemTime::now());
                        }
                    }
                }
                if let Some((c, e)) = encoder.as_mut()
                    && !e.push(&frame)
                {
                    // Its thread stopped (logged there): tried again after a pause.
                    refused = Some((c.clone(), std::time::Instant::now()));
                    encoder = None;
                }
            }
            let (title, version) = mount.title();
            if title_version != Some(version)
                && let Some((_, e)) = encoder.as_mut()
            {
                title_version = Some(version);
                e.set_title(&title);
            }
        }
        // Off air: the encoder stops (its tap ends, the RTMP target disconnects).
        drop(encoder);
    }
}
