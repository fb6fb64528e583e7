//! On-demand video: an uploaded file decoded once (any codec FFmpeg reads) and encoded into
//! each rung of a ladder (libx264 + AAC). Each rung's frames go through the engine's
//! packager, as a live rendition's do: it cuts MPEG-TS segments on keyframes (written to
//! `00000.ts`, `00001.ts`, …) and says how long each is, and the engine's playlist writer
//! makes the rung's VOD playlist and the ladder's master playlist from those durations.
//! Keyframes are forced on one grid for all rungs (every `segment_secs` of the source's
//! time), so every rung cuts its segments at the same instants and players switch rungs
//! cleanly.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use ff::Rescale;
use ffmpeg_next as ff;
use tidecast_engine::SegmentFormat;
use tidecast_engine::hls::packager::{Packager, SegmentOut};
use tidecast_engine::hls::playlist::StreamInfo;
use tidecast_engine::hls::vod::{self as vod_hls, VodSegment};
use tidecast_engine::media::aac::AacConfig;
use tidecast_engine::media::avc::{AvcConfig, annex_b_to_avcc};
use tidecast_engine::media::{AudioConfig, Frame, StreamConfig, TIMESCALE, Track};
use tidecast_engine::transcode::{RenditionSpec, TranscodeError, VodJob, VodRendition, VodReport};

use crate::audio::Rechunker;
use crate::decode::timeline;
use crate::rendition::{Settings, open_x264, output_size};

/// Packets in a row the decoder may refuse before the file counts as broken.
const MAX_BAD_PACKETS: u32 = 200;

fn err(what: &'static str) -> impl Fn(ff::Error) -> TranscodeError {
    move |e| TranscodeError::failed(what, e)
}

/// The AAC encoders' clock.
const AUDIO_RATE: i32 = 48_000;

/// One rung on its way to disk.
struct Rung {
    spec: RenditionSpec,
    size: (u32, u32),
    graph: Option<ff::filter::Graph>,
    video: ff::encoder::Video,
    audio: Option<ff::encoder::Audio>,
    packager: Packager,
    /// Its folder, and the segments written there so far.
    dir: PathBuf,
    segments: Vec<VodSegment>,
    /// Encoded audio waiting until the video passes it: the packager cuts on video, so a
    /// segment's audio must reach it before the keyframe that ends the segment.
    audio_queue: VecDeque<Frame>,
    /// Bytes the encoders made (the average bandwidth).
    bytes: u64,
    info: StreamInfo,
}

fn packaging(
    what: &'static str,
) -> impl Fn(tidecast_engine::hls::packager::PackError) -> TranscodeError {
    move |e| TranscodeError::failed(what, e)
}

