//! A transcoded rendition's way into HLS: the transcoder's encoded frames → a packager →
//! the rendition's live stream (`<slug>/<rendition>`), and its line in the master playlist.
//!
//! It runs on the transcoder's thread for that rendition: packaging costs microseconds a
//! frame, and the stream's lock is taken once per part or segment.

use std::sync::Arc;
use std::time::SystemTime;

use crate::hls::live::{LiveStream, Variant};
use crate::hls::packager::{Packager, SegmentOut};
use crate::hls::playlist::StreamInfo;
use crate::media::{Frame, StreamConfig};
use crate::tap::TapWriter;
use crate::transcode::RenditionOutput;

/// Added to every timestamp an encoder hands back: its first decode times sit before the
/// source's first picture (B-frame delay, AAC priming), and fMP4 decode times cannot be
/// negative. One constant for every rendition keeps them aligned.
const OFFSET: i64 = 10 * crate::media::TIMESCALE;

/// How a rendition's stream is packaged, and where it appears in the master playlist.
#[derive(Debug)]
pub struct RenditionStream {
    stream: Arc<LiveStream>,
    /// The service's own stream, which carries the master playlist.
    master: Arc<LiveStream>,
    variant: Variant,
    target_secs: f64,
    packager: Option<Packager>,
    /// Program dates follow the source's clock, so every rendition dates a segment alike.
    anchor: (SystemTime, i64),
    discontinuity: bool,
    /// The claim on `stream` this output was made under: once the stream is claimed again
    /// (the ladder restarted, the publisher left) this output's writes are dropped.
    claim: u64,
    /// Whether the master playlist lists this rendition yet (only once it has a segment,
    /// so a player never asks for a playlist that is not there).
    listed: bool,
    /// Restream targets that send this rendition follow its tags here.
    tap: Option<TapWriter>,
}

impl RenditionStream {
    /// `variant`: the rendition's master playlist line, its codecs filled in once the
    /// encoder says what it makes.
    pub fn new(
        stream: Arc<LiveStream>,
        master: Arc<LiveStream>,
        variant: Variant,
        target_secs: f64,
        anchor: (SystemTime, i64),
    ) -> Self {
        let discontinuity = stream.has_segments();
        let claim = stream.claim();
        Self {
            stream,
            master,
            variant,
            target_secs,
            packager: None,
            anchor: (anchor.0, anchor.1 + OFFSET),
            discontinuity,
            claim,
            listed: false,
            tap: None,
        }
    }

    /// Also hands its frames on to `tap` as FLV tags (for restream targets).
    pub fn with_tap(mut self, tap: Option<Arc<crate::tap::Tap>>) -> Self {
        self.tap = tap.map(TapWriter::new);
        self
    }

    fn deliver(&mut self, seg: Option<SegmentOut>) {
        let Some(p) = self.packager.as_mut() else {
            return;
        };
        let mut current = true;
        for part in p.take_parts() {
            current &= self.stream.push_part_claimed(self.claim, part);
        }
        if let Some(seg) = seg {
            current &= self.stream.push_claimed(self.claim, seg);
            if current && !self.listed {
                self.master.set_variant(self.variant.clone());
                self.listed = true;
            }
        }
    }

    fn warn(&self, what: impl std::fmt::Display) {
        tracing::warn!(stream = %self.stream.slug(), "{what}");
    }
}

impl RenditionOutput for RenditionStream {
    fn configure(&mut self, config: StreamConfig) {
        if let Some(t) = &self.tap {
            t.configure(&config);
        }
        let mut variant = self.variant.clone();
        let made = StreamInfo::of(&config);
        // The frame rate stays the source's (the encoder's headers need not say it).
        variant.info = StreamInfo {
            resolution: made.resolution.or(variant.info.resolution),
            codecs: made.codecs,
            frame_rate: variant.info.frame_rate.or(made.frame_rate),
        };
        self.stream.set_info(variant.info.clone());
        if self.listed && variant != self.variant {
            self.master.set_variant(variant.clone());
        }
        self.variant = variant;
        let result = match self.packager.as_mut() {
            Some(p) => p.reconfigure(config).map(Some),
            // The transcoder puts keyframes only on its grid (one target apart, give or take
            // a frame): cutting at each of them keeps every rendition's segments aligned,
            // so the packager's threshold sits a little below the target.
            None => Packager::new(
                config,
                self.target_secs * 0.8,
                self.discontinuity,
                self.stream.format(),
                self.stream.part_target(),
            )
            .map(|mut p| {
                p.set_anchor(self.anchor.0, self.anchor.1);
                self.packager = Some(p);
                None
            }),
        };
        match result {
            Ok(seg) => self.deliver(seg.flatten()),
            Err(e) => self.warn(format_args!("rendition not packaged: {e}")),
        }
    }

    fn frame(&mut self, mut frame: Frame) {
        if self.packager.is_none() {
            return;
        }
        frame.dts += OFFSET;
        frame.pts += OFFSET;
        if let Some(t) = &self.tap {
            t.frame(&frame);
        }
        let Some(p) = self.packager.as_mut() else {
            return;
        };
        match p.push(&frame) {
            Ok(seg) => self.deliver(seg),
            Err(e) => self.warn(format_args!("rendition frame not packaged: {e}")),
        }
    }

    fn discontinuity(&mut self) {
        if let Some(p) = self.packager.as_mut() {
            match p.clock_jumped() {
                Ok(seg) => self.deliver(seg),
                Err(e) => self.warn(format_args!("rendition segment lost: {e}")),
            }
        }
    }
}

impl Drop for RenditionStream {
    /// The ladder stopped: the segment in progress is listed.
    fn drop(&mut self) {
        if let Some(p) = self.packager.as_mut() {
            match p.finish() {
                Ok(seg) => self.deliver(seg),
                Err(e) => self.warn(format_args!("the last segment was lost: {e}")),
            }
        }
    }
}
