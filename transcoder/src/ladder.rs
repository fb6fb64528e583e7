//! A running ladder: one thread decodes the source (video and audio) and encodes its AAC
//! once per bitrate; one thread per rung scales and encodes that rung's H.264.
//!
//! Back-pressure, so memory stays bounded and the source never waits:
//! - the engine's frames enter a bounded queue; when it is full the frame is dropped and
//!   counted (the pass-through and the source's connection are unaffected);
//! - each rung has a bounded queue of decoded pictures (shared buffers, not copies); a rung
//!   that is behind skips pictures (counted), but never a forced keyframe, which it waits
//!   for, so segments stay aligned across rungs.
//!
//! A failure (a corrupt picture the decoder rejects many times over, an encoder error)
//! rebuilds that stage after a back-off and continues with a discontinuity.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use ffmpeg_next as ff;
use tidecast_engine::media::{Frame, TIMESCALE, Track};
use tidecast_engine::transcode::{
    LadderInput, LadderJob, LadderStats, Pace, RenditionStats, TranscodeError,
};

use crate::audio::AudioLadder;
use crate::decode::{AudioDecoder, VideoDecoder};
use crate::feed::Feed;
use crate::ffi;
use crate::rendition::{Rendition, Settings, Work};

/// Source frames queued before the decoder (about 2 s of a 30 fps stream with audio).
const INPUT_QUEUE: usize = 160;
/// Work queued per rung: decoded pictures are large (3 MB at 1080p; shared by the rungs,
/// so the worst case is this many pictures, not this many per rung), plus their audio.
const RUNG_QUEUE: usize = 16;
/// Decode errors in a row before the decoder is rebuilt.
const DECODE_ERRORS_TO_RESET: u32 = 30;
/// A timestamp step larger than this (or any step back) is a break in the source's timeline.
const MAX_STEP: i64 = 5 * TIMESCALE;

/// The engine's side of a ladder: a bounded queue into its decoding thread.
#[derive(Debug)]
pub struct Input {
    tx: SyncSender<Frame>,
    /// A video frame was dropped: the pictures after it until the next keyframe would
    /// decode into garbage (they refer to it), so they are dropped too.
    skip_to_key: bool,
    /// Cleared when the decoding thread ends (for any reason).
    running: Arc<std::sync::atomic::AtomicBool>,
}

impl Input {
    /// Hands over a frame, waiting for room (a batch: a file is transcoded whole). False
    /// if the ladder has stopped.
    pub fn push_wait(&self, frame: Frame) -> bool {
        self.tx.send(frame).is_ok()
    }
}

impl LadderInput for Input {
    fn push(&mut self, frame: &Frame) -> bool {
        let video = frame.track == Track::Video;
        if video && self.skip_to_key {
            if !frame.key {
                return false;
            }
            self.skip_to_key = false;
        }
        match self.tx.try_send(frame.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.skip_to_key |= video;
                false
            }
        }
    }

    fn is_running(&self) -> bool {
        self.running.load(Relaxed)
    }
}

struct Rung {
    name: String,
    tx: SyncSender<Work>,
    /// Which AAC encoder feeds it.
    audio: usize,
    stats: Arc<RenditionStats>,
    /// A discontinuity it could not take yet (its queue was full): sent before what follows.
    owed_discontinuity: std::cell::Cell<bool>,
}

/// How long a live keyframe may wait for room in a rung's queue before the rung misses it.
const KEY_WAIT: Duration = Duration::from_millis(100);