pub fn transcode(job: &VodJob, progress: &mut dyn FnMut(f64)) -> Result<VodReport, TranscodeError> {
    let mut ictx = crate::track::open_file(&job.input)?;
    let (v_index, v_tb, v_params, fps) = {
        let s = ictx
            .streams()
            .best(ff::media::Type::Video)
            .ok_or_else(|| TranscodeError::input("the file has no video"))?;
        let rate = s.avg_frame_rate();
        let known = (rate.denominator() > 0 && rate.numerator() > 0).then(|| f64::from(rate));
        (s.index(), s.time_base(), s.parameters(), known)
    };
    // What the master playlist says is what the file says; the encoder's pacing needs a
    // rate either way.
    let (known_fps, fps) = (fps, fps.unwrap_or(30.0));
    let audio_in = ictx
        .streams()
        .best(ff::media::Type::Audio)
        .map(|s| (s.index(), s.time_base(), s.parameters()));
    let mut vdec = ff::codec::context::Context::from_parameters(v_params)
        .and_then(|c| c.decoder().video())
        .map_err(err("its video cannot be decoded"))?;
    let mut adec = match &audio_in {
        Some((_, _, p)) => Some(
            ff::codec::context::Context::from_parameters(p.clone())
                .and_then(|c| c.decoder().audio())
                .map_err(err("its audio cannot be decoded"))?,
        ),
        None => None,
    };
    let (src_w, src_h) = (vdec.width(), vdec.height());
    if src_w == 0 || src_h == 0 {
        return Err(TranscodeError::input("the video has no picture size"));
    }
    // What the container announces (0 when it does not say): progress, and the yardstick
    // of a file cut short.
    let declared_us = ictx.duration().max(0);
    // Where the file's timeline starts: both tracks are timed from here.
    let t0_us = crate::ffi::start_time_us(&ictx).unwrap_or(0);
    let seg = i64::from(job.segment_secs.max(1)) * TIMESCALE;
    let gop = (fps * f64::from(job.segment_secs.max(1)) * 2.0).round() as u32;

    let mut rungs = Vec::new();
    for spec in pick(&job.renditions, src_h) {
        rungs.push(open_rung(
            job,
            spec,
            (src_w, src_h),
            (fps, known_fps),
            gop,
            audio_in.is_some(),
        )?);
    }
    if rungs.is_empty() {
        return Err(TranscodeError::input("the ladder has no video rendition"));
    }

    let micro = ff::Rational(1, 1_000_000);
    let t0_video = t0_us.rescale(micro, timeline());
    let mut rechunk = Rechunker::new(
        ff::format::Sample::F32(ff::format::sample::Type::Planar),
        ff::ChannelLayout::STEREO,
        AUDIO_RATE as u32,
        rungs[0].audio.as_ref().map_or(1024, |a| a.frame_size()),
    );
    let mut next_key = 0i64;
    let mut decoded = ff::frame::Video::empty();
    let mut pcm = ff::frame::Audio::empty();
    let mut pictures = 0u64;
    // Where the last picture ends, on the timeline.
    let mut end = 0i64;
    let frame = (TIMESCALE as f64 / fps) as i64;
    let mut bad = 0u32;
    let mut last_report = 0.0;
    let on_picture = |picture: &mut ff::frame::Video,
                      rungs: &mut Vec<Rung>,
                      next_key: &mut i64,
                      end: &mut i64|
     -> Result<(), TranscodeError> {
        let Some(pts) = picture.timestamp().or(picture.pts()) else {
            return Ok(());
        };
        let pts = pts.rescale(v_tb, timeline()) - t0_video;
        if pts < 0 {
            return Ok(());
        }
        // Timestamps that go back or repeat (a file spliced from pieces, a looped source)
        // would make the muxer refuse the packets: each picture comes after the last.
        let pts = if pts < *end { *end } else { pts };
        *end = pts + frame;
        let key = pts >= *next_key;
        if key {
            while *next_key <= pts {
                *next_key += seg;
            }
        }
        picture.set_pts(Some(pts));
        for r in rungs.iter_mut() {
            encode_picture(r, picture, key)?;
        }
        Ok(())
    };
    // Where the audio written so far ends (samples at 48 kHz).
    let mut audio_next = 0i64;
    let mut on_audio = |pcm: &mut ff::frame::Audio,
                        a_tb: ff::Rational,
                        rungs: &mut Vec<Rung>|
     -> Result<(), TranscodeError> {
        let Some(pts) = pcm.timestamp().or(pcm.pts()) else {
            return Ok(());
        };
        let pts = pts.rescale(a_tb, timeline()) - t0_video;
        if pts < 0 {
            return Ok(());
        }
        pcm.set_pts(Some(pts));
        // The rechunker's callback speaks FFmpeg errors; a failed write is kept aside and
        // reported as what it was.
        let mut failed = None;
        let result = rechunk.run(pcm, &mut |chunk| {
            // As for pictures: each chunk after the last, whatever the file's timestamps.
            let mut chunk = chunk.clone();
            let pts = chunk.pts().unwrap_or(0).max(audio_next);
            chunk.set_pts(Some(pts));
            audio_next = pts + chunk.samples() as i64;
            for r in rungs.iter_mut() {
                if let Some(enc) = r.audio.as_mut() {
                    enc.send_frame(&chunk)?;
                    if let Err(e) = drain_audio(r) {
                        failed = Some(e);
                        return Err(ff::Error::Exit);
                    }
                }
            }
            Ok(())
        });
        match (result, failed) {
            (_, Some(e)) => Err(e),
            (Err(e), None) => Err(err("the audio could not be encoded")(e)),
            (Ok(()), None) => Ok(()),
        }
    };

    for (stream, packet) in ictx.packets() {
        if job.cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(TranscodeError::Stopped("the video was deleted"));
        }
        if stream.index() == v_index {
            if vdec.send_packet(&packet).is_err() {
                bad += 1;
                if bad > MAX_BAD_PACKETS {
                    return Err(TranscodeError::input(format!(
                        "the video does not decode ({bad} broken packets in a row)"
                    )));
                }
                continue;
            }
            bad = 0;
            while vdec.receive_frame(&mut decoded).is_ok() {
                pictures += 1;
                on_picture(&mut decoded, &mut rungs, &mut next_key, &mut end)?;
            }
            let done = packet.pts().map_or(0.0, |p| {
                (p.rescale(v_tb, micro) - t0_us) as f64 / declared_us.max(1) as f64
            });
            if done - last_report >= 0.01 {
                last_report = done;
                progress(done.clamp(0.0, 0.99));
            }
        } else if let (Some((a_index, a_tb, _)), Some(dec)) = (&audio_in, adec.as_mut())
            && stream.index() == *a_index
        {
            // A broken audio packet is a moment of silence, not a failed file.
            if dec.send_packet(&packet).is_ok() {
                while dec.receive_frame(&mut pcm).is_ok() {
                    on_audio(&mut pcm, *a_tb, &mut rungs)?;
                }
            }
        }
    }
    // What the decoders still hold.
    let _ = vdec.send_eof();
    while vdec.receive_frame(&mut decoded).is_ok() {
        pictures += 1;
        on_picture(&mut decoded, &mut rungs, &mut next_key, &mut end)?;
    }
    if let (Some((_, a_tb, _)), Some(dec)) = (&audio_in, adec.as_mut()) {
        let _ = dec.send_eof();
        while dec.receive_frame(&mut pcm).is_ok() {
            on_audio(&mut pcm, *a_tb, &mut rungs)?;
        }
    }
    if pictures == 0 {
        return Err(TranscodeError::input(
            "no picture of the video could be decoded",
        ));
    }
    let duration_s = end as f64 / TIMESCALE as f64;
    let declared_s = declared_us as f64 / 1e6;
    // A file copied or uploaded only in part still has its header: it says how long it is.
    if declared_s > 0.0 && duration_s < declared_s * 0.9 - 1.0 {
        return Err(TranscodeError::input(format!(
            "the file ends after {duration_s:.1} s of the {declared_s:.1} s it announces: it looks \
             cut short; upload it again whole"
        )));
    }
    let mut report = Vec::new();
    for mut r in rungs {
        r.video.send_eof().map_err(err("the H.264 encoder"))?;
        drain_video(&mut r)?;
        if let Some(a) = r.audio.as_mut() {
            a.send_eof().map_err(err("the AAC encoder"))?;
            drain_audio(&mut r)?;
        }
        // What audio is left goes into the last segment, which ends here.
        while let Some(a) = r.audio_queue.pop_front() {
            let seg = r
                .packager
                .push(&a)
                .map_err(packaging("packaging the audio"))?;
            write_segment(&mut r, seg)?;
        }
        let last = r.packager.finish().map_err(packaging("the last segment"))?;
        write_segment(&mut r, last)?;
        write_file(
            &r.dir.join(vod_hls::PLAYLIST),
            vod_hls::media_playlist(&r.segments).as_bytes(),
        )?;
        let average_bps = (r.bytes as f64 * 8.0 / duration_s.max(0.001)) as u64;
        report.push(VodRendition {
            peak_bps: vod_hls::peak_bps(&r.segments)
                .unwrap_or(average_bps * 12 / 10)
                .max(average_bps),
            average_bps,
            name: r.spec.name.clone(),
            info: r.info,
        });
    }
    let report = VodReport {
        renditions: report,
        duration_s,
    };
    write_file(
        &job.output_dir.join(vod_hls::PLAYLIST),
        vod_hls::master_playlist(&report).as_bytes(),
    )?;
    progress(1.0);
    Ok(report)
}

