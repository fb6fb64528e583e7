//! Transcoder benchmark, Tidecast's side: runs the in-process ABR ladder (the same code the
//! server runs for a live source) on an FLV file and reports frames per second and CPU.
//! `benches/transcode/ladder.py` runs this and the ffmpeg CLI doing the identical ladder
//! side by side; run that (via `benches/run.sh transcode`), not this, to compare.
//!
//!   ladder --input src.flv --rungs 1280x720:2500,854x480:1200,640x360:700 [--live] [--seconds N]
//!
//! Flat out (default) every picture is encoded and the feeder waits for the ladder (the
//! batch pace on-demand video uses); `--live` feeds frames at their timestamps, as an RTMP
//! publisher would, and reports the CPU that costs. Prints one JSON line.

#![allow(clippy::unwrap_used)] // a benchmark driver: failing loudly is the point

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use tidecast_engine::media::aac::AacConfig;
use tidecast_engine::media::avc::AvcConfig;
use tidecast_engine::media::flv::{self, AudioTag, VideoTag};
use tidecast_engine::media::{AudioConfig, Frame, StreamConfig, TIMESCALE, Track};
use tidecast_engine::transcode::{
    LadderJob, LadderStats, Pace, RenditionJob, RenditionOutput, RenditionSpec, RenditionStats,
};
use tidecast_transcoder::FfmpegTranscoder;

/// Counts what a rung makes; says when its thread let go of it (the rung finished).
struct Count {
    frames: Arc<AtomicU64>,
    _done: mpsc::Sender<()>,
}

impl RenditionOutput for Count {
    fn configure(&mut self, _config: StreamConfig) {}
    fn frame(&mut self, frame: Frame) {
        if frame.track == Track::Video {
            self.frames.fetch_add(1, Relaxed);
        }
    }
    fn discontinuity(&mut self) {}
}

/// The FLV file's codec configuration and frames, on the engine's timeline.
fn read_flv(path: &str) -> anyhow::Result<(StreamConfig, Vec<Frame>)> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
    if !data.starts_with(b"FLV") || data.len() < 13 {
        bail!("{path} is not an FLV file");
    }
    let mut config = StreamConfig::default();
    let mut frames = Vec::new();
    let mut at = 13;
    while at + 11 <= data.len() {
        let kind = data[at];
        let size = usize::from(data[at + 1]) << 16
            | usize::from(data[at + 2]) << 8
            | usize::from(data[at + 3]);
        let ts = (u32::from(data[at + 7]) << 24
            | u32::from(data[at + 4]) << 16
            | u32::from(data[at + 5]) << 8
            | u32::from(data[at + 6])) as i64;
        let body_end = at + 11 + size;
        if body_end > data.len() {
            break;
        }
        let body = Bytes::copy_from_slice(&data[at + 11..body_end]);
        at = body_end + 4;
        match kind {
            9 => match flv::parse_video(&body)? {
                VideoTag::AvcSequenceHeader(record) => {
                    config.video = Some(AvcConfig::parse(&record)?)
                }
                VideoTag::AvcPicture { key, cts_ms, data } => frames.push(Frame {
                    track: Track::Video,
                    dts: ts * 90,
                    pts: (ts + i64::from(cts_ms)) * 90,
                    key,
                    data,
                }),
                _ => {}
            },
            8 => match flv::parse_audio(&body)? {
                AudioTag::AacSequenceHeader(asc) => {
                    config.audio = Some(AudioConfig::Aac(AacConfig::parse(&asc)?));
                }
                AudioTag::AacRaw(data) => frames.push(Frame {
                    track: Track::Audio,
                    dts: ts * 90,
                    pts: ts * 90,
                    key: true,
                    data,
                }),
                _ => {}
            },
            _ => {}
        }
    }
    if config.video.is_none() {
        bail!("{path} has no H.264 video");
    }
    Ok((config, frames))
}

/// CPU seconds this process used (user + system, all threads).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based); index 11 and 12 here.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let input = arg("--input").context("--input FILE.flv")?;
    let rungs_arg =
        arg("--rungs").unwrap_or_else(|| "1280x720:2500,854x480:1200,640x360:700".into());
    let live = args.iter().any(|a| a == "--live");
    let seconds: Option<f64> = arg("--seconds").and_then(|s| s.parse().ok());

    let (config, mut frames) = read_flv(&input)?;
    if let Some(limit) = seconds {
        let end = (limit * TIMESCALE as f64) as i64;
        frames.retain(|f| f.dts < end);
    }
    let source_pictures = frames.iter().filter(|f| f.track == Track::Video).count() as u64;

    let transcoder = FfmpegTranscoder::new().map_err(|e| anyhow::anyhow!(e))?;
    let (done_tx, done_rx) = mpsc::channel();
    let mut counters = Vec::new();
    let mut renditions = Vec::new();
    for (i, r) in rungs_arg.split(',').enumerate() {
        let (size, kbps) = r.split_once(':').context("rungs are WxH:kbps")?;
        let (w, h) = size.split_once('x').context("rungs are WxH:kbps")?;
        let frames_out = Arc::new(AtomicU64::new(0));
        counters.push(Arc::clone(&frames_out));
        renditions.push(RenditionJob {
            spec: RenditionSpec {
                name: format!("r{i}"),
                width: w.parse()?,
                height: h.parse()?,
                video_kbps: kbps.parse()?,
                audio_kbps: 128,
            },
            output: Box::new(Count {
                frames: frames_out,
                _done: done_tx.clone(),
            }),
            stats: Arc::new(RenditionStats::default()),
        });
    }
    drop(done_tx);
    let rung_stats: Vec<Arc<RenditionStats>> =
        renditions.iter().map(|r| Arc::clone(&r.stats)).collect();
    let feed = transcoder
        .start_feed(LadderJob {
            stream: "bench".into(),
            source: config,
            renditions,
            watermark: None,
            keyframe_interval: 2 * TIMESCALE,
            stats: Arc::new(LadderStats::default()),
            pace: if live { Pace::Live } else { Pace::Batch },
            feeds: Vec::new(),
        })
        .map_err(|e| anyhow::anyhow!(e))?;

    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let first_dts = frames.first().map_or(0, |f| f.dts);
    for f in frames {
        if live {
            let due =
                Duration::from_micros(((f.dts - first_dts).max(0) * 1_000_000 / TIMESCALE) as u64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        if !feed.push_wait(f) {
            bail!("the ladder stopped early");
        }
    }
    drop(feed);
    // Every rung's thread drops its output when it has encoded everything.
    while done_rx.recv().is_ok() {}
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let out: Vec<u64> = counters.iter().map(|c| c.load(Relaxed)).collect();
    let dropped: u64 = rung_stats.iter().map(|s| s.dropped.load(Relaxed)).sum();
    let total_out: u64 = out.iter().sum();
    println!(
        "{}",
        serde_json::json!({
            "mode": if live { "live" } else { "flat-out" },
            "source_pictures": source_pictures,
            "pictures_out": out,
            "dropped": dropped,
            "wall_s": (wall * 1000.0).round() / 1000.0,
            "cpu_s": (cpu * 1000.0).round() / 1000.0,
            "fps": (source_pictures as f64 / wall * 10.0).round() / 10.0,
            "cpu_pct": (cpu / wall * 1000.0).round() / 10.0,
            "cpu_ms_per_output_picture": (cpu * 1000.0 / total_out.max(1) as f64 * 1000.0).round() / 1000.0,
        })
    );
    Ok(())
}
