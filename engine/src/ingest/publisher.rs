//! A publisher's media on its way to HLS: FLV tags → frames on one continuous timeline →
//! segments in the stream's live window.
//!
//! Runs inside the publisher's connection task: packaging a frame costs microseconds, and
//! keeping it there needs no locks but the window's, taken once per segment.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::hls::live::{Lifetimes, LiveStream, LiveStreams, SourceStatus};
use crate::hls::packager::{Packager, SegmentOut};
use crate::ids::PublisherId;
use crate::ladder::{Ladder, LadderPlan};
use crate::media::aac::AacConfig;
use crate::media::avc::AvcConfig;
use crate::media::clock::Clock;
use crate::media::flv::{self, AudioTag, VideoTag};
use crate::media::{AudioConfig, Frame, StreamConfig, Track};

/// A ladder whose threads died is started again at most this often.
const LADDER_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

/// Frames before the stream's configuration is complete are dropped for at most this
/// long; then packaging starts with the tracks known.
const CONFIG_WAIT_MS: i64 = 3_000;

/// Why the publisher's stream is refused (the connection is closed).
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Tag(#[from] flv::BadTag),
    #[error(transparent)]
    Avc(#[from] crate::media::avc::BadAvc),
    #[error(transparent)]
    Aac(#[from] crate::media::aac::BadAsc),
    #[error("packaging failed: {0}")]
    Pack(#[from] crate::hls::packager::PackError),
}

/// Which tracks the publisher announced (onMetaData), to know when the config is complete.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect {
    pub video: Option<bool>,
    pub audio: Option<bool>,
    /// The video bitrate the encoder says it sends (kbit/s), if it says.
    pub video_kbps: Option<u32>,
}

#[derive(Debug)]
pub struct Publisher {
    id: PublisherId,
    streams: Arc<LiveStreams>,
    /// The service's stream: source status, viewers, and (with a ladder) the master playlist.
    stream: Arc<LiveStream>,
    /// Where the source itself is packaged: the service's stream, or with a ladder its
    /// `source` rendition if it offers one (else nowhere).
    out: Option<Arc<LiveStream>>,
    /// The transcoding ladder to run once the source's codecs are known, and the running one.
    plan: Option<LadderPlan>,
    ladder: Option<Ladder>,
    /// The pass-through's master-playlist line, listed once it has a segment.
    source_variant: Option<crate::hls::live::Variant>,
    /// The newest frame's decode time (a restarted ladder dates its segments from here).
    last_dts: Option<i64>,
    /// When the ladder was last (re)started.
    ladder_started: Instant,
    lifetimes: Lifetimes,
    target_secs: f64,
    clock: Clock,
    config: StreamConfig,
    expect: Expect,
    packager: Option<Packager>,
    /// The timeline position of the first frame, for the config wait.
    first_ms: Option<i64>,
    /// Whether the first segment follows an earlier publisher's (a reconnect).
    resumed: bool,
    /// Whether packaging (and the ladder) started: the stream's codecs were known.
    started_packaging: bool,
    /// Warnings already logged, by kind: each is logged once per publisher.
    warned: Vec<&'static str>,
    remote: std::net::SocketAddr,
    since: std::time::SystemTime,
    /// Where its tags go on to restream targets, as they came.
    tap: Option<Arc<crate::tap::Tap>>,
    pub started: Instant,
    pub bytes_in: u64,
}

impl Publisher {
    pub fn new(
        id: PublisherId,
        streams: Arc<LiveStreams>,
        stream: Arc<LiveStream>,
        target_secs: f64,
        lifetimes: Lifetimes,
        remote: std::net::SocketAddr,
    ) -> Self {
        let resumed = stream.has_segments();
        Self {
            id,
            streams,
            out: Some(Arc::clone(&stream)),
            stream,
            plan: None,
            ladder: None,
            source_variant: None,
            last_dts: None,
            ladder_started: Instant::now(),
            lifetimes,
            target_secs,
            clock: Clock::default(),
            config: StreamConfig::default(),
            expect: Expect::default(),
            packager: None,
            first_ms: None,
            resumed,
            started_packaging: false,
            warned: Vec::new(),
            remote,
            since: std::time::SystemTime::now(),
            tap: None,
            started: Instant::now(),
            bytes_in: 0,
        }
    }

    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    pub fn stream_slug(&self) -> &str {
        self.stream.slug()
    }

    pub fn service_id(&self) -> crate::admission::ServiceId {
        self.stream.service_id()
    }

    /// Runs `plan`'s ladder beside the source once its codecs are known.
    pub fn with_ladder(mut self, plan: LadderPlan) -> Self {
        self.plan = Some(plan);
        self
    }

    /// Sends its tags on to `tap` (restream targets follow it).
    pub fn with_tap(mut self, tap: Arc<crate::tap::Tap>) -> Self {
        tap.start(self.id);
        self.tap = Some(tap);
        self
    }

    fn tap(&self, video: bool, data: &Bytes, ts: u32) {
        if let Some(tap) = &self.tap {
            tap.send(crate::media::flv::Tag {
                video,
                ts,
                data: data.clone(),
            });
        }
    }

    pub fn set_expected(&mut self, expect: Expect) {
        self.expect = expect;
    }

    fn warn_once(&mut self, kind: &'static str, what: impl std::fmt::Display) {
        if !self.warned.contains(&kind) {
            tracing::warn!(stream = %self.stream.slug(), "{what}");
            self.warned.push(kind);
        }
    }

    pub fn video(&mut self, body: Bytes, raw_ts: u32) -> Result<(), StreamError> {
        self.bytes_in += body.len() as u64;
        let tag = flv::parse_video(&body)?;
        self.tap(true, &body, raw_ts);
        match tag {
            VideoTag::AvcSequenceHeader(record) => {
                let avc = AvcConfig::parse(&record)?;
                if !self.config.video.as_ref().is_some_and(|v| v.same_as(&avc)) {
                    tracing::info!(stream = %self.stream.slug(), "video: H.264 {}x{} {}", avc.width, avc.height, avc.codec_string);
                    let mut next = self.config.clone();
                    next.video = Some(avc);
                    self.reconfigure(next)?;
                }
                Ok(())
            }
            VideoTag::AvcPicture { key, cts_ms, data } => {
                if self.config.video.is_none() {
                    self.warn_once("early video", "video before its sequence header: dropped");
                    return Ok(());
                }
                let (ms, jumped) = self.clock.map(Track::Video, raw_ts);
                let dts = ms * 90;
                let frame = Frame {
                    track: Track::Video,
                    dts,
                    pts: dts + i64::from(cts_ms) * 90,
                    key,
                    data,
                };
                self.frame(frame, jumped)
            }
            VideoTag::AvcEndOfSequence | VideoTag::Command => Ok(()),
            VideoTag::Unsupported(what) => {
                self.warn_once(
                    "video codec",
                    format_args!("video codec {what} is not supported (send H.264): dropped"),
                );
                Ok(())
            }
        }
    }

    pub fn audio(&mut self, body: Bytes, raw_ts: u32) -> Result<(), StreamError> {
        self.bytes_in += body.len() as u64;
        let tag = flv::parse_audio(&body)?;
        self.tap(false, &body, raw_ts);
        let data = match tag {
            AudioTag::AacSequenceHeader(asc) => {
                let aac = AudioConfig::Aac(AacConfig::parse(&asc)?);
                if self.config.audio.as_ref() != Some(&aac) {
                    let mut next = self.config.clone();
                    next.audio = Some(aac);
                    self.reconfigure(next)?;
                }
                return Ok(());
            }
            AudioTag::AacRaw(data) => {
                if !matches!(self.config.audio, Some(AudioConfig::Aac(_))) {
                    self.warn_once(
                        "early audio",
                        "AAC audio before its sequence header: dropped",
                    );
                    return Ok(());
                }
                data
            }
            AudioTag::Mp3(data) => {
                if let Some((sample_rate, channels, _)) = flv::mp3_header(&data) {
                    let mp3 = AudioConfig::Mp3 {
                        sample_rate,
                        channels,
                    };
                    if self.config.audio.as_ref() != Some(&mp3) {
                        let mut next = self.config.clone();
                        next.audio = Some(mp3);
                        self.reconfigure(next)?;
                    }
                }
                data
            }
            AudioTag::Unsupported(what) => {
                self.warn_once(
                    "audio codec",
                    format_args!("audio codec {what} is not supported (send AAC or MP3): dropped"),
                );
                return Ok(());
            }
        };
        let (ms, jumped) = self.clock.map(Track::Audio, raw_ts);
        let frame = Frame {
            track: Track::Audio,
            dts: ms * 90,
            pts: ms * 90,
            key: true,
            data,
        };
        self.frame(frame, jumped)
    }

    fn reconfigure(&mut self, next: StreamConfig) -> Result<(), StreamError> {
        self.config = next.clone();
        self.stream.set_source(SourceStatus {
            config: next.clone(),
            since: self.since,
            remote: self.remote,
        });
        if let (Some(p), Some(out)) = (self.packager.as_mut(), &self.out) {
            let seg = p.reconfigure(next.clone())?;
            deliver(out, p, seg);
            out.set_info(crate::hls::playlist::StreamInfo::of(&next));
        }
        // A running ladder restarts with the new codecs (its renditions get a discontinuity).
        if self.ladder.is_some() {
            self.restart_ladder();
        }
        Ok(())
    }

    /// Stops the running ladder and starts it again for the stream's codecs now: rungs
    /// it no longer runs are released and leave the master playlist.
    fn restart_ladder(&mut self) {
        let (Some(old), Some(plan)) = (self.ladder.take(), &self.plan) else {
            return;
        };
        let before = old.stop();
        self.ladder_started = Instant::now();
        self.ladder = plan.start(
            &self.stream,
            self.id,
            &self.config,
            self.expect.video_kbps,
            self.last_dts.unwrap_or(0),
        );
        let kept = self
            .ladder
            .as_ref()
            .map(Ladder::streams)
            .unwrap_or_default();
        for s in before {
            if !kept.iter().any(|k| Arc::ptr_eq(k, &s)) {
                self.streams.unpublish(&s, self.id, self.lifetimes);
            }
        }
        self.list_variants();
    }

    fn ready(&self, at_ms: i64) -> bool {
        let video_ok = self.config.video.is_some() || self.expect.video == Some(false);
        let audio_ok = self.config.audio.is_some() || self.expect.audio != Some(true);
        let some_track = self.config.video.is_some() || self.config.audio.is_some();
        let waited = self
            .first_ms
            .is_some_and(|f| at_ms - f >= CONFIG_WAIT_MS * 90);
        some_track && ((video_ok && audio_ok) || waited)
    }

    /// The master playlist lists what runs now: the ladder's rungs (each once it has a
    /// segment) and the pass-through; without a ladder, nothing (a media playlist).
    fn list_variants(&self) {
        let mut names = self.ladder.as_ref().map(Ladder::names).unwrap_or_default();
        if self.ladder.is_some() && self.source_variant.is_some() {
            names.push(crate::ladder::SOURCE);
        }
        self.stream.retain_variants(&names);
    }

    fn frame(&mut self, frame: Frame, jumped: bool) -> Result<(), StreamError> {
        self.first_ms.get_or_insert(frame.dts);
        self.last_dts = Some(frame.dts);
        if !self.started_packaging {
            if !self.ready(frame.dts) {
                return Ok(());
            }
            self.started_packaging = true;
            if let Some(plan) = &self.plan {
                self.ladder = plan.start(
                    &self.stream,
                    self.id,
                    &self.config,
                    self.expect.video_kbps,
                    frame.dts,
                );
                if self.ladder.is_some() {
                    let source = plan.passthrough(&self.stream, self.id, &self.config);
                    (self.out, self.source_variant) = match source {
                        Some((s, v)) => (Some(s), Some(v)),
                        None => (None, None),
                    };
                }
            }
            self.list_variants();
            if let Some(out) = &self.out {
                out.set_info(crate::hls::playlist::StreamInfo::of(&self.config));
                self.resumed = out.has_segments();
                self.packager = Some(Packager::new(
                    self.config.clone(),
                    self.target_secs,
                    self.resumed,
                    out.format(),
                    out.part_target(),
                )?);
            }
        }
        if jumped {
            tracing::info!(stream = %self.stream.slug(), "the publisher's clock jumped: a discontinuity in the playlist");
        }
        if let Some(ladder) = self.ladder.as_mut() {
            ladder.push(&frame);
            // A ladder whose threads died (a failure they could not recover from) is started
            // again, at most every 10 s; the renditions continue after a discontinuity.
            if !ladder.is_running() && self.ladder_started.elapsed() > LADDER_RETRY {
                tracing::warn!(stream = %self.stream.slug(), "the transcoder stopped; starting it again");
                self.restart_ladder();
            }
        }
        let (Some(p), Some(out)) = (self.packager.as_mut(), &self.out) else {
            return Ok(());
        };
        if jumped {
            let seg = p.clock_jumped()?;
            deliver(out, p, seg);
        }
        let seg = p.push(&frame)?;
        let listed = seg.is_some();
        deliver(out, p, seg);
        // The pass-through is listed in the master playlist once it has a segment, at the
        // bandwidth it measures.
        if listed
            && self.ladder.is_some()
            && let Some(variant) = self.source_variant.as_mut()
        {
            if let Some(kbps) = out.recent_bitrate_kbps() {
                variant.bandwidth = u64::from(kbps) * 1200;
                variant.average_bandwidth = u64::from(kbps) * 1000;
            }
            if self.stream.has_variant(crate::ladder::SOURCE) {
                self.stream
                    .set_variant_bandwidth(crate::ladder::SOURCE, variant.bandwidth);
            } else {
                self.stream.set_variant(variant.clone());
            }
        }
        Ok(())
    }

    /// The publisher left: the last partial segment is listed, the stream waits for a
    /// reconnect (then ends).
    pub fn finish(self) {
        drop(self);
    }
}

/// Hands the packager's finished parts, then the segment they belong to, to the stream.
fn deliver(stream: &LiveStream, p: &mut Packager, seg: Option<SegmentOut>) {
    for part in p.take_parts() {
        stream.push_part(part);
    }
    if let Some(seg) = seg {
        stream.push(seg);
    }
}

/// However the publisher's task ends (a clean exit, an error, a panic in the protocol
/// library), the stream is released: otherwise its key would stay "already being
/// published" until a restart.
impl Drop for Publisher {
    fn drop(&mut self) {
        if let Some(tap) = &self.tap {
            tap.stop(self.id);
        }
        if let (Some(p), Some(out)) = (self.packager.as_mut(), &self.out) {
            match p.finish() {
                Ok(seg) => deliver(out, p, seg),
                Err(e) => {
                    tracing::warn!(stream = %self.stream.slug(), "the last segment was lost: {e}")
                }
            }
        }
        // The ladder's threads list their last segments before its streams are released.
        if let Some(ladder) = self.ladder.take() {
            for stream in ladder.stop() {
                self.streams.unpublish(&stream, self.id, self.lifetimes);
            }
        }
        if let Some(out) = &self.out
            && !Arc::ptr_eq(out, &self.stream)
        {
            self.streams.unpublish(out, self.id, self.lifetimes);
        }
        self.streams
            .unpublish(&self.stream, self.id, self.lifetimes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::{Limits, SegmentFormat, ServiceId};

    fn publisher() -> (Publisher, Arc<LiveStream>) {
        let streams = Arc::new(LiveStreams::default());
        let id = PublisherId::new();
        let stream = streams
            .publish(
                "cam",
                ServiceId(1),
                id,
                Limits::default(),
                crate::hls::live::Packaging {
                    format: SegmentFormat::Ts,
                    target_secs: 2,
                    part_target: None,
                },
            )
            .expect("free");
        let p = Publisher::new(
            id,
            streams,
            Arc::clone(&stream),
            2.0,
            Lifetimes::default(),
            "127.0.0.1:1935".parse().expect("addr"),
        );
        (p, stream)
    }

    #[test]
    fn media_before_its_sequence_header_is_dropped_not_fatal() {
        let (mut p, stream) = publisher();
        // Raw AAC and an H.264 picture, neither announced by a sequence header.
        for ts in (0..3000).step_by(23) {
            p.audio(Bytes::from_static(&[0xAF, 1, 0x21, 0x10, 0x04]), ts)
                .expect("dropped, not an error");
        }
        p.video(
            Bytes::from_static(&[0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]),
            3000,
        )
        .expect("dropped, not an error");
        assert!(stream.playlist().is_empty());
        assert!(p.config().video.is_none() && p.config().audio.is_none());
        // A malformed sequence header is an error that ends the publisher (its connection
        // is closed with the reason), not a panic.
        assert!(
            p.video(Bytes::from_static(&[0x17, 0, 0, 0, 0, 1, 2]), 3100)
                .is_err()
        );
        assert!(p.audio(Bytes::from_static(&[0xAF, 0, 0x00]), 3100).is_err());
    }
}