fn write_file(path: &Path, data: &[u8]) -> Result<(), TranscodeError> {
    std::fs::write(path, data).map_err(|e| TranscodeError::io(path.display().to_string(), e))
}

/// A segment the packager finished: its file, and its line for the playlist.
fn write_segment(r: &mut Rung, seg: Option<SegmentOut>) -> Result<(), TranscodeError> {
    let Some(seg) = seg else {
        return Ok(());
    };
    write_file(
        &r.dir.join(vod_hls::segment_file(r.segments.len())),
        &seg.data,
    )?;
    r.segments.push(VodSegment {
        duration: seg.duration,
        bytes: seg.data.len() as u64,
    });
    Ok(())
}

/// The rungs for a source `src_h` lines high, highest first: those not above it, or the
/// lowest (no higher than the source) if all are.
fn pick(renditions: &[RenditionSpec], src_h: u32) -> Vec<RenditionSpec> {
    let mut video: Vec<RenditionSpec> = renditions
        .iter()
        .filter(|r| r.height > 0)
        .cloned()
        .collect();
    video.sort_by_key(|r| std::cmp::Reverse(r.height));
    let fits: Vec<RenditionSpec> = video
        .iter()
        .filter(|r| r.height <= src_h)
        .cloned()
        .collect();
    if !fits.is_empty() {
        return fits;
    }
    video
        .last()
        .cloned()
        .map(|mut r| {
            r.height = src_h & !1;
            r.width = 0;
            vec![r]
        })
        .unwrap_or_default()
}

