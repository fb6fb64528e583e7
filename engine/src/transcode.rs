//! What the engine asks of a transcoder, without knowing FFmpeg: the [`Transcoder`] trait
//! (implemented by the `transcoder` crate) and the ladder a service asks for.
//!
//! A ladder runs beside one live source. The engine pushes the source's frames into
//! [`LadderInput::push`], which never blocks (a ladder that falls behind drops input and
//! counts it); each rendition's encoded frames come back, on the transcoder's threads,
//! through a [`RenditionOutput`] the engine supplies, which packages them as HLS.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::media::{Frame, StreamConfig};

/// One rung of a video ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionSpec {
    /// Its name in URLs (`/hls/<slug>/<name>/index.m3u8`).
    pub name: String,
    /// Output width; 0 keeps the source's aspect ratio (rounded to even).
    pub width: u32,
    /// 0: an audio-only rung (radio), its `audio_kbps` of AAC.
    pub height: u32,
    pub video_kbps: u32,
    pub audio_kbps: u32,
}

/// Where a watermark goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

/// A PNG overlaid on every transcoded rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatermarkSpec {
    pub path: PathBuf,
    pub corner: Corner,
    /// 0 (invisible) ..= 100 (as drawn).
    pub opacity_pct: u8,
}

/// A service's transcoding settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LadderSpec {
    /// Transcoded rungs, highest first.
    pub renditions: Vec<RenditionSpec>,
    /// Whether the source itself is offered too (`source`: packaged as it arrives).
    pub passthrough: bool,
    pub watermark: Option<WatermarkSpec>,
    /// Radio: extra mounts fed from the primary's audio in another format or bitrate.
    pub feeds: Vec<FeedSpec>,
}

/// An audio format a radio mount can be fed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    Mp3,
    Aac,
    Opus,
}

impl AudioCodec {
    /// The `Content-Type` its listeners get.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Mp3 => "audio/mpeg",
            Self::Aac => "audio/aac",
            Self::Opus => "audio/ogg",
        }
    }
}

/// An extra mount transcoded from the primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSpec {
    pub mount: String,
    pub codec: AudioCodec,
    pub kbps: u32,
}

/// Where a mount feed's encoded stream goes (the engine makes it a source on that mount).
pub trait FeedOutput: Send {
    /// Codec headers a listener needs before the audio (Ogg: the header pages).
    fn headers(&mut self, pages: Vec<bytes::Bytes>);
    /// The next bytes of the stream, as listeners receive them.
    fn data(&mut self, data: bytes::Bytes);
}

/// One mount feed as the transcoder runs it.
pub struct FeedJob {
    pub spec: FeedSpec,
    pub output: Box<dyn FeedOutput>,
}

crate::debug_fields!(FeedJob { spec, .. });

/// Which rungs of a ladder run for a live source, and which do not and why (worked out by
/// [`crate::ladder::plan_rungs`]; shown by the control plane while the source is live).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RungPlan {
    /// The rungs encoded, as they are encoded (a video bitrate above the source's is capped
    /// at the source's), highest first.
    pub running: Vec<RenditionSpec>,
    pub skipped: Vec<SkippedRung>,
}

/// A rung of the ladder that does not run for the source on air.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRung {
    pub name: String,
    pub reason: SkipReason,
}

/// Why a rung does not run. Its `Display` is what the API shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Taller than the source: an upscale costs CPU and adds nothing.
    AboveSource { source_height: u32 },
    /// A video rung, and the source sends audio only.
    NoVideo,
    /// An audio-only rung (radio), and the source sends video.
    AudioOnly,
    /// Its stream (`<slug>/<rung>`) is held by another publisher.
    StreamTaken,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AboveSource { source_height } => {
                write!(f, "above the source's {source_height} lines")
            }
            Self::NoVideo => f.write_str("a video rendition, and the source has no video"),
            Self::AudioOnly => f.write_str("an audio-only rendition, and the source has video"),
            Self::StreamTaken => f.write_str("its stream is already being published"),
        }
    }
}

/// Where one rendition's encoded media goes (the engine packages it as HLS). Called from
/// the transcoder's threads; implementations must not block for long.
pub trait RenditionOutput: Send {
    /// The rendition's codec configuration, before its first frame and whenever it changes
    /// (the pipeline restarted).
    fn configure(&mut self, config: StreamConfig);
    /// An encoded frame (AVCC video, raw AAC audio), in decode order per track, tracks
    /// interleaved by time.
    fn frame(&mut self, frame: Frame);
    /// What follows does not continue what came before (a restarted pipeline).
    fn discontinuity(&mut self);
}