impl Rung {
    /// Hands `work` over. Batch: waits for room. Live: never waits for long, so one slow or
    /// failing rung cannot hold up the others: a keyframe waits up to [`KEY_WAIT`], anything
    /// else is dropped (counted) if the queue is full. False if dropped.
    fn give(&self, work: Work, pace: Pace) -> bool {
        if self.owed_discontinuity.get() {
            match self.tx.try_send(Work::Discontinuity) {
                Ok(()) => self.owed_discontinuity.set(false),
                Err(_) if pace == Pace::Live => {
                    self.stats.dropped.fetch_add(1, Relaxed);
                    return false;
                }
                Err(_) => {}
            }
        }
        if pace == Pace::Batch {
            return self.tx.send(work).is_ok();
        }
        let patient = matches!(work, Work::Picture(_, true));
        let deadline = Instant::now() + KEY_WAIT;
        let mut work = work;
        loop {
            match self.tx.try_send(work) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(w)) => {
                    if !patient || Instant::now() >= deadline {
                        if matches!(w, Work::Discontinuity) {
                            self.owed_discontinuity.set(true);
                        } else {
                            self.stats.dropped.fetch_add(1, Relaxed);
                        }
                        return false;
                    }
                    work = w;
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
    }
}

/// Starts the ladder's threads. Fails only if a thread cannot be started or the source
/// cannot be decoded at all (no decoder for it).
pub fn start(job: LadderJob) -> Result<Input, TranscodeError> {
    let video = VideoDecoder::new(&job.source)?;
    if video.is_none() && job.source.audio.is_none() {
        return Err(TranscodeError::input(
            "the source has neither video nor audio",
        ));
    }
    let (tx, rx) = sync_channel(INPUT_QUEUE);
    let name = format!("ladder {}", job.stream);
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = Arc::clone(&running);
    std::thread::Builder::new()
        .name(format!("tc-{}", short(&job.stream)))
        .spawn(move || {
            // However the thread ends (even by a panic), the engine learns it.
            struct Ended(Arc<std::sync::atomic::AtomicBool>);
            impl Drop for Ended {
                fn drop(&mut self) {
                    self.0.store(false, Relaxed);
                }
            }
            let _ended = Ended(flag);
            decode_thread(job, rx)
        })
        .map_err(|e| TranscodeError::io(format!("cannot start the {name} thread"), e))?;
    Ok(Input {
        tx,
        skip_to_key: false,
        running,
    })
}

/// Thread names are limited to 15 bytes on Linux.
fn short(s: &str) -> String {
    s.chars().take(12).collect()
}

fn start_rungs(job: &mut LadderJob, audio: Option<&AudioLadder>) -> Vec<Rung> {
    let audio_only = job.source.video.is_none();
    let fps = job
        .source
        .video
        .as_ref()
        .and_then(|v| v.fps)
        .filter(|f| f.is_finite() && *f > 1.0)
        .unwrap_or(30.0);
    let grid_frames = (job.keyframe_interval as f64 / TIMESCALE as f64 * fps).ceil() as u32;
    let mut rungs = Vec::new();
    for r in std::mem::take(&mut job.renditions) {
        let (tx, rx) = sync_channel(RUNG_QUEUE);
        let settings = Settings {
            fps,
            max_gop: grid_frames.saturating_mul(4).max(60),
            watermark: job.watermark.clone(),
            audio: audio.and_then(|a| a.config(r.spec.audio_kbps)),
            spec: r.spec.clone(),
        };
        let audio_index = audio.map_or(0, |a| a.index_for(r.spec.audio_kbps));
        let stats = Arc::clone(&r.stats);
        let mut rendition = Rendition::new(settings, r.output, Arc::clone(&r.stats));
        rendition.start(audio_only);
        let thread = std::thread::Builder::new()
            .name(format!("tc-{}", short(&r.spec.name)))
            .spawn({
                let ladder_stats = Arc::clone(&job.stats);
                let stream = job.stream.clone();
                move || rung_thread(rendition, rx, &stream, &ladder_stats)
            });
        match thread {
            Ok(_) => rungs.push(Rung {
                name: r.spec.name.clone(),
                tx,
                audio: audio_index,
                stats,
                owed_discontinuity: std::cell::Cell::new(false),
            }),
            Err(e) => {
                tracing::error!(stream = %job.stream, "rendition {} not started: {e}", r.spec.name)
            }
        }
    }
    rungs
}

fn rung_thread(mut r: Rendition, rx: Receiver<Work>, stream: &str, ladder: &LadderStats) {
    let mut backoff = Duration::from_millis(500);
    let mut healthy_since = Instant::now();
    while let Ok(work) = rx.recv() {
        let started = Instant::now();
        let result = r.work(work);
        r.stats_busy(started.elapsed());
        if let Err(e) = result {
            tracing::warn!(
                stream,
                rendition = r.name(),
                "transcoding failed: {e}; restarting this rendition in {:.1} s",
                backoff.as_secs_f64()
            );
            ladder.restarts.fetch_add(1, Relaxed);
            // Wait out the back-off while emptying the queue (what arrives meanwhile is
            // skipped), so the decoding thread never finds this rung full.
            let until = Instant::now() + backoff;
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                match rx.recv_timeout(left) {
                    Ok(_) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            r.reset();
            backoff = if healthy_since.elapsed() > Duration::from_secs(60) {
                Duration::from_millis(500)
            } else {
                (backoff * 2).min(Duration::from_secs(30))
            };
            healthy_since = Instant::now();
        }
    }
    r.finish();
}

/// Decides which decoded pictures become keyframes: the first picture, then the first at or
/// after each further interval from it on the source's timeline; one decision for every
/// rung, so all of them cut their segments at the same pictures.
#[derive(Debug)]
struct KeyGrid {
    interval: i64,
    next: Option<i64>,
}

impl KeyGrid {
    fn is_key(&mut self, pts: i64) -> bool {
        match self.next {
            Some(next) if pts < next => false,
            Some(next) => {
                // Whole intervals from the anchor, so the grid never drifts.
                let behind = (pts - next).div_euclid(self.interval) + 1;
                self.next = Some(next + behind * self.interval);
                true
            }
            None => {
                self.next = Some(pts + self.interval);
                true
            }
        }
    }

    fn reset(&mut self) {
        self.next = None;
    }
}

fn decode_thread(mut job: LadderJob, rx: Receiver<Frame>) {
    let stream = job.stream.clone();
    let stats = Arc::clone(&job.stats);
    // None: an audio-only ladder (radio).
    let mut video = match VideoDecoder::new(&job.source) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(stream, "transcoding stopped: {e}");
            return;
        }
    };
    let mut audio_in = AudioDecoder::new(&job.source).unwrap_or_else(|e| {
        tracing::warn!(stream, "renditions go out without audio: {e}");
        None
    });
    let kbps: Vec<u32> = job.renditions.iter().map(|r| r.spec.audio_kbps).collect();
    let mut audio_out = match (&audio_in, &job.source.audio) {
        (Some(_), Some(a)) => {
            let channels = match a {
                tidecast_engine::media::AudioConfig::Aac(c) => c.channels,
                tidecast_engine::media::AudioConfig::Mp3 { channels, .. } => *channels,
            };
            match AudioLadder::new(a.sample_rate(), channels.max(1), &kbps) {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::warn!(
                        stream,
                        "renditions go out without audio: the AAC encoder: {e}"
                    );
                    None
                }
            }
        }
        _ => None,
    };
    if audio_out.is_none() {
        audio_in = None;
    }
    // Radio: extra mounts fed from the same decoded audio.
    let mut feeds: Vec<Feed> = match &job.source.audio {
        Some(a) if audio_in.is_some() => {
            let channels = match a {
                tidecast_engine::media::AudioConfig::Aac(c) => c.channels,
                tidecast_engine::media::AudioConfig::Mp3 { channels, .. } => *channels,
            };
            std::mem::take(&mut job.feeds)
                .into_iter()
                .filter_map(|f| {
                    let mount = f.spec.mount.clone();
                    Feed::new(f, a.sample_rate(), channels.max(1))
                        .map_err(|e| tracing::warn!(stream, mount, "mount not fed: {e}"))
                        .ok()
                })
                .collect()
        }
        _ => Vec::new(),
    };
    let has_rungs = !job.renditions.is_empty();
    let rungs = start_rungs(&mut job, audio_out.as_ref());
    let mut grid = KeyGrid {
        interval: job.keyframe_interval.max(TIMESCALE / 2),
        next: None,
    };
    let mut last_dts: Option<i64> = None;
    let mut first_pts: Option<i64> = None;
    let mut errors_in_a_row = 0u32;
    let mut audio_warned = false;
    let pace = job.pace;
    while let Ok(frame) = rx.recv() {
        let started = Instant::now();
        match frame.track {
            Track::Video => {
                if let Some(last) = last_dts
                    && (frame.dts < last || frame.dts - last > MAX_STEP)
                {
                    tracing::info!(
                        stream,
                        "the source's timeline broke: renditions continue after a discontinuity"
                    );
                    grid.reset();
                    for r in &rungs {
                        r.give(Work::Discontinuity, pace);
                    }
                }
                last_dts = Some(frame.dts);
                stats.frames_in.fetch_add(1, Relaxed);
                let Some(decoder) = video.as_mut() else {
                    continue;
                };
                let result = decoder.decode(&frame, &mut |picture: ff::frame::Video| {
                    let pts = picture.pts().unwrap_or(frame.pts);
                    let first = *first_pts.get_or_insert(pts);
                    stats
                        .media_time
                        .store(u64::try_from(pts - first).unwrap_or(0), Relaxed);
                    let key = grid.is_key(pts);
                    fan_out(&rungs, &picture, key, pace);
                });
                match result {
                    Ok(()) => errors_in_a_row = 0,
                    Err(e) => {
                        errors_in_a_row += 1;
                        if errors_in_a_row == 1 {
                            tracing::warn!(stream, "a source picture could not be decoded: {e}");
                        }
                        if errors_in_a_row >= DECODE_ERRORS_TO_RESET {
                            tracing::warn!(stream, "the decoder keeps failing: restarting it");
                            stats.restarts.fetch_add(1, Relaxed);
                            match VideoDecoder::new(&job.source) {
                                Ok(Some(v)) => video = Some(v),
                                _ => return,
                            }
                            grid.reset();
                            for r in &rungs {
                                r.give(Work::Discontinuity, pace);
                            }
                            errors_in_a_row = 0;
                        }
                    }
                }
            }
            Track::Audio => {
                if video.is_none() {
                    // Audio only: the audio is the clock the stats measure.
                    stats.frames_in.fetch_add(1, Relaxed);
                    let first = *first_pts.get_or_insert(frame.pts);
                    stats
                        .media_time
                        .store(u64::try_from(frame.pts - first).unwrap_or(0), Relaxed);
                }
                if let (Some(dec), Some(enc)) = (audio_in.as_mut(), audio_out.as_mut()) {
                    let mut failed = None;
                    let result = dec.decode(&frame, &mut |pcm: ff::frame::Audio| {
                        if has_rungs
                            && let Err(e) = enc.encode(&pcm, &mut |index, encoded| {
                                for r in rungs.iter().filter(|r| r.audio == index) {
                                    r.give(Work::Audio(encoded.clone()), pace);
                                }
                            })
                        {
                            failed = Some(e);
                        }
                        for feed in &mut feeds {
                            if let Err(e) = feed.encode(&pcm) {
                                failed = Some(e);
                            }
                        }
                    });
                    if let Some(e) = result.err().or(failed)
                        && !audio_warned
                    {
                        tracing::warn!(stream, "source audio could not be transcoded: {e}");
                        audio_warned = true;
                    }
                }
            }
        }
        stats
            .busy_ns
            .fetch_add(started.elapsed().as_nanos() as u64, Relaxed);
    }
    for r in &rungs {
        tracing::debug!(stream, rendition = %r.name, "ladder stopping");
    }
}

