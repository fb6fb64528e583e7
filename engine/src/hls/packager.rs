//! Cuts a publisher's frames into HLS segments: a new segment at the first video keyframe
//! at least a target duration after the current one began (audio-only streams: at the
//! first audio frame past it). MPEG-TS segments start with PAT/PMT and, with video, an IDR;
//! fMP4 segments are one `moof`+`mdat` fragment each, after an init segment that changes
//! only with the stream's configuration.

use std::time::SystemTime;

use bytes::Bytes;
use mpeg2ts::es::StreamType;

use super::fmp4::{self, AUDIO_TRACK, Fmp4Error, Run, Sample, VIDEO_TRACK};
use super::ts::{MuxError, Program, TsMuxer};
use crate::admission::SegmentFormat;
use crate::media::{AudioConfig, Frame, StreamConfig, TIMESCALE, Track, flv};

/// A finished LL-HLS partial segment (fMP4 only): one `moof`+`mdat` fragment; the parts of
/// a segment, concatenated, are the segment.
#[derive(Debug, Clone)]
pub struct PartOut {
    pub data: Bytes,
    /// Seconds.
    pub duration: f64,
    /// Starts with a keyframe (or is audio only): a player can start here.
    pub independent: bool,
    /// The first part after a break.
    pub discontinuity: bool,
    /// A new init segment this part (and what follows) needs.
    pub init: Option<Bytes>,
}

/// A finished segment.
#[derive(Debug, Clone)]
pub struct SegmentOut {
    pub data: Bytes,
    /// Seconds.
    pub duration: f64,
    /// Wall-clock time of its first frame.
    pub started_at: SystemTime,
    /// The first segment after a break (reconnect, encoder restart, new resolution).
    pub discontinuity: bool,
    /// fMP4: a new init segment this segment (and the ones after it) needs.
    pub init: Option<Bytes>,
}

#[derive(Debug)]
struct Open {
    start_dts: i64,
    last_dts: i64,
    /// The gap between the last two video (or audio) frames: the last frame's duration.
    last_step: i64,
    started_at: SystemTime,
    discontinuity: bool,
}

