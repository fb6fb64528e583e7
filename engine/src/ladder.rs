//! A live source's transcoding ladder, as the engine runs it: which rungs suit the source,
//! the rendition streams they are packaged into (`<slug>/<rendition>`), the master playlist
//! lines on the service's stream, and the transcoder that makes them.

use std::sync::Arc;
use std::time::SystemTime;

use crate::admission::{Limits, ServiceId};
use crate::hls::live::{LiveStream, LiveStreams, Packaging, Variant};
use crate::hls::playlist::StreamInfo;
use crate::hls::rendition::RenditionStream;
use crate::ids::PublisherId;
use crate::media::{Frame, StreamConfig};
use crate::transcode::{
    LadderInput, LadderJob, LadderReport, LadderSpec, LadderStats, RenditionJob, RenditionSpec,
    RenditionStats, RungPlan, SkipReason, SkippedRung, Transcoder,
};

/// The pass-through rendition's name.
pub const SOURCE: &str = "source";

/// Container overhead on top of the encoders' bitrates (TS packets, PES headers).
const OVERHEAD: f64 = 1.05;

/// What a publisher needs to start its service's ladder.
#[derive(Debug, Clone)]
pub struct LadderPlan {
    pub spec: Arc<LadderSpec>,
    pub transcoder: Arc<dyn Transcoder>,
    pub streams: Arc<LiveStreams>,
    pub service_id: ServiceId,
    pub limits: Limits,
    pub packaging: Packaging,
    /// Radio: where the spec's mount feeds become sources.
    pub mounts: Option<Arc<crate::mount::Mounts>>,
    /// DVR: the archives each rendition is recorded into, if the service records.
    pub dvr: Option<(Arc<crate::dvr::Dvr>, crate::dvr::Retention)>,
    /// Video: each rendition's tags go on to restream targets that chose it.
    pub taps: Option<Arc<crate::tap::Taps>>,
}

/// A running ladder.
pub struct Ladder {
    input: Box<dyn LadderInput>,
    /// The rendition streams it claimed (released when the publisher leaves).
    streams: Vec<Arc<LiveStream>>,
    /// The service's stream, which shows the ladder's counters while it runs.
    base: Arc<LiveStream>,
    report: Arc<LadderReport>,
}

impl std::fmt::Debug for Ladder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ladder")
            .field("renditions", &self.report.renditions.len())
            .finish_non_exhaustive()
    }
}

impl LadderPlan {
    /// Each mount feed attached as the lowest-priority source of its mount.
    fn feeds(&self, base: &LiveStream) -> Vec<crate::transcode::FeedJob> {
        let Some(mounts) = &self.mounts else {
            return Vec::new();
        };
        self.spec
            .feeds
            .iter()
            .filter_map(|spec| {
                let label = format!("transcoded from /{}", base.slug());
                let output = crate::mount::feed::MountFeed::attach(
                    mounts,
                    spec,
                    self.service_id,
                    self.limits,
                    &label,
                )?;
                Some(crate::transcode::FeedJob {
                    spec: spec.clone(),
                    output: Box::new(output),
                })
            })
            .collect()
    }

    fn claim(&self, base: &LiveStream, id: PublisherId, name: &str) -> Option<Arc<LiveStream>> {
        let key = format!("{}/{name}", base.slug());
        match self
            .streams
            .publish(&key, self.service_id, id, self.limits, self.packaging)
        {
            Ok(s) => {
                if let Some((dvr, retention)) = &self.dvr {
                    match dvr.recorder(self.service_id, &key, *retention) {
                        Ok(r) => s.set_recorder(Some(Box::new(r))),
                        Err(e) => {
                            tracing::error!(stream = %key, "DVR not recording this rendition (live is not affected): {e}");
                        }
                    }
                }
                Some(s)
            }
            Err(e) => {
                tracing::warn!(stream = %base.slug(), "rendition {name} not started: {e}");
                None
            }
        }
    }