/// Hands a decoded picture to every rung (see [`Rung::give`]: a rung that is behind skips
/// pictures rather than holding up the others).
fn fan_out(rungs: &[Rung], picture: &ff::frame::Video, key: bool, pace: Pace) {
    for r in rungs {
        let Ok(shared) = ffi::share(picture) else {
            continue;
        };
        r.give(Work::Picture(shared, key), pace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_fall_on_the_grid_whatever_the_frame_rate() {
        let mut g = KeyGrid {
            interval: 2 * TIMESCALE,
            next: None,
        };
        // 29.97 fps from an odd start: keys at the first picture, then the first at or
        // after each 2 s boundary.
        let step = 3003;
        let keys: Vec<i64> = (0..200)
            .map(|i| 1234 + i * step)
            .filter(|&pts| g.is_key(pts))
            .collect();
        assert_eq!(keys[0], 1234);
        assert!(keys.len() > 2);
        for w in keys.windows(2) {
            assert!(w[1] - w[0] <= 2 * TIMESCALE + step, "{keys:?}");
        }
        for k in &keys[1..] {
            let from_anchor = (k - 1234) % (2 * TIMESCALE);
            assert!(from_anchor < step, "{k} is not just after a grid line");
        }
        // After a gap in the pictures the grid continues from the same anchor (lines at
        // even seconds from it).
        assert!(g.is_key(1234 + 21 * TIMESCALE));
        assert!(g.is_key(1234 + 22 * TIMESCALE));
        assert!(!g.is_key(1234 + 23 * TIMESCALE));
        assert!(g.is_key(1234 + 24 * TIMESCALE));
    }
}