fn open_rung(
    job: &VodJob,
    spec: RenditionSpec,
    src: (u32, u32),
    (fps, known_fps): (f64, Option<f64>),
    gop: u32,
    with_audio: bool,
) -> Result<Rung, TranscodeError> {
    let size = output_size(&spec, src.0, src.1);
    let settings = Settings {
        spec: spec.clone(),
        fps,
        max_gop: gop,
        watermark: None,
        audio: None,
    };
    let video = open_x264(&settings, size.0, size.1).map_err(err("the H.264 encoder"))?;
    let avc = AvcConfig::from_annex_b(&crate::ffi::extradata(&video))
        .map_err(|e| TranscodeError::failed("the H.264 encoder's parameter sets", e))?;
    let (audio, audio_config) = if with_audio {
        let enc = open_aac(spec.audio_kbps.max(32)).map_err(err("the AAC encoder"))?;
        let asc = Bytes::from(crate::ffi::extradata(&enc));
        let aac = AacConfig::parse(&asc)
            .map_err(|e| TranscodeError::failed("the AAC encoder's configuration", e))?;
        (Some(enc), Some(AudioConfig::Aac(aac)))
    } else {
        (None, None)
    };
    let config = StreamConfig {
        video: Some(avc),
        audio: audio_config,
    };
    let info = StreamInfo {
        resolution: Some(size),
        frame_rate: known_fps.or(config.video.as_ref().and_then(|v| v.fps)),
        ..StreamInfo::of(&config)
    };
    // Keyframes come only on the grid (one segment apart, give or take a frame): cutting
    // at each of them keeps every rung's segments aligned, so the threshold sits a little
    // below the segment length.
    let packager = Packager::new(
        config,
        f64::from(job.segment_secs.max(1)) * 0.8,
        false,
        SegmentFormat::Ts,
        None,
    )
    .map_err(packaging("packaging"))?;
    let dir = job.output_dir.join(&spec.name);
    std::fs::create_dir_all(&dir).map_err(|e| TranscodeError::io(dir.display().to_string(), e))?;
    Ok(Rung {
        spec,
        size,
        graph: None,
        video,
        audio,
        packager,
        dir,
        segments: Vec::new(),
        audio_queue: VecDeque::new(),
        bytes: 0,
        info,
    })
}