    /// Starts the ladder for a source with `config`, whose first frame is at `first_dts`.
    /// `None` (with a log line saying why) leaves the source packaged as it is.
    pub fn start(
        &self,
        base: &Arc<LiveStream>,
        id: PublisherId,
        config: &StreamConfig,
        source_kbps: Option<u32>,
        first_dts: i64,
    ) -> Option<Ladder> {
        if config.video.is_none() && config.audio.is_none() {
            return None;
        }
        let mut rungs = plan_rungs(&self.spec, config, source_kbps);
        for s in &rungs.skipped {
            tracing::info!(stream = %base.slug(), "rendition {} skipped: {}", s.name, s.reason);
        }
        let feeds_only = config.video.is_none() && !self.spec.feeds.is_empty();
        if rungs.running.is_empty() && !feeds_only {
            base.set_rungs(Some(Arc::new(rungs)));
            return None;
        }
        let anchor = (SystemTime::now(), first_dts);
        let target_secs = f64::from(self.packaging.target_secs);
        let mut jobs = Vec::with_capacity(rungs.running.len());
        let mut claimed = Vec::with_capacity(rungs.running.len());
        let order_base = usize::from(self.spec.passthrough);
        for (i, rung) in std::mem::take(&mut rungs.running).into_iter().enumerate() {
            let Some(stream) = self.claim(base, id, &rung.name) else {
                rungs.skipped.push(SkippedRung {
                    name: rung.name,
                    reason: SkipReason::StreamTaken,
                });
                continue;
            };
            rungs.running.push(rung.clone());
            let average = (f64::from(rung.video_kbps + rung.audio_kbps) * 1000.0 * OVERHEAD) as u64;
            let variant = Variant {
                name: rung.name.clone(),
                order: order_base + i,
                // The encoder's rate control allows peaks of 1.2× (its maxrate).
                bandwidth: (f64::from(rung.video_kbps) * 1.2 + f64::from(rung.audio_kbps)) as u64
                    * 1000
                    * 105
                    / 100,
                average_bandwidth: average,
                // Resolution and codecs once the encoder says what it makes.
                info: StreamInfo {
                    frame_rate: config.video.as_ref().and_then(|v| v.fps),
                    ..StreamInfo::default()
                },
            };
            let stats = Arc::new(RenditionStats::default());
            claimed.push(Arc::clone(&stream));
            jobs.push(RenditionJob {
                output: Box::new(
                    RenditionStream::new(stream, Arc::clone(base), variant, target_secs, anchor)
                        .with_tap(
                            self.taps
                                .as_ref()
                                .map(|t| t.get(&format!("{}/{}", base.slug(), rung.name))),
                        ),
                ),
                stats,
                spec: rung,
            });
        }
        let renditions: Vec<(String, Arc<RenditionStats>)> = jobs
            .iter()
            .map(|j| (j.spec.name.clone(), Arc::clone(&j.stats)))
            .collect();
        let stats = Arc::new(LadderStats::default());
        let job = LadderJob {
            stream: base.slug().to_owned(),
            source: config.clone(),
            renditions: jobs,
            watermark: self.spec.watermark.clone(),
            keyframe_interval: i64::from(self.packaging.target_secs.max(1))
                * crate::media::TIMESCALE,
            stats: Arc::clone(&stats),
            pace: crate::transcode::Pace::Live,
            feeds: self.feeds(base),
        };
        match self.transcoder.start(job) {
            Ok(input) => {
                tracing::info!(stream = %base.slug(), "transcoding to {}", renditions.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "));
                let report = Arc::new(LadderReport {
                    started: std::time::Instant::now(),
                    stats,
                    renditions,
                });
                base.set_ladder(Some(Arc::clone(&report)));
                base.set_rungs(Some(Arc::new(rungs)));
                Some(Ladder {
                    input,
                    streams: claimed,
                    base: Arc::clone(base),
                    report,
                })
            }
            Err(e) => {
                tracing::warn!(stream = %base.slug(), "transcoding not started: {e}; the source is served as it arrives");
                for s in claimed {
                    self.streams
                        .unpublish(&s, id, crate::hls::live::Lifetimes::default());
                }
                None
            }
        }
    }

    /// The pass-through rendition's stream, if the ladder offers one (claimed), and its
    /// master-playlist line (first), to list once it has a segment.
    pub fn passthrough(
        &self,
        base: &Arc<LiveStream>,
        id: PublisherId,
        config: &StreamConfig,
    ) -> Option<(Arc<LiveStream>, Variant)> {
        if !self.spec.passthrough {
            return None;
        }
        let stream = self.claim(base, id, SOURCE)?;
        // Until it is measured: above the highest rung, so players take it as the best.
        let top = self
            .spec
            .renditions
            .iter()
            .map(|r| r.video_kbps + r.audio_kbps)
            .max()
            .unwrap_or(4000);
        let estimate = u64::from(top) * 1500;
        let variant = Variant {
            name: SOURCE.to_owned(),
            order: 0,
            bandwidth: estimate,
            average_bandwidth: estimate * 10 / 12,
            info: StreamInfo::of(config),
        };
        Some((stream, variant))
    }
}

/// The rungs of `spec` that run for a source with `config` whose encoder announces
/// `source_kbps` of video (in its metadata, if it does), and those that do not, with why.
///
/// Every video rung at or below the source's height runs: one the customer listed is never
/// dropped for its bitrate (an encoder's announced rate is a target, often a little under a
/// round figure: `-b:v 2000k` goes out in FLV metadata as 1953 kbit/s); its bitrate is
/// capped at the source's instead, since more bits than came in add nothing. A rung taller
/// than the source is skipped (an upscale costs CPU and adds nothing), unless every video
/// rung is and there is no pass-through: then the lowest runs, so the service still has
/// output. An audio-only source (radio) runs the audio-only rungs.
pub fn plan_rungs(spec: &LadderSpec, config: &StreamConfig, source_kbps: Option<u32>) -> RungPlan {
    let mut plan = RungPlan::default();
    let Some(video) = &config.video else {
        for r in &spec.renditions {
            if r.height == 0 {
                plan.running.push(r.clone());
            } else {
                plan.skipped.push(SkippedRung {
                    name: r.name.clone(),
                    reason: SkipReason::NoVideo,
                });
            }
        }
        return plan;
    };
    let cap = |r: &RenditionSpec| {
        let mut r = r.clone();
        if let Some(k) = source_kbps.filter(|k| *k > 0) {
            r.video_kbps = r.video_kbps.min(k);
        }
        r
    };
    for r in &spec.renditions {
        let reason = if r.height == 0 {
            SkipReason::AudioOnly
        } else if r.height > video.height {
            SkipReason::AboveSource {
                source_height: video.height,
            }
        } else {
            plan.running.push(cap(r));
            continue;
        };
        plan.skipped.push(SkippedRung {
            name: r.name.clone(),
            reason,
        });
    }
    if plan.running.is_empty()
        && !spec.passthrough
        && let Some(lowest) = spec
            .renditions
            .iter()
            .filter(|r| r.height > 0)
            .min_by_key(|r| r.height)
    {
        plan.skipped.retain(|s| s.name != lowest.name);
        plan.running.push(cap(lowest));
    }
    plan
}

impl Ladder {
    /// Hands a source frame to the ladder (dropped, and counted, if it is behind).
    pub fn push(&mut self, frame: &Frame) {
        let stats = &self.report.stats;
        LadderStats::add(&stats.bytes_in, frame.data.len() as u64);
        if !self.input.push(frame) {
            LadderStats::add(&stats.dropped_in, 1);
        }
    }