/// One rendition as the transcoder runs it.
pub struct RenditionJob {
    pub spec: RenditionSpec,
    pub output: Box<dyn RenditionOutput>,
    pub stats: Arc<RenditionStats>,
}

crate::debug_fields!(RenditionJob { spec, .. });

/// What a ladder needs to start.
#[derive(Debug)]
pub struct LadderJob {
    /// The stream's name, for logs.
    pub stream: String,
    pub source: StreamConfig,
    pub renditions: Vec<RenditionJob>,
    pub watermark: Option<WatermarkSpec>,
    /// Keyframes are forced on this grid of the source's timeline (90 kHz), the same in
    /// every rendition, so segments align and players switch cleanly.
    pub keyframe_interval: i64,
    pub stats: Arc<LadderStats>,
    pub pace: Pace,
    /// Radio: extra mounts to feed from the same decoded audio.
    pub feeds: Vec<FeedJob>,
}

/// How a ladder treats a stage that falls behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pace {
    /// A live source: a rung that is behind skips pictures (counted) so it catches up;
    /// nothing waits for it.
    #[default]
    Live,
    /// A file (on-demand video, benchmarks): every picture is encoded; the feeder waits.
    Batch,
}

/// The running ladder, as its source sees it. Dropping it stops the ladder's threads.
pub trait LadderInput: Send + Sync {
    /// Hands the ladder a source frame; never blocks. Returns false if the frame was
    /// dropped because the ladder is behind.
    fn push(&mut self, frame: &Frame) -> bool;

    /// Whether the ladder still runs (false once its threads have ended, by failure).
    fn is_running(&self) -> bool {
        true
    }
}

