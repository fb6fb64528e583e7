//! One rung of a ladder, on its own thread: decoded pictures → scale (and watermark) in a
//! libavfilter graph → libx264 → AVCC frames, interleaved with the rung's AAC, → the
//! engine's packager for this rendition.

use std::collections::VecDeque;
use std::sync::Arc;

use ffmpeg_next as ff;
use tidecast_engine::media::avc::{AvcConfig, annex_b_to_avcc};
use tidecast_engine::media::{AudioConfig, Frame, StreamConfig, TIMESCALE, Track};
use tidecast_engine::transcode::{RenditionOutput, RenditionSpec, RenditionStats, WatermarkSpec};

use crate::decode::timeline;
use crate::ffi;
use crate::watermark;

/// What the ladder's decoding thread sends each rendition.
pub enum Work {
    /// A decoded picture (shared buffers), and whether it must be a keyframe.
    Picture(ff::frame::Video, bool),
    /// An encoded audio frame for this rendition.
    Audio(Frame),
    /// The source's timeline broke: what follows is a new segment with a discontinuity.
    Discontinuity,
}

/// Audio may wait for video this long (the encoder's look-ahead) before it goes out alone.
const AUDIO_WAIT: i64 = 3 * TIMESCALE;

/// How the rendition encodes.
#[derive(Debug, Clone)]
pub struct Settings {
    pub spec: RenditionSpec,
    pub fps: f64,
    /// Frames between keyframes x264 may choose on its own: longer than the forced grid,
    /// so every keyframe is a forced (aligned) one.
    pub max_gop: u32,
    pub watermark: Option<WatermarkSpec>,
    pub audio: Option<AudioConfig>,
}

/// Why a rendition stopped working (its pipeline is rebuilt).
#[derive(Debug, thiserror::Error)]
pub enum RenditionError {
    #[error("the H.264 encoder: {0}")]
    Encoder(ff::Error),
    #[error("scaling: {0}")]
    Filter(ff::Error),
    #[error("the encoder's parameter sets: {0}")]
    Headers(#[from] tidecast_engine::media::avc::BadAvc),
}

struct Pipeline {
    graph: ff::filter::Graph,
    /// The input the graph was built for: width, height, pixel format.
    input: (u32, u32, ff::format::Pixel),
    encoder: ff::encoder::Video,
}

/// One rendition's state on its thread.
pub struct Rendition {
    settings: Settings,
    output: Box<dyn RenditionOutput>,
    stats: Arc<RenditionStats>,
    pipeline: Option<Pipeline>,
    /// The rendition's output size, fixed by the first picture (aspect of the source).
    size: Option<(u32, u32)>,
    audio: VecDeque<Frame>,
    /// The decode time of the newest video frame sent out.
    video_dts: Option<i64>,
    configured: Option<StreamConfig>,
    watermark_warned: bool,
    /// An audio-only rung (radio): its AAC goes straight out.
    audio_only: bool,
}

impl std::fmt::Debug for Rendition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendition")
            .field("name", &self.settings.spec.name)
            .finish_non_exhaustive()
    }
}

/// The output size for a source of `w`×`h`: the rung's height, its width or the source's
/// aspect ratio, both even (4:2:0); the nearest even width, ties down (854×480 → 426×240,
/// 640×360; 1920×1080 → 854×480).
pub fn output_size(spec: &RenditionSpec, w: u32, h: u32) -> (u32, u32) {
    let height = spec.height.max(2) & !1;
    let width = if spec.width > 0 {
        spec.width & !1
    } else {
        let exact = f64::from(w) * f64::from(height) / f64::from(h.max(1));
        ((exact / 2.0 - 1e-6).round() as u32) * 2
    };
    (width.max(2), height)
}

impl Rendition {
    pub fn new(
        settings: Settings,
        output: Box<dyn RenditionOutput>,
        stats: Arc<RenditionStats>,
    ) -> Self {
        Self {
            settings,
            output,
            stats,
            pipeline: None,
            size: None,
            audio: VecDeque::new(),
            video_dts: None,
            configured: None,
            watermark_warned: false,
            audio_only: false,
        }
    }

    /// Before any work: an audio-only rung announces its configuration at once (there is
    /// no picture to wait for).
    pub fn start(&mut self, audio_only: bool) {
        self.audio_only = audio_only;
        if audio_only {
            let config = StreamConfig {
                video: None,
                audio: self.settings.audio.clone(),
            };
            self.output.configure(config.clone());
            self.configured = Some(config);
        }
    }

