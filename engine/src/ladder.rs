//! A live source's transcoding ladder, as the engine runs it: which rungs suit the source,
//! the rendition streams they are packaged into (`<slug>/<rendition>`), the master playlist
//! lines on the service's stream, and the transcoder that makes them.

use std::sync::Arc;
use std::time::SystemTime;

use crate::admission::{Limits, ServiceId};
use crate::hls::live::{LiveStream, LiveStreams, Packaging, Variant};
use crate::hls::playlist::StreamInfo;
use crate::hls::rendition::RenditionStream;
use crate::media::{Frame, StreamConfig};
use crate::transcode::{
    LadderInput, LadderJob, LadderReport, LadderSpec, LadderStats, RenditionJob, RenditionSpec,
    RenditionStats, Transcoder,
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
    pub taps: Option<Arc<crate::rtmp::tap::Taps>>,
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
                let output = crate::icecast::feed::MountFeed::attach(
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

    fn claim(&self, base: &LiveStream, id: u64, name: &str) -> Option<Arc<LiveStream>> {
        let key = format!("{}/{name}", base.slug());
        match self
            .streams
            .publish(&key, self.service_id, id, self.limits, self.packaging)
        {
            Ok(s) => {
                if let Some((dvr, retention)) = &self.dvr {
                    match dvr.recorder(self.service_id, &key, *retention) {
                        Ok(r) => s.set_recorder(Some(r)),
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
        id: u64,
        config: &StreamConfig,
        source_kbps: Option<u32>,
        first_dts: i64,
    ) -> Option<Ladder> {
        let rungs: Vec<RenditionSpec> = match &config.video {
            Some(video) => self.spec.rungs_for(video.height, source_kbps),
            // Audio only (radio): the audio rungs.
            None if config.audio.is_some() => self
                .spec
                .renditions
                .iter()
                .filter(|r| r.height == 0)
                .cloned()
                .collect(),
            None => return None,
        };
        let feeds_only = config.video.is_none() && !self.spec.feeds.is_empty();
        if rungs.is_empty() && !feeds_only {
            return None;
        }
        let skipped = self.spec.renditions.len() - rungs.len();
        if let Some(video) = &config.video
            && skipped > 0
        {
            tracing::info!(stream = %base.slug(), "{skipped} rendition(s) above the source ({}p, {} kbit/s) skipped", video.height, source_kbps.map_or("?".to_owned(), |k| k.to_string()));
        }
        let anchor = (SystemTime::now(), first_dts);
        let target_secs = f64::from(self.packaging.target_secs);
        let mut jobs = Vec::with_capacity(rungs.len());
        let mut claimed = Vec::with_capacity(rungs.len());
        let order_base = usize::from(self.spec.passthrough);
        for (i, rung) in rungs.into_iter().enumerate() {
            let Some(stream) = self.claim(base, id, &rung.name) else {
                continue;
            };
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
        id: u64,
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
        self.streams
    }
}