/// Why transcoder work failed or could not start. Its `Display` is what logs and the UI
/// show; the engine never parses it.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    /// A step of the work failed in the media library doing it (FFmpeg, the loudness
    /// meter): `what` says which step, `message` is the library's own words.
    #[error("{what}: {message}")]
    Failed {
        what: Cow<'static, str>,
        message: String,
    },
    /// The input cannot be used as it is (no audio, no picture, nothing to export).
    #[error("{0}")]
    Input(Cow<'static, str>),
    /// This FFmpeg lacks what the work needs (an encoder, a filter).
    #[error("{0}")]
    Missing(Cow<'static, str>),
    /// A file, folder or thread of the work's own could not be made.
    #[error("{what}: {source}")]
    Io {
        what: Cow<'static, str>,
        #[source]
        source: std::io::Error,
    },
    /// The work was stopped on purpose (why).
    #[error("stopped: {0}")]
    Stopped(&'static str),
    /// This transcoder does not do that kind of work.
    #[error("this transcoder cannot {0}")]
    Unsupported(&'static str),
}

impl TranscodeError {
    /// `what` failed in the media library, which said `message`.
    pub fn failed(what: impl Into<Cow<'static, str>>, message: impl std::fmt::Display) -> Self {
        Self::Failed {
            what: what.into(),
            message: message.to_string(),
        }
    }

    /// The input cannot be used: `why`.
    pub fn input(why: impl Into<Cow<'static, str>>) -> Self {
        Self::Input(why.into())
    }

    /// This FFmpeg lacks `what`.
    pub fn missing(what: impl Into<Cow<'static, str>>) -> Self {
        Self::Missing(what.into())
    }

    /// `what` of the work's own failed with `source`.
    pub fn io(what: impl Into<Cow<'static, str>>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// The transcoder, as the engine sees it.
/// A radio station drawn as video for a video platform: a picture (a still or a looping
/// clip, else a plain background) with the station's name and the title playing, and the
/// station's audio, encoded to H.264 + AAC.
#[derive(Debug, Clone)]
pub struct RadioVideoJob {
    /// The station's audio as its source sends it (MP3 or AAC).
    pub audio: crate::media::AudioConfig,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub video_kbps: u32,
    pub audio_kbps: u32,
    /// A picture or video file; `None`: a plain background.
    pub background: Option<std::path::PathBuf>,
    pub station: String,
    pub title: String,
}

/// What the engine feeds a running radio-as-video encoder. Never blocks: when the encoder
/// falls behind, audio is dropped (and said so in the log).
pub trait RadioVideoInput: Send {
    /// One frame of the station's audio; `false` once the encoder has stopped.
    fn push(&mut self, frame: &Frame) -> bool;
    /// The title now playing (drawn from the next picture on).
    fn set_title(&mut self, title: &str);
}

pub trait Transcoder: Send + Sync + std::fmt::Debug {
    /// Starts drawing a radio station as video (`job`), its encoded frames to `out`, on a
    /// thread of its own.
    fn radio_video(
        &self,
        job: RadioVideoJob,
        out: Box<dyn RenditionOutput>,
    ) -> Result<Box<dyn RadioVideoInput>, TranscodeError> {
        let _ = (job, out);
        Err(TranscodeError::Unsupported("draw radio as video"))
    }

    /// Opens `url` (an RTSP camera) with FFmpeg's demuxers and hands on its H.264 and AAC
    /// as FLV tags until it ends, fails, or `out` answers false. Blocks: run it on a
    /// thread of its own.
    fn pull(
        &self,
        url: &str,
        options: &[(String, String)],
        out: &mut dyn FnMut(crate::media::flv::Tag) -> bool,
    ) -> Result<(), TranscodeError> {
        let _ = (url, options, out);
        Err(TranscodeError::Unsupported("pull streams"))
    }

    fn start(&self, job: LadderJob) -> Result<Box<dyn LadderInput>, TranscodeError>;

    /// Opens a media file for AutoDJ: its audio decoded and converted to interleaved
    /// stereo `f32` at `rate` Hz, whatever the file's format (any audio FFmpeg reads, and the
    /// audio track of a video file).
    fn open_track(
        &self,
        path: &std::path::Path,
        rate: u32,
    ) -> Result<Box<dyn TrackReader>, TranscodeError>;

    /// An encoder for AutoDJ's output: interleaved stereo `f32` at `rate` Hz in, the mount's
    /// format (`job.spec`) out through `job.output`, in chunks of about a quarter second.
    fn pcm_encoder(&self, job: FeedJob, rate: u32) -> Result<Box<dyn PcmEncoder>, TranscodeError>;

    /// A decoder that only measures: how loud each frame of a live source is (dead air).
    fn level_meter(
        &self,
        audio: &crate::media::AudioConfig,
    ) -> Result<Box<dyn LevelMeter>, TranscodeError>;

    /// Copies the packets of `job.parts` into one MP4 file without re-encoding, its index
    /// (moov) at the front so it plays while it downloads. Runs on the caller's thread;
    /// `progress` is told the share done (0 ..= 1) now and then.
    fn remux(
        &self,
        job: &RemuxJob,
        progress: &mut dyn FnMut(f64),
    ) -> Result<RemuxReport, TranscodeError>;

    /// Transcodes a video file into an on-demand HLS ladder (every picture encoded, as fast
    /// as the machine goes). Runs on the caller's thread; `progress` is told the share done.
    fn vod(&self, job: &VodJob, progress: &mut dyn FnMut(f64))
    -> Result<VodReport, TranscodeError>;
}

/// An uploaded video to turn into an on-demand HLS ladder.
#[derive(Debug, Clone)]
pub struct VodJob {
    pub input: std::path::PathBuf,
    /// Each rendition goes to `<output_dir>/<name>/index.m3u8` and its segments, the master
    /// playlist over them to `<output_dir>/index.m3u8` (all written by
    /// [`crate::hls::vod`]).
    pub output_dir: std::path::PathBuf,
    /// Rungs above the source's height are left out (the lowest is kept, at most the
    /// source's size).
    pub renditions: Vec<RenditionSpec>,
    pub segment_secs: u32,
    /// Set to stop the transcode early (the video was deleted); it then fails, saying so.
    pub cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// What a VOD transcode made.
#[derive(Debug, Clone, PartialEq)]
pub struct VodReport {
    pub renditions: Vec<VodRendition>,
    pub duration_s: f64,
}

/// One rendition of a VOD ladder, for its master playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct VodRendition {
    pub name: String,
    /// Bits per second: the busiest segment, and the whole.
    pub peak_bps: u64,
    pub average_bps: u64,
    /// Its resolution, `CODECS` (`avc1.64001f,mp4a.40.2`) and frame rate.
    pub info: crate::media::StreamInfo,
}

/// Archived media to copy into one MP4 (a DVR recording).
#[derive(Debug, Clone, PartialEq)]
pub struct RemuxJob {
    pub parts: Vec<RemuxPart>,
    pub output: std::path::PathBuf,
    /// What the parts add up to, for progress.
    pub duration_s: f64,
}

/// Files read as one byte stream: MPEG-TS segments, or an fMP4 init segment and fragments.
#[derive(Debug, Clone, PartialEq)]
pub struct RemuxPart {
    pub files: Vec<std::path::PathBuf>,
    /// Its timestamps carry on from the previous part's (the same recording); otherwise it
    /// starts a new timeline and is placed right after the previous part.
    pub continues: bool,
}

/// What a remux wrote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemuxReport {
    pub duration_s: f64,
    pub packets: u64,
}

/// Measures a compressed audio stream frame by frame. Runs on the caller's thread.
pub trait LevelMeter: Send {
    /// The peak level (0 ..= 1) of one frame's decoded audio and its duration in seconds;
    /// `None` for a frame that did not decode.
    fn measure(&mut self, frame: &Frame) -> Option<(f32, f64)>;
}

/// A decoded media file, read in order (AutoDJ's decks). Runs on the caller's thread.
pub trait TrackReader: Send {
    /// Appends the next decoded audio (interleaved stereo samples) to `out` and returns how
    /// many frames it appended; `Ok(0)` at the end of the file.
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize, TranscodeError>;
}

/// An audio encoder fed with PCM (AutoDJ's output). Runs on the caller's thread.
pub trait PcmEncoder: Send {
    /// Encodes interleaved stereo samples; whole chunks go to the job's output.
    fn encode(&mut self, pcm: &[f32]) -> Result<(), TranscodeError>;

    /// Sends what is encoded but still gathered for a chunk (before a handover).
    fn flush(&mut self);
}

/// Counters a ladder keeps for stats and metrics (monotonic; readers take differences).
#[derive(Debug, Default)]
pub struct LadderStats {
    /// Source video frames received and decoded.
    pub frames_in: AtomicU64,
    /// Source frames dropped before decoding (the ladder was behind).
    pub dropped_in: AtomicU64,
    /// Times the pipeline failed and was restarted.
    pub restarts: AtomicU64,
    /// Source bytes offered to the ladder (for the source's measured bitrate).
    pub bytes_in: AtomicU64,
    /// Source time decoded, 90 kHz, and the wall time spent on it (ns), for "speed".
    pub media_time: AtomicU64,
    pub busy_ns: AtomicU64,
}

/// A running ladder's counters, as the service's stream shows them to stats.
#[derive(Debug)]
pub struct LadderReport {
    pub started: std::time::Instant,
    pub stats: Arc<LadderStats>,
    pub renditions: Vec<(String, Arc<RenditionStats>)>,
}

impl LadderReport {
    /// Seconds since the ladder started (never 0, so rates can divide by it).
    pub fn running_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64().max(0.001)
    }

    /// Source pictures decoded per second since the ladder started.
    pub fn input_fps(&self) -> f64 {
        LadderStats::get(&self.stats.frames_in) as f64 / self.running_secs()
    }

    /// Source seconds per second of the busiest stage's work (the decoder or a rendition):
    /// above 1 the ladder keeps up with a live source; 0 before it has done any work.
    pub fn speed(&self) -> f64 {
        let media_secs = LadderStats::get(&self.stats.media_time) as f64 / 90_000.0;
        let busiest = self
            .renditions
            .iter()
            .map(|(_, r)| LadderStats::get(&r.busy_ns))
            .chain([LadderStats::get(&self.stats.busy_ns)])
            .max()
            .unwrap_or(0) as f64
            / 1e9;
        if busiest > 0.0 {
            media_secs / busiest
        } else {
            0.0
        }
    }
}

/// Counters of one rendition.
#[derive(Debug, Default)]
pub struct RenditionStats {
    pub frames_out: AtomicU64,
    /// Decoded frames this rendition skipped because its encoder was behind.
    pub dropped: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Wall time its thread spent scaling and encoding (ns).
    pub busy_ns: AtomicU64,
}

impl LadderStats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(
        media_secs: u64,
        decoder_busy_secs: u64,
        rendition_busy_secs: &[u64],
    ) -> LadderReport {
        let stats = LadderStats::default();
        LadderStats::add(&stats.media_time, media_secs * 90_000);
        LadderStats::add(&stats.busy_ns, decoder_busy_secs * 1_000_000_000);
        let renditions = rendition_busy_secs
            .iter()
            .enumerate()
            .map(|(i, &busy)| {
                let r = RenditionStats::default();
                LadderStats::add(&r.busy_ns, busy * 1_000_000_000);
                (format!("r{i}"), Arc::new(r))
            })
            .collect();
        LadderReport {
            started: std::time::Instant::now(),
            stats: Arc::new(stats),
            renditions,
        }
    }

    #[test]
    fn speed_is_source_time_over_the_busiest_stage() {
        // The 720p rendition (5 s of work) is the bottleneck, not the decoder (2 s).
        assert_eq!(report(10, 2, &[5, 1]).speed(), 2.0);
        assert_eq!(report(10, 4, &[]).speed(), 2.5);
    }

    #[test]
    fn speed_is_zero_before_any_work() {
        assert_eq!(report(0, 0, &[0]).speed(), 0.0);
    }
}