    pub fn name(&self) -> &str {
        &self.settings.spec.name
    }

    /// Counts time spent on this rung's work.
    pub fn stats_busy(&self, spent: std::time::Duration) {
        self.stats.busy_ns.fetch_add(
            spent.as_nanos() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The source left: the encoder's last pictures and the audio queued go out.
    pub fn finish(&mut self) {
        if let Err(e) = self.drain_encoder() {
            tracing::debug!(rendition = %self.settings.spec.name, "last pictures lost: {e}");
        }
        self.flush_audio(true);
    }

    /// The pipeline failed: it is rebuilt on the next picture, and its output continues
    /// with a discontinuity.
    pub fn reset(&mut self) {
        self.pipeline = None;
        self.output.discontinuity();
    }

    pub fn work(&mut self, work: Work) -> Result<(), RenditionError> {
        match work {
            Work::Picture(picture, key) => self.picture(picture, key),
            Work::Audio(frame) if self.audio_only => {
                count_out(&self.stats, frame.data.len());
                self.output.frame(frame);
                Ok(())
            }
            Work::Audio(frame) => {
                self.audio.push_back(frame);
                self.flush_audio(false);
                Ok(())
            }
            Work::Discontinuity => {
                self.drain_encoder()?;
                self.pipeline = None;
                self.flush_audio(true);
                self.output.discontinuity();
                Ok(())
            }
        }
    }

    fn open(&mut self, picture: &ff::frame::Video) -> Result<(), RenditionError> {
        let (w, h) = *self.size.get_or_insert_with(|| {
            output_size(&self.settings.spec, picture.width(), picture.height())
        });
        let mark = match &self.settings.watermark {
            Some(spec) => match watermark::load(spec) {
                Ok(m) => Some(m),
                Err(e) => {
                    if !self.watermark_warned {
                        tracing::warn!(rendition = %self.settings.spec.name, "watermark left out: {e}");
                        self.watermark_warned = true;
                    }
                    None
                }
            },
            None => None,
        };
        let graph =
            watermark::graph(picture, w, h, mark.as_ref()).map_err(RenditionError::Filter)?;
        let encoder = open_x264(&self.settings, w, h).map_err(RenditionError::Encoder)?;
        let headers = ffi::extradata(&encoder);
        let video = AvcConfig::from_annex_b(&headers)?;
        let config = StreamConfig {
            video: Some(video),
            audio: self.settings.audio.clone(),
        };
        if self.configured.as_ref() != Some(&config) {
            self.output.configure(config.clone());
            self.configured = Some(config);
        }
        self.pipeline = Some(Pipeline {
            graph,
            input: (picture.width(), picture.height(), picture.format()),
            encoder,
        });
        Ok(())
    }

    fn picture(&mut self, picture: ff::frame::Video, key: bool) -> Result<(), RenditionError> {
        let input = (picture.width(), picture.height(), picture.format());
        if self.pipeline.as_ref().is_some_and(|p| p.input != input) {
            // The source changed size or format without new codec headers: a new graph and
            // encoder (the output size stays), after a discontinuity, because the new
            // encoder's first decode times start before the last ones sent.
            self.drain_encoder()?;
            self.pipeline = None;
            self.flush_audio(true);
            self.output.discontinuity();
        }
        if self.pipeline.is_none() {
            self.open(&picture)?;
        }
        let Some(p) = self.pipeline.as_mut() else {
            return Ok(());
        };
        let pts = picture.pts();
        p.graph
            .get("in")
            .ok_or(RenditionError::Filter(ff::Error::FilterNotFound))?
            .source()
            .add(&picture)
            .map_err(RenditionError::Filter)?;
        let mut scaled = ff::frame::Video::empty();
        let mut sink = p
            .graph
            .get("out")
            .ok_or(RenditionError::Filter(ff::Error::FilterNotFound))?;
        while sink.sink().frame(&mut scaled).is_ok() {
            scaled.set_pts(pts);
            scaled.set_kind(if key {
                ff::picture::Type::I
            } else {
                ff::picture::Type::None
            });
            p.encoder
                .send_frame(&scaled)
                .map_err(RenditionError::Encoder)?;
        }
        self.receive()
    }

    fn receive(&mut self) -> Result<(), RenditionError> {
        let Some(p) = self.pipeline.as_mut() else {
            return Ok(());
        };
        let mut packet = ff::Packet::empty();
        let mut frames = Vec::new();
        while p.encoder.receive_packet(&mut packet).is_ok() {
            let Some(data) = packet.data() else { continue };
            let (Some(pts), dts) = (packet.pts(), packet.dts()) else {
                continue;
            };
            let dts = dts.unwrap_or(pts);
            frames.push(Frame {
                track: Track::Video,
                dts,
                pts,
                key: packet.is_key(),
                data: annex_b_to_avcc(data),
            });
        }
        for frame in frames {
            self.send_video(frame);
        }
        Ok(())
    }

    fn drain_encoder(&mut self) -> Result<(), RenditionError> {
        if let Some(p) = self.pipeline.as_mut() {
            p.encoder.send_eof().map_err(RenditionError::Encoder)?;
            self.receive()?;
        }
        Ok(())
    }

    fn send_video(&mut self, frame: Frame) {
        // Audio up to this picture's decode time goes first: the packager cuts on video.
        while self.audio.front().is_some_and(|a| a.dts <= frame.dts) {
            if let Some(a) = self.audio.pop_front() {
                self.output.frame(a);
            }
        }
        self.video_dts = Some(frame.dts);
        count_out(&self.stats, frame.data.len());
        self.output.frame(frame);
    }

    /// Sends audio that is no longer waiting for video (all of it with `all`).
    fn flush_audio(&mut self, all: bool) {
        let newest = self.audio.back().map_or(0, |a| a.dts);
        while let Some(front) = self.audio.front() {
            let waited_enough = newest - front.dts > AUDIO_WAIT;
            let video_passed = self.video_dts.is_some_and(|v| front.dts <= v);
            if !(all || waited_enough || video_passed) {
                break;
            }
            if let Some(a) = self.audio.pop_front() {
                self.output.frame(a);
            }
        }
    }
}

fn count_out(stats: &RenditionStats, bytes: usize) {
    use std::sync::atomic::Ordering::Relaxed;
    stats.frames_out.fetch_add(1, Relaxed);
    stats.bytes_out.fetch_add(bytes as u64, Relaxed);
}

/// libx264 for one rung: constrained VBR at the rung's bitrate (peaks to 1.2×, a 2 s
/// buffer), keyframes only where the ladder forces them (scene cuts off, IDR on request),
/// so every rendition cuts its segments at the same instants.
pub(crate) fn open_x264(
    settings: &Settings,
    width: u32,
    height: u32,
) -> Result<ff::encoder::Video, ff::Error> {
    let codec = ff::encoder::find_by_name("libx264").ok_or(ff::Error::EncoderNotFound)?;
    let mut ctx = ff::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()?;
    let kbps = settings.spec.video_kbps.max(50);
    ctx.set_width(width);
    ctx.set_height(height);
    ctx.set_format(ff::format::Pixel::YUV420P);
    ctx.set_time_base(timeline());
    let fps = if settings.fps.is_finite() && settings.fps > 1.0 {
        settings.fps
    } else {
        30.0
    };
    ctx.set_frame_rate(Some(ff::Rational::new((fps * 1000.0).round() as i32, 1000)));
    ctx.set_bit_rate(kbps as usize * 1000);
    ctx.set_max_bit_rate(kbps as usize * 1200);
    ctx.set_gop(settings.max_gop);
    ctx.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    let mut opts = ff::Dictionary::new();
    opts.set("preset", "veryfast");
    opts.set("profile", if height > 480 { "high" } else { "main" });
    opts.set("bufsize", &(kbps * 2000).to_string());
    opts.set("forced-idr", "1");
    opts.set("x264-params", "scenecut=0:open-gop=0");
    ctx.open_as_with(codec, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_source_aspect_and_stay_even() {
        let rung = |height, width| RenditionSpec {
            name: "r".into(),
            width,
            height,
            video_kbps: 1000,
            audio_kbps: 128,
        };
        assert_eq!(output_size(&rung(240, 0), 854, 480), (426, 240));
        assert_eq!(output_size(&rung(360, 0), 854, 480), (640, 360));
        assert_eq!(output_size(&rung(480, 0), 1920, 1080), (854, 480));
        assert_eq!(output_size(&rung(720, 0), 1920, 1080), (1280, 720));
        assert_eq!(output_size(&rung(720, 961), 1920, 1080), (960, 720));
    }
}