/// Why a frame could not be packaged.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error(transparent)]
    Mux(#[from] MuxError),
    #[error(transparent)]
    Fmp4(#[from] Fmp4Error),
    #[error(transparent)]
    Avc(#[from] crate::media::avc::BadAvc),
    /// A segment can only be cut at a keyframe; without one it would grow without bound.
    #[error("no keyframe for {0} s: set the encoder's keyframe interval to 2 s")]
    NoKeyframe(i64),
}

/// The longest a segment may grow waiting for a keyframe, in seconds (at least this, or six
/// target durations).
const MAX_SEGMENT_SECS: i64 = 30;

/// A frame waiting for its fMP4 fragment.
#[derive(Debug)]
struct Pending {
    dts: i64,
    pts: i64,
    key: bool,
    data: Bytes,
}

/// fMP4 state: the segment's frames so far, and what continues across segments.
#[derive(Debug)]
struct Fragments {
    video: Vec<Pending>,
    audio: Vec<Pending>,
    /// The audio decode time the next fragment continues from (audio timescale).
    audio_next: Option<u64>,
    sequence: u32,
    init: Bytes,
    init_sent: bool,
    /// LL-HLS: the part target (90 kHz) and where the current part began; the parts of the
    /// open segment so far (concatenated, they are the segment).
    part_target: Option<i64>,
    part_start: Option<i64>,
    segment_parts: Vec<Bytes>,
}

#[derive(Debug)]
enum Muxer {
    Ts(TsMuxer),
    Fmp4(Fragments),
}

#[derive(Debug)]
pub struct Packager {
    config: StreamConfig,
    target: i64,
    muxer: Muxer,
    open: Option<Open>,
    next_discontinuity: bool,
    part_target: Option<i64>,
    /// Parts finished and not yet taken by [`Packager::take_parts`].
    parts_out: Vec<PartOut>,
    /// The wall-clock time of one decode time, so every segment's date follows the media
    /// timeline (arrival times would drift from the durations); set again after a break.
    anchor: Option<(SystemTime, i64)>,
}

fn program(config: &StreamConfig) -> Program {
    Program {
        video: config.video.is_some(),
        audio: config.audio.as_ref().map(|a| match a {
            AudioConfig::Aac(_) => StreamType::AdtsAac,
            AudioConfig::Mp3 { .. } => StreamType::Mpeg1Audio,
        }),
    }
}

fn muxer(
    format: SegmentFormat,
    config: &StreamConfig,
    part_target: Option<i64>,
) -> Result<Muxer, PackError> {
    Ok(match format {
        SegmentFormat::Ts => Muxer::Ts(TsMuxer::new(program(config))),
        SegmentFormat::Fmp4 => Muxer::Fmp4(Fragments {
            video: Vec::new(),
            audio: Vec::new(),
            audio_next: None,
            sequence: 1,
            init: fmp4::init_segment(config)?,
            init_sent: false,
            part_target,
            part_start: None,
            segment_parts: Vec::new(),
        }),
    })
}

/// Builds a part from the frames pending in `f` (ending where `next_start` begins).
fn emit_part(
    f: &mut Fragments,
    config: &StreamConfig,
    next_start: i64,
    last_step: i64,
    discontinuity: bool,
    out: &mut Vec<PartOut>,
) -> Result<(), PackError> {
    let start = f
        .video
        .first()
        .or(f.audio.first())
        .map(|p| p.dts)
        .or(f.part_start);
    let independent = f.video.first().is_none_or(|v| v.key);
    let runs = runs(f, config, next_start, last_step);
    if runs.is_empty() {
        return Ok(());
    }
    let data = fmp4::fragment(f.sequence, &runs)?;
    f.sequence = f.sequence.wrapping_add(1);
    let init = (!f.init_sent).then(|| f.init.clone());
    f.init_sent = true;
    f.segment_parts.push(data.clone());
    out.push(PartOut {
        data,
        duration: (next_start - f.part_start.or(start).unwrap_or(next_start)).max(1) as f64
            / TIMESCALE as f64,
        independent,
        discontinuity,
        init,
    });
    Ok(())
}

impl Packager {
    /// `discontinuity`: the first segment follows an earlier publisher's.
    pub fn new(
        config: StreamConfig,
        target_secs: f64,
        discontinuity: bool,
        format: SegmentFormat,
        part_secs: Option<f64>,
    ) -> Result<Self, PackError> {
        let part_target = part_secs
            .filter(|_| format == SegmentFormat::Fmp4)
            .map(|s| (s * TIMESCALE as f64) as i64);
        Ok(Self {
            muxer: muxer(format, &config, part_target)?,
            config,
            target: (target_secs * TIMESCALE as f64) as i64,
            open: None,
            next_discontinuity: discontinuity,
            part_target,
            parts_out: Vec::new(),
            anchor: None,
        })
    }

    /// When the frame decoded at `dts` happened, on the anchored timeline.
    fn wall_clock(&mut self, dts: i64) -> SystemTime {
        match self.anchor {
            Some((at, anchor_dts)) => {
                let offset = std::time::Duration::from_micros(
                    u64::try_from((dts - anchor_dts).max(0) * 1_000_000 / TIMESCALE).unwrap_or(0),
                );
                at + offset
            }
            None => {
                let now = SystemTime::now();
                self.anchor = Some((now, dts));
                now
            }
        }
    }

    /// Dates segments from `at` for the frame decoded at `dts` (the transcoder's renditions
    /// share their source's anchor, so their program dates agree).
    pub fn set_anchor(&mut self, at: SystemTime, dts: i64) {
        self.anchor = Some((at, dts));
    }

    /// The LL-HLS parts finished since the last call, in order. Take them before the
    /// segment the same call returned: they belong to it.
    pub fn take_parts(&mut self) -> Vec<PartOut> {
        std::mem::take(&mut self.parts_out)
    }

    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    fn format(&self) -> SegmentFormat {
        match self.muxer {
            Muxer::Ts(_) => SegmentFormat::Ts,
            Muxer::Fmp4(_) => SegmentFormat::Fmp4,
        }
    }

    /// The stream's codecs changed (a new sequence header: encoder restart, new
    /// resolution): the current segment ends, the next starts with a discontinuity (and,
    /// in fMP4, a new init segment).
    pub fn reconfigure(&mut self, config: StreamConfig) -> Result<Option<SegmentOut>, PackError> {
        let done = self.finish()?;
        let rebuild = match &self.muxer {
            Muxer::Ts(ts) => program(&config) != ts.program(),
            Muxer::Fmp4(_) => true,
        };
        if rebuild {
            self.muxer = muxer(self.format(), &config, self.part_target)?;
        }
        self.config = config;
        self.next_discontinuity = true;
        self.anchor = None;
        Ok(done)
    }

    /// The source's clock jumped: the next segment starts with a discontinuity.
    pub fn clock_jumped(&mut self) -> Result<Option<SegmentOut>, PackError> {
        let done = self.finish()?;
        self.next_discontinuity = true;
        self.anchor = None;
        if let Muxer::Fmp4(f) = &mut self.muxer {
            f.audio_next = None;
        }
        Ok(done)
    }

    /// Adds a frame; returns the segment it closed, if any.
    pub fn push(&mut self, frame: &Frame) -> Result<Option<SegmentOut>, PackError> {
        let has_video = self.config.video.is_some();
        let starts_here = match frame.track {
            Track::Video => frame.key,
            Track::Audio => !has_video,
        };
        let mut done = None;
        match &self.open {
            None if !starts_here => return Ok(None), // wait for a point a player can start at
            Some(open) if starts_here && frame.dts - open.start_dts >= self.target => {
                done = self.close(frame.dts)?;
            }
            Some(open)
                if frame.dts - open.start_dts
                    > (MAX_SEGMENT_SECS * TIMESCALE).max(6 * self.target) =>
            {
                return Err(PackError::NoKeyframe(
                    (frame.dts - open.start_dts) / TIMESCALE,
                ));
            }
            _ => {}
        }
        // LL-HLS: a part ends at the first video frame (audio-only: any frame) past the part
        // target.
        if let (Muxer::Fmp4(f), Some(open)) = (&mut self.muxer, &self.open)
            && let Some(part_target) = f.part_target
            && (frame.track == Track::Video || !has_video)
            && frame.dts - f.part_start.unwrap_or(open.start_dts) >= part_target
        {
            let first = f.segment_parts.is_empty() && open.discontinuity;
            emit_part(
                f,
                &self.config,
                frame.dts,
                open.last_step,
                first,
                &mut self.parts_out,
            )?;
            f.part_start = Some(frame.dts);
        }
        if self.open.is_none() {
            match &mut self.muxer {
                Muxer::Ts(ts) => ts.write_tables()?,
                Muxer::Fmp4(f) => f.part_start = Some(frame.dts),
            }
            self.open = Some(Open {
                start_dts: frame.dts,
                last_dts: frame.dts,
                last_step: 0,
                started_at: self.wall_clock(frame.dts),
                discontinuity: std::mem::take(&mut self.next_discontinuity),
            });
        }
        self.write(frame)?;
        if let Some(open) = self.open.as_mut()
            && (frame.track == Track::Video || !has_video)
            && frame.dts > open.last_dts
        {
            open.last_step = frame.dts - open.last_dts;
            open.last_dts = frame.dts;
        }
        Ok(done)
    }

    fn write(&mut self, frame: &Frame) -> Result<(), PackError> {
        let known = match frame.track {
            Track::Video => self.config.video.is_some(),
            Track::Audio => self.config.audio.is_some(),
        };
        // A track the stream has no configuration for (no sequence header yet): skipped.
        if !known {
            return Ok(());
        }
        match &mut self.muxer {
            Muxer::Fmp4(f) => {
                let pending = Pending {
                    dts: frame.dts,
                    pts: frame.pts,
                    key: frame.key,
                    data: frame.data.clone(),
                };
                match frame.track {
                    Track::Video => f.video.push(pending),
                    Track::Audio => f.audio.push(pending),
                }
            }
            Muxer::Ts(ts) => match (frame.track, &self.config.video, &self.config.audio) {
                (Track::Video, Some(avc), _) => {
                    let annex_b = avc.to_annex_b(&frame.data, frame.key)?;
                    ts.write_pes(Track::Video, frame.dts, frame.pts, frame.key, &annex_b)?;
                }
                (Track::Audio, _, Some(AudioConfig::Aac(aac))) => {
                    let mut adts = Vec::with_capacity(frame.data.len() + 7);
                    adts.extend_from_slice(&aac.adts_header(frame.data.len()));
                    adts.extend_from_slice(&frame.data);
                    ts.write_pes(Track::Audio, frame.dts, frame.pts, true, &adts)?;
                }
                (Track::Audio, _, Some(AudioConfig::Mp3 { .. })) => {
                    ts.write_pes(Track::Audio, frame.dts, frame.pts, true, &frame.data)?;
                }
                _ => {}
            },
        }
        Ok(())
    }

    fn close(&mut self, next_start: i64) -> Result<Option<SegmentOut>, PackError> {
        let Some(open) = self.open.take() else {
            return Ok(None);
        };
        let (data, init) = match &mut self.muxer {
            Muxer::Ts(ts) => (ts.take(), None),
            Muxer::Fmp4(f) if f.part_target.is_some() => {
                let first = f.segment_parts.is_empty() && open.discontinuity;
                emit_part(
                    f,
                    &self.config,
                    next_start,
                    open.last_step,
                    first,
                    &mut self.parts_out,
                )?;
                f.part_start = None;
                let parts = std::mem::take(&mut f.segment_parts);
                if parts.is_empty() {
                    return Ok(None);
                }
                let mut data = Vec::with_capacity(parts.iter().map(Bytes::len).sum());
                for p in &parts {
                    data.extend_from_slice(p);
                }
                // The init went out with the first part.
                (Bytes::from(data), None)
            }
            Muxer::Fmp4(f) => {
                let runs = runs(f, &self.config, next_start, open.last_step);
                if runs.is_empty() {
                    return Ok(None);
                }
                let data = fmp4::fragment(f.sequence, &runs)?;
                f.sequence = f.sequence.wrapping_add(1);
                let init = (!f.init_sent).then(|| f.init.clone());
                f.init_sent = true;
                (data, init)
            }
        };
        if data.is_empty() {
            return Ok(None);
        }
        Ok(Some(SegmentOut {
            data,
            duration: (next_start - open.start_dts).max(1) as f64 / TIMESCALE as f64,
            started_at: open.started_at,
            discontinuity: open.discontinuity,
            init,
        }))
    }

    /// Ends the segment in progress (the publisher left or the stream changed).
    pub fn finish(&mut self) -> Result<Option<SegmentOut>, PackError> {
        let Some(end) = self.open.as_ref().map(|o| o.last_dts + o.last_step.max(1)) else {
            return Ok(None);
        };
        self.close(end)
    }
}

/// The segment's frames as fMP4 runs: durations from each frame to the next (the last
/// video frame lasts until the next segment starts); audio on a running clock of whole
/// frames, re-anchored only if it drifts from the publisher's timestamps.
fn runs(f: &mut Fragments, config: &StreamConfig, next_start: i64, last_step: i64) -> Vec<Run> {
    let mut runs = Vec::with_capacity(2);
    let video = std::mem::take(&mut f.video);
    if let Some(first) = video.first() {
        let base = first.dts.max(0) as u64;
        let mut samples = Vec::with_capacity(video.len());
        for (i, p) in video.iter().enumerate() {
            let next = video
                .get(i + 1)
                .map_or(next_start.max(p.dts + last_step.max(1)), |n| n.dts);
            samples.push(Sample {
                duration: u32::try_from((next - p.dts).max(1)).unwrap_or(1),
                cts_offset: i32::try_from(p.pts - p.dts).unwrap_or(0),
                key: p.key,
                data: p.data.clone(),
            });
        }
        runs.push(Run {
            track_id: VIDEO_TRACK,
            base_decode_time: base,
            samples,
        });
    }
    let audio = std::mem::take(&mut f.audio);
    if let Some(first) = audio.first() {
        let rate = i64::from(fmp4::audio_timescale(config));
        let frame_len = |p: &Pending| -> u32 {
            match &config.audio {
                Some(AudioConfig::Mp3 { .. }) => flv::mp3_header(&p.data).map_or(1152, |h| h.2),
                _ => 1024,
            }
        };
        let actual = (first.dts.max(0) * rate / TIMESCALE) as u64;
        let base = match f.audio_next {
            Some(next) if next.abs_diff(actual) <= 2 * u64::from(frame_len(first)) => next,
            _ => actual,
        };
        let samples: Vec<Sample> = audio
            .iter()
            .map(|p| Sample {
                duration: frame_len(p),
                cts_offset: 0,
                key: true,
                data: p.data.clone(),
            })
            .collect();
        f.audio_next = Some(base + samples.iter().map(|s| u64::from(s.duration)).sum::<u64>());
        runs.push(Run {
            track_id: AUDIO_TRACK,
            base_decode_time: base,
            samples,
        });
    }
    runs
}

#[cfg(test)]
mod tests {
    //! Where segments and LL-HLS parts are cut, as exact lists, for frame sequences that
    //! exercise each rule: keyframe spacing against the target duration, audio-only streams,
    //! a clock jump, a codec change, parts, and a stream without keyframes.

    use mp4_atom::{Decode, Moof, Styp};

    use super::*;
    use crate::hls::testing::{aac_config, aac_frames, av_config, interleave, video};
    use crate::media::aac::AacConfig;
    use crate::media::fixtures::{self as fx, FRAME_TICKS};

    /// What happens to the packager, in order.
    #[derive(Debug)]
    enum Step {
        Frame(Frame),
        /// The publisher's clock jumped before the next frame.
        Jump,
        /// A new sequence header.
        Codec(StreamConfig),
        /// The publisher left.
        Finish,
    }

    /// `count` pictures from `dts` (an IDR every `gop`) with their audio.
    fn av(dts: i64, count: usize, gop: usize) -> Vec<Step> {
        let pictures = fx::pictures(dts, count, gop);
        let end = dts + count as i64 * FRAME_TICKS;
        interleave(&pictures, aac_frames(dts, end))
            .into_iter()
            .map(Step::Frame)
            .collect()
    }

    /// One line per part and segment handed out, parts before the segment they belong to
    /// (as the publisher delivers them): `segment 2.000 s`, flags after the duration.
    /// Also checks that an LL-HLS segment is its parts, concatenated.
    fn cuts(p: &mut Packager, steps: Vec<Step>) -> (Vec<String>, Vec<SegmentOut>) {
        let mut log = Vec::new();
        let mut segments = Vec::new();
        let mut parts: Vec<u8> = Vec::new();
        for step in steps {
            let seg = match step {
                Step::Frame(f) => p.push(&f),
                Step::Jump => p.clock_jumped(),
                Step::Codec(c) => p.reconfigure(c),
                Step::Finish => p.finish(),
            }
            .expect("packaged");
            for part in p.take_parts() {
                let mut line = format!("  part {:.3} s", part.duration);
                for (on, flag) in [
                    (part.independent, " independent"),
                    (part.discontinuity, " discontinuity"),
                    (part.init.is_some(), " init"),
                ] {
                    if on {
                        line.push_str(flag);
                    }
                }
                log.push(line);
                parts.extend_from_slice(&part.data);
            }
            if let Some(seg) = seg {
                let mut line = format!("segment {:.3} s", seg.duration);
                for (on, flag) in [
                    (seg.discontinuity, " discontinuity"),
                    (seg.init.is_some(), " init"),
                ] {
                    if on {
                        line.push_str(flag);
                    }
                }
                log.push(line);
                if !parts.is_empty() {
                    assert_eq!(seg.data[..], parts[..], "a segment is its parts");
                    parts.clear();
                }
                segments.push(seg);
            }
        }
        (log, segments)
    }

    fn packager(config: StreamConfig, format: SegmentFormat, part: Option<f64>) -> Packager {
        Packager::new(config, 2.0, false, format, part).expect("packager")
    }

    /// Each run's `tfdt` in an fMP4 segment, by track.
    fn tfdts(segment: &[u8]) -> Vec<(u32, u64)> {
        let mut buf = segment;
        Styp::decode(&mut buf).expect("styp");
        let moof = Moof::decode(&mut buf).expect("moof");
        moof.traf
            .iter()
            .map(|t| {
                let tfdt = t.tfdt.as_ref().expect("tfdt");
                (t.tfhd.track_id, tfdt.base_media_decode_time)
            })
            .collect()
    }

    #[test]
    fn keyframes_every_second_make_segments_of_the_target() {
        // Two pictures before the first IDR are dropped: a segment starts where a player can.
        let mut steps: Vec<Step> = fx::pictures(-2 * FRAME_TICKS, 2, 3)
            .iter()
            .map(|p| {
                Step::Frame(Frame {
                    key: false,
                    ..video(p)
                })
            })
            .collect();
        steps.extend(av(0, 150, 25));
        steps.push(Step::Finish);
        let (log, segments) = cuts(&mut packager(av_config(), SegmentFormat::Ts, None), steps);
        assert_eq!(
            log,
            ["segment 2.000 s", "segment 2.000 s", "segment 2.000 s"]
        );
        // Each TS segment starts with a PAT: sync byte, payload start, PID 0.
        for s in &segments {
            assert_eq!(s.data[..3], [0x47, 0x40, 0x00]);
        }
    }

    #[test]
    fn keyframes_further_apart_than_the_target_set_the_length() {
        // An IDR every 3 s: a segment cannot end before the next one.
        let mut steps = av(0, 175, 75);
        steps.push(Step::Finish);
        let (log, _) = cuts(&mut packager(av_config(), SegmentFormat::Ts, None), steps);
        assert_eq!(
            log,
            ["segment 3.000 s", "segment 3.000 s", "segment 1.000 s"]
        );
        // An IDR every 1.16 s: the first one at least 2 s in, so 2.32 s each.
        let mut steps = av(0, 145, 29);
        steps.push(Step::Finish);
        let (log, _) = cuts(&mut packager(av_config(), SegmentFormat::Ts, None), steps);
        assert_eq!(
            log,
            ["segment 2.320 s", "segment 2.320 s", "segment 1.160 s"]
        );
    }

    #[test]
    fn audio_only_cuts_at_the_first_frame_past_the_target() {
        // 2 s is 93.75 AAC frames: each segment is 94 of them.
        let mut steps: Vec<Step> = aac_frames(0, 200 * fx::AAC_TICKS)
            .into_iter()
            .map(Step::Frame)
            .collect();
        steps.push(Step::Finish);
        let (log, _) = cuts(&mut packager(aac_config(), SegmentFormat::Ts, None), steps);
        assert_eq!(
            log,
            ["segment 2.005 s", "segment 2.005 s", "segment 0.256 s"]
        );
    }

    #[test]
    fn fmp4_audio_runs_on_a_clock_of_whole_frames() {
        // Timestamps as RTMP carries them, in whole milliseconds (21 or 22 ms apart): the
        // durations in the playlist follow them (frame 94 is at 2005 ms, 188 at 4010 ms,
        // the last, 199, at 4245 ms and 21 ms long), but the second segment's audio starts
        // exactly 94 frames after the first's in the media, not at 2005 ms.
        let mut steps: Vec<Step> = (0..200i64)
            .map(|i| {
                let t = (i * 1024 * 1000 / 48_000) * 90;
                Step::Frame(Frame {
                    track: Track::Audio,
                    dts: t,
                    pts: t,
                    key: true,
                    data: Bytes::from_static(fx::AAC_SILENT),
                })
            })
            .collect();
        steps.push(Step::Finish);
        let (log, segments) = cuts(
            &mut packager(aac_config(), SegmentFormat::Fmp4, None),
            steps,
        );
        assert_eq!(
            log,
            ["segment 2.005 s init", "segment 2.005 s", "segment 0.256 s"]
        );
        let starts: Vec<_> = segments.iter().map(|s| tfdts(&s.data)).collect();
        assert_eq!(
            starts,
            [
                [(AUDIO_TRACK, 0)],
                [(AUDIO_TRACK, 94 * 1024)],
                [(AUDIO_TRACK, 188 * 1024)]
            ]
        );
    }

    #[test]
    fn a_clock_jump_ends_the_segment_and_the_next_one_is_a_discontinuity() {
        // 1.52 s of stream, then the clock jumps: the publisher's timeline carries on 1 ms
        // after the last frame, from an IDR.
        let mut steps = av(0, 38, 25);
        steps.push(Step::Jump);
        let resumed = 38 * FRAME_TICKS + 90;
        steps.extend(av(resumed, 100, 25));
        steps.push(Step::Finish);
        let (log, segments) = cuts(&mut packager(av_config(), SegmentFormat::Fmp4, None), steps);
        assert_eq!(
            log,
            [
                "segment 1.520 s init",
                "segment 2.000 s discontinuity",
                "segment 2.000 s",
            ]
        );
        // The video's tfdt follows the new timeline; the audio is anchored again on it.
        assert_eq!(
            tfdts(&segments[0].data),
            [(VIDEO_TRACK, 0), (AUDIO_TRACK, 0)]
        );
        let audio_at = (resumed + fx::AAC_TICKS - 1) / fx::AAC_TICKS * fx::AAC_TICKS;
        assert_eq!(
            tfdts(&segments[1].data),
            [
                (VIDEO_TRACK, resumed as u64),
                (AUDIO_TRACK, (audio_at * 48_000 / TIMESCALE) as u64)
            ]
        );
    }

    #[test]
    fn a_codec_change_ends_the_segment_and_brings_a_new_init() {
        let mut steps = av(0, 75, 25);
        let mut stereo = av_config();
        let asc = Bytes::from_static(&[0x12, 0x10]); // AAC-LC, 44.1 kHz, stereo
        stereo.audio = Some(AudioConfig::Aac(AacConfig::parse(&asc).expect("ASC")));
        steps.push(Step::Codec(stereo));
        steps.extend(av(75 * FRAME_TICKS, 75, 25));
        steps.push(Step::Finish);
        let (log, _) = cuts(&mut packager(av_config(), SegmentFormat::Fmp4, None), steps);
        assert_eq!(
            log,
            [
                "segment 2.000 s init",
                "segment 1.000 s",
                "segment 2.000 s discontinuity init",
                "segment 1.000 s",
            ]
        );
    }

    #[test]
    fn ll_hls_parts_end_at_the_first_picture_past_a_third_of_a_second() {
        // Parts of 9 pictures (0.36 s); a segment's last part ends where the segment does.
        let mut steps = av(0, 100, 25);
        steps.push(Step::Finish);
        let mut p = Packager::new(av_config(), 2.0, true, SegmentFormat::Fmp4, Some(1.0 / 3.0))
            .expect("packager");
        let (log, _) = cuts(&mut p, steps);
        assert_eq!(
            log,
            [
                "  part 0.360 s independent discontinuity init",
                "  part 0.360 s",
                "  part 0.360 s",
                "  part 0.360 s",
                "  part 0.360 s",
                "  part 0.200 s",
                "segment 2.000 s discontinuity",
                "  part 0.360 s independent",
                "  part 0.360 s",
                "  part 0.360 s",
                "  part 0.360 s",
                "  part 0.360 s",
                "  part 0.200 s",
                "segment 2.000 s",
            ]
        );
    }

    #[test]
    fn a_stream_without_keyframes_is_refused_after_30_s() {
        let mut p = packager(av_config(), SegmentFormat::Ts, None);
        let pictures = fx::pictures(0, 800, 3);
        let mut result = Ok(None);
        for (i, pic) in pictures.iter().enumerate() {
            result = p.push(&Frame {
                key: i == 0,
                ..video(pic)
            });
            if result.is_err() {
                break;
            }
        }
        match result {
            Err(PackError::NoKeyframe(secs)) => assert_eq!(secs, 30),
            other => panic!("a segment grew without bound: {other:?}"),
        }
    }
}
