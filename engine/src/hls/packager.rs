//! Cuts a publisher's frames into HLS segments: a new segment at the first video keyframe
//! at least a target duration after the current one began (audio-only streams: at the
//! first audio frame past it), each segment starting with PAT/PMT and, with video, an IDR.

use std::time::SystemTime;

use bytes::Bytes;
use mpeg2ts::es::StreamType;

use super::ts::{MuxError, Program, TsMuxer};
use crate::media::{AudioConfig, Frame, StreamConfig, TIMESCALE, Track};

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
    Avc(#[from] crate::media::avc::BadAvc),
}

#[derive(Debug)]
pub struct Packager {
    config: StreamConfig,
    target: i64,
    muxer: TsMuxer,
    open: Option<Open>,
    next_discontinuity: bool,
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

impl Packager {
    /// `discontinuity`: the first segment follows an earlier publisher's.
    pub fn new(config: StreamConfig, target_secs: f64, discontinuity: bool) -> Self {
        Self {
            muxer: TsMuxer::new(program(&config)),
            config,
            target: (target_secs * TIMESCALE as f64) as i64,
            open: None,
            next_discontinuity: discontinuity,
        }
    }

    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// The stream's codecs changed (a new sequence header: encoder restart, new
    /// resolution): the current segment ends, the next starts with a discontinuity.
    pub fn reconfigure(&mut self, config: StreamConfig) -> Option<SegmentOut> {
        let done = self.finish();
        if program(&config) != self.muxer.program() {
            self.muxer = TsMuxer::new(program(&config));
        }
        self.config = config;
        self.next_discontinuity = true;
        done
    }

    /// The source's clock jumped: the next segment starts with a discontinuity.
    pub fn clock_jumped(&mut self) -> Option<SegmentOut> {
        let done = self.finish();
        self.next_discontinuity = true;
        done
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
                done = self.close(frame.dts);
            }
            _ => {}
        }
        if self.open.is_none() {
            self.muxer.write_tables()?;
            self.open = Some(Open {
                start_dts: frame.dts,
                last_dts: frame.dts,
                last_step: 0,
                started_at: SystemTime::now(),
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
        match (frame.track, &self.config.video, &self.config.audio) {
            (Track::Video, Some(avc), _) => {
                let annex_b = avc.to_annex_b(&frame.data, frame.key)?;
                self.muxer
                    .write_pes(Track::Video, frame.dts, frame.pts, frame.key, &annex_b)?;
            }
            (Track::Audio, _, Some(AudioConfig::Aac(aac))) => {
                let mut adts = Vec::with_capacity(frame.data.len() + 7);
                adts.extend_from_slice(&aac.adts_header(frame.data.len()));
                adts.extend_from_slice(&frame.data);
                self.muxer
                    .write_pes(Track::Audio, frame.dts, frame.pts, true, &adts)?;
            }
            (Track::Audio, _, Some(AudioConfig::Mp3 { .. })) => {
                self.muxer
                    .write_pes(Track::Audio, frame.dts, frame.pts, true, &frame.data)?;
            }
            // A track the program does not have (no sequence header yet): skipped.
            _ => {}
        }
        Ok(())
    }

    fn close(&mut self, next_start: i64) -> Option<SegmentOut> {
        let open = self.open.take()?;
        let data = self.muxer.take();
        if data.is_empty() {
            return None;
        }
        Some(SegmentOut {
            data,
            duration: (next_start - open.start_dts).max(1) as f64 / TIMESCALE as f64,
            started_at: open.started_at,
            discontinuity: open.discontinuity,
        })
    }

    /// Ends the segment in progress (the publisher left or the stream changed).
    pub fn finish(&mut self) -> Option<SegmentOut> {
        let end = self
            .open
            .as_ref()
            .map(|o| o.last_dts + o.last_step.max(1))?;
        self.close(end)
    }
}