fn open_aac(kbps: u32) -> Result<ff::encoder::Audio, ff::Error> {
    let codec = ff::encoder::find(ff::codec::Id::AAC).ok_or(ff::Error::EncoderNotFound)?;
    let mut ctx = ff::codec::context::Context::new_with_codec(codec)
        .encoder()
        .audio()?;
    ctx.set_rate(AUDIO_RATE);
    ctx.set_channel_layout(ff::ChannelLayout::STEREO);
    ctx.set_format(ff::format::Sample::F32(ff::format::sample::Type::Planar));
    ctx.set_bit_rate(kbps as usize * 1000);
    ctx.set_time_base(ff::Rational::new(1, AUDIO_RATE));
    ctx.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    ctx.open_as(codec)
}

fn encode_picture(
    r: &mut Rung,
    picture: &ff::frame::Video,
    key: bool,
) -> Result<(), TranscodeError> {
    if r.graph.is_none() {
        r.graph = Some(
            crate::watermark::graph(picture, r.size.0, r.size.1, None).map_err(err("scaling"))?,
        );
    }
    let Some(graph) = r.graph.as_mut() else {
        return Ok(());
    };
    let shared = crate::ffi::share(picture).map_err(err("scaling"))?;
    graph
        .get("in")
        .ok_or(TranscodeError::missing("scaling: no input"))?
        .source()
        .add(&shared)
        .map_err(err("scaling"))?;
    let mut scaled = ff::frame::Video::empty();
    let mut sink = graph
        .get("out")
        .ok_or(TranscodeError::missing("scaling: no output"))?;
    while sink.sink().frame(&mut scaled).is_ok() {
        scaled.set_pts(picture.pts());
        scaled.set_kind(if key {
            ff::picture::Type::I
        } else {
            ff::picture::Type::None
        });
        r.video
            .send_frame(&scaled)
            .map_err(err("the H.264 encoder"))?;
    }
    drain_video(r)
}

/// The video encoder's packets (on the 90 kHz timeline) → AVCC frames → the packager, each
/// after the audio it has passed.
fn drain_video(r: &mut Rung) -> Result<(), TranscodeError> {
    let mut packet = ff::Packet::empty();
    while r.video.receive_packet(&mut packet).is_ok() {
        let (Some(data), Some(pts)) = (packet.data(), packet.pts()) else {
            continue;
        };
        r.bytes += data.len() as u64;
        let frame = Frame {
            track: Track::Video,
            dts: packet.dts().unwrap_or(pts),
            pts,
            key: packet.is_key(),
            data: annex_b_to_avcc(data),
        };
        while r.audio_queue.front().is_some_and(|a| a.dts <= frame.dts) {
            if let Some(a) = r.audio_queue.pop_front() {
                let seg = r
                    .packager
                    .push(&a)
                    .map_err(packaging("packaging the audio"))?;
                write_segment(r, seg)?;
            }
        }
        let seg = r
            .packager
            .push(&frame)
            .map_err(packaging("packaging the video"))?;
        write_segment(r, seg)?;
    }
    Ok(())
}

/// The AAC encoder's packets → raw AAC frames on the 90 kHz timeline, queued for the
/// video to pass them.
fn drain_audio(r: &mut Rung) -> Result<(), TranscodeError> {
    let Some(enc) = r.audio.as_mut() else {
        return Ok(());
    };
    let mut packet = ff::Packet::empty();
    while enc.receive_packet(&mut packet).is_ok() {
        let (Some(data), Some(pts)) = (packet.data(), packet.pts()) else {
            continue;
        };
        r.bytes += data.len() as u64;
        let clock = ff::Rational(1, AUDIO_RATE);
        let pts = pts.rescale(clock, timeline());
        r.audio_queue.push_back(Frame {
            track: Track::Audio,
            dts: packet.dts().map_or(pts, |d| d.rescale(clock, timeline())),
            pts,
            key: true,
            data: Bytes::copy_from_slice(data),
        });
    }
    Ok(())
}
