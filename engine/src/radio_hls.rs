//! HLS for a radio station, so it plays on phones: the primary mount's audio (MP3 or AAC,
//! whichever source is on air) is framed, handed to the transcoder's audio-only ladder (AAC
//! at each rung's bitrate), and packaged as `<slug>/<rung>` streams under a master playlist
//! at `/hls/<slug>/index.m3u8`.
//!
//! One task per station, started when a source connects to a station whose ladder has
//! audio rungs; it follows the mount like a listener that is not counted (source changes,
//! DJ handovers and all), and ends once the mount has had no source for the playlist's
//! grace period.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use crate::admission::{Grant, SegmentFormat};
use crate::hls::live::{Lifetimes, LiveStreams, Packaging};
use crate::ladder::{Ladder, LadderPlan};
use crate::media::mpa::{Framer, Kind};
use crate::media::{AudioConfig, StreamConfig};
use crate::mount::{Mount, Mounts};
use crate::transcode::Transcoder;

/// The stations whose radio HLS task runs, by mount name.
#[derive(Debug, Default)]
pub struct Running(Mutex<HashSet<String>>);

impl Running {
    fn claim(&self, mount: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(mount.to_owned())
    }

    fn release(&self, mount: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(mount);
    }
}

/// What a station's HLS uses of the engine: the transcoder, the HLS windows it packages
/// into, the mounts its feeds go to, and which stations already run.
#[derive(Clone)]
pub struct Context {
    pub(crate) transcoder: Option<Arc<dyn Transcoder>>,
    pub(crate) hls: Arc<LiveStreams>,
    pub(crate) mounts: Arc<Mounts>,
    pub(crate) running: Arc<Running>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("radio_hls::Context").finish_non_exhaustive()
    }
}

/// Starts the station's radio HLS if its ladder has audio rungs, the server has a
/// transcoder and the source sends MP3 or AAC; does nothing if it already runs.
pub fn ensure(ctx: &Context, mount: &Arc<Mount>, grant: &Grant, content_type: &str) {
    let Some(spec) = grant.transcode.clone().filter(|_| grant.limits.transcode) else {
        return;
    };
    if !spec.renditions.iter().any(|r| r.height == 0) && spec.feeds.is_empty() {
        return;
    }
    let Some(transcoder) = ctx.transcoder.clone() else {
        return;
    };
    let Some(kind) = Kind::for_content_type(content_type) else {
        tracing::info!(mount = %mount.name(), "HLS for this station needs an MP3 or AAC source ({content_type} is not)");
        return;
    };
    if !ctx.running.claim(mount.name()) {
        return;
    }
    let plan = LadderPlan {
        spec,
        transcoder,
        streams: Arc::clone(&ctx.hls),
        service_id: grant.service_id,
        limits: grant.limits,
        packaging: Packaging {
            format: grant.hls.format,
            target_secs: grant.hls.segment_secs,
            part_target: None,
        },
        mounts: Some(Arc::clone(&ctx.mounts)),
        // Radio keeps no DVR (its live sets are recorded to the media library instead).
        dvr: None,
        taps: None,
    };
    let lifetimes = Lifetimes {
        end_after: Duration::from_secs(grant.hls.end_after_secs.into()),
        ..Lifetimes::default()
    };
    let hls = Arc::clone(&ctx.hls);
    let running = Arc::clone(&ctx.running);
    let mount = Arc::clone(mount);
    tokio::spawn(async move {
        run(&hls, &mount, plan, kind, lifetimes).await;
        running.release(mount.name());
    });
}

async fn run(
    hls: &Arc<LiveStreams>,
    mount: &Arc<Mount>,
    plan: LadderPlan,
    kind: Kind,
    lifetimes: Lifetimes,
) {
    let id = crate::ids::PublisherId::new();
    let slug = mount.name().to_owned();
    let base = match hls.publish(
        &slug,
        plan.service_id,
        id,
        plan.limits,
        Packaging {
            format: SegmentFormat::Ts,
            ..plan.packaging
        },
    ) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(mount = %slug, "station HLS not started: {e}");
            return;
        }
    };
    tracing::info!(mount = %slug, "station HLS started");
    let mut framer = Framer::new(kind);
    let mut ladder: Option<Ladder> = None;
    let mut config: Option<AudioConfig> = None;
    let (_, mut chunks) = mount.follow();
    let mut idle = Duration::ZERO;
    let tick = Duration::from_secs(1);
    loop {
        tokio::select! {
            chunk = chunks.recv() => match chunk {
                Ok(bytes) => {
                    idle = Duration::ZERO;
                    for (cfg, frame) in framer.push(&bytes) {
                        if config.as_ref() != Some(&cfg) {
                            // A new source format: the ladder starts again for it.
                            let before = ladder.take().map(Ladder::stop).unwrap_or_default();
                            let source = StreamConfig { video: None, audio: Some(cfg.clone()) };
                            ladder = plan.start(&base, id, &source, None, frame.dts);
                            let kept = ladder.as_ref().map(Ladder::streams).unwrap_or_default();
                            for s in before {
                                if !kept.iter().any(|k| Arc::ptr_eq(k, &s)) {
                                    hls.unpublish(&s, id, lifetimes);
                                }
                            }
                            base.retain_variants(&ladder.as_ref().map(Ladder::names).unwrap_or_default());
                            config = Some(cfg);
                        }
                        if let Some(l) = ladder.as_mut() {
                            l.push(&frame);
                        }
                    }
                }
                // Behind the ring (a slow machine): carry on from where it is now.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            () = tokio::time::sleep(tick) => {
                if mount.has_source() {
                    idle = Duration::ZERO;
                } else {
                    idle += tick;
                    if idle >= lifetimes.end_after.max(tick) {
                        break;
                    }
                }
            }
        }
    }
    tracing::info!(mount = %slug, "station HLS stopped: no source");
    if let Some(l) = ladder.take() {
        for s in l.stop() {
            hls.unpublish(&s, id, lifetimes);
        }
    }
    hls.unpublish(&base, id, lifetimes);
}