    /// Whether its threads still run.
    pub fn is_running(&self) -> bool {
        self.input.is_running()
    }

    /// The rendition streams it runs.
    pub fn streams(&self) -> &[Arc<LiveStream>] {
        &self.streams
    }

    /// The names of its rungs.
    pub fn names(&self) -> Vec<&str> {
        self.report
            .renditions
            .iter()
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Stops the ladder's threads (they list their last segments on the way out) and
    /// returns the rendition streams to release.
    pub fn stop(self) -> Vec<Arc<LiveStream>> {
        drop(self.input);
        self.base.set_ladder(None);
        self.base.set_rungs(None);
        self.streams
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::avc::AvcConfig;

    fn rung(name: &str, height: u32, video_kbps: u32) -> RenditionSpec {
        RenditionSpec {
            name: name.into(),
            width: 0,
            height,
            video_kbps,
            audio_kbps: if height == 0 { 96 } else { 128 },
        }
    }

    fn spec(renditions: Vec<RenditionSpec>, passthrough: bool) -> LadderSpec {
        LadderSpec {
            renditions,
            passthrough,
            watermark: None,
            feeds: Vec::new(),
        }
    }

    /// 1080p, 720p and 360p, no passthrough.
    fn three_rungs() -> LadderSpec {
        let rungs = vec![
            rung("1080p", 1080, 4000),
            rung("720p", 720, 2000),
            rung("360p", 360, 800),
        ];
        spec(rungs, false)
    }

    /// A video source of `height` lines (the plan reads nothing else of it).
    fn video(height: u32) -> StreamConfig {
        StreamConfig {
            video: Some(AvcConfig {
                record: bytes::Bytes::new(),
                nal_length_size: 4,
                sps: Vec::new(),
                pps: Vec::new(),
                width: height * 16 / 9,
                height,
                fps: Some(30.0),
                codec_string: "avc1.64001f".into(),
            }),
            audio: None,
        }
    }

    fn running(plan: &RungPlan) -> Vec<(&str, u32)> {
        plan.running
            .iter()
            .map(|r| (r.name.as_str(), r.video_kbps))
            .collect()
    }

    fn skipped(plan: &RungPlan) -> Vec<(&str, String)> {
        plan.skipped
            .iter()
            .map(|s| (s.name.as_str(), s.reason.to_string()))
            .collect()
    }

    #[test]
    fn a_rung_a_little_over_the_announced_bitrate_runs_capped() {
        let s = three_rungs();
        // `-b:v 2000k` is announced in FLV metadata as 2_000_000 / 1024 bit/s.
        let plan = plan_rungs(&s, &video(720), Some(1953));
        assert_eq!(running(&plan), [("720p", 1953), ("360p", 800)]);
        assert_eq!(
            skipped(&plan),
            [("1080p", "above the source's 720 lines".to_owned())]
        );
        // A source that announces nothing (or 0) keeps the rungs' own bitrates.
        for unknown in [None, Some(0)] {
            let plan = plan_rungs(&s, &video(1080), unknown);
            assert_eq!(
                running(&plan),
                [("1080p", 4000), ("720p", 2000), ("360p", 800)]
            );
            assert!(plan.skipped.is_empty());
        }
        // A low bitrate caps every rung; none is dropped for it.
        let plan = plan_rungs(&s, &video(1080), Some(600));
        assert_eq!(
            running(&plan),
            [("1080p", 600), ("720p", 600), ("360p", 600)]
        );
    }

    #[test]
    fn rungs_above_the_source_are_skipped_but_never_all() {
        let s = three_rungs();
        let plan = plan_rungs(&s, &video(240), Some(300));
        assert_eq!(running(&plan), [("360p", 300)]);
        assert_eq!(
            skipped(&plan),
            [
                ("1080p", "above the source's 240 lines".to_owned()),
                ("720p", "above the source's 240 lines".to_owned()),
            ]
        );
        // With the source offered as it is, nothing needs to be upscaled.
        let with_source = spec(s.renditions.clone(), true);
        let plan = plan_rungs(&with_source, &video(240), None);
        assert!(plan.running.is_empty());
        assert_eq!(plan.skipped.len(), 3);
    }

    #[test]
    fn audio_sources_run_the_audio_rungs() {
        let s = spec(vec![rung("aac96", 0, 0), rung("360p", 360, 800)], false);
        let radio = StreamConfig {
            video: None,
            audio: Some(crate::media::AudioConfig::Mp3 {
                sample_rate: 44_100,
                channels: 2,
            }),
        };
        let plan = plan_rungs(&s, &radio, None);
        assert_eq!(running(&plan), [("aac96", 0)]);
        assert_eq!(
            skipped(&plan),
            [(
                "360p",
                "a video rendition, and the source has no video".to_owned()
            )]
        );
        let plan = plan_rungs(&s, &video(720), None);
        assert_eq!(running(&plan), [("360p", 800)]);
        assert_eq!(plan.skipped[0].reason, SkipReason::AudioOnly);
    }
}
