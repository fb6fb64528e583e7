//! Everything in Tidecast that touches FFmpeg: decode, scale, filter, encode.
//!
//! It implements the [`Transcoder`] trait the engine declares, so the engine never links
//! FFmpeg: [`FfmpegTranscoder`] runs a service's adaptive-bitrate ladder in-process
//! (ffmpeg-next over the system's FFmpeg libraries, no `ffmpeg` child processes), on its
//! own threads, never on the async runtime.

mod audio;
mod decode;
pub mod demo;
mod error;
mod feed;
mod ffi;
mod ladder;
mod pull;
mod radio_video;
mod remux;
mod rendition;
mod track;
mod vod;
mod watermark;

use std::path::Path;

use tidecast_engine::transcode::{
    FeedJob, LadderInput, LadderJob, PcmEncoder, TrackReader, TranscodeError, Transcoder,
};

pub use ladder::Input as LadderFeed;
pub use rendition::output_size;
pub use track::{Analysis, Probe, analyse, probe};

/// The in-process FFmpeg transcoder.
#[derive(Debug)]
pub struct FfmpegTranscoder {
    _private: (),
}

impl FfmpegTranscoder {
    /// Initialises FFmpeg's libraries (once) and checks that the encoders a ladder needs
    /// are there.
    pub fn new() -> Result<Self, TranscodeError> {
        ffmpeg_next::init().map_err(|e| TranscodeError::failed("FFmpeg did not start", e))?;
        // FFmpeg's own log would go to stderr unstructured; problems reach our log through
        // the errors its calls return.
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
        for (name, what) in [("libx264", "H.264 (libx264)"), ("aac", "AAC")] {
            if ffmpeg_next::encoder::find_by_name(name).is_none() {
                return Err(TranscodeError::missing(format!(
                    "this FFmpeg has no {what} encoder: transcoding is not available"
                )));
            }
        }
        Ok(Self { _private: () })
    }
}

impl FfmpegTranscoder {
    /// Starts a ladder fed by the caller's own thread, which may wait for room
    /// ([`LadderFeed::push_wait`]): files and benchmarks, where every picture counts.
    pub fn start_feed(&self, job: LadderJob) -> Result<LadderFeed, TranscodeError> {
        ladder::start(job)
    }
}

impl Transcoder for FfmpegTranscoder {
    fn start(&self, job: LadderJob) -> Result<Box<dyn LadderInput>, TranscodeError> {
        ladder::start(job).map(|input| Box::new(input) as Box<dyn LadderInput>)
    }

    fn open_track(&self, path: &Path, rate: u32) -> Result<Box<dyn TrackReader>, TranscodeError> {
        Ok(Box::new(track::FileTrack::open(path, rate)?))
    }

    fn level_meter(
        &self,
        audio: &tidecast_engine::media::AudioConfig,
    ) -> Result<Box<dyn tidecast_engine::transcode::LevelMeter>, TranscodeError> {
        decode::Meter::new(audio)
            .map(|m| Box::new(m) as Box<dyn tidecast_engine::transcode::LevelMeter>)
            .map_err(TranscodeError::from)
    }

    fn vod(
        &self,
        job: &tidecast_engine::transcode::VodJob,
        progress: &mut dyn FnMut(f64),
    ) -> Result<tidecast_engine::transcode::VodReport, TranscodeError> {
        vod::transcode(job, progress)
    }

    fn radio_video(
        &self,
        job: tidecast_engine::transcode::RadioVideoJob,
        out: Box<dyn tidecast_engine::transcode::RenditionOutput>,
    ) -> Result<Box<dyn tidecast_engine::transcode::RadioVideoInput>, TranscodeError> {
        radio_video::start(job, out)
    }

    fn pull(
        &self,
        url: &str,
        options: &[(String, String)],
        out: &mut dyn FnMut(tidecast_engine::media::flv::Tag) -> bool,
    ) -> Result<(), TranscodeError> {
        pull::pull(url, options, out)
    }

    fn remux(
        &self,
        job: &tidecast_engine::transcode::RemuxJob,
        progress: &mut dyn FnMut(f64),
    ) -> Result<tidecast_engine::transcode::RemuxReport, TranscodeError> {
        remux::remux(job, progress)
    }

    fn pcm_encoder(&self, job: FeedJob, rate: u32) -> Result<Box<dyn PcmEncoder>, TranscodeError> {
        feed::PcmFeed::new(job, rate)
            .map(|f| Box::new(f) as Box<dyn PcmEncoder>)
            .map_err(TranscodeError::from)
    }
}
