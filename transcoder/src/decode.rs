//! Decoders for a live source's frames as the engine carries them: H.264 in AVCC with its
//! decoder configuration record, AAC with its AudioSpecificConfig, MP3 frames. Timestamps
//! stay on the engine's 90 kHz timeline.

use ffmpeg_next as ff;
use tidecast_engine::media::{AudioConfig, Frame, StreamConfig, TIMESCALE};

use crate::ffi;

/// The engine's timeline, as FFmpeg sees it.
pub fn timeline() -> ff::Rational {
    ff::Rational::new(1, TIMESCALE as i32)
}

/// Why a decoder could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DecodeSetupError {
    #[error("this FFmpeg has no {0} decoder")]
    Missing(&'static str),
    #[error("cannot open the {0} decoder: {1}")]
    Open(&'static str, ff::Error),
}

/// Decodes the source's H.264 pictures.
pub struct VideoDecoder {
    decoder: ff::decoder::Video,
}

impl std::fmt::Debug for VideoDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VideoDecoder")
    }
}

impl VideoDecoder {
    pub fn new(config: &StreamConfig) -> Result<Option<Self>, DecodeSetupError> {
        let Some(avc) = &config.video else {
            return Ok(None);
        };
        let codec =
            ff::decoder::find(ff::codec::Id::H264).ok_or(DecodeSetupError::Missing("H.264"))?;
        let mut ctx = ffi::with_extradata(
            ff::codec::context::Context::new_with_codec(codec),
            &avc.record,
        )
        .map_err(|e| DecodeSetupError::Open("H.264", e))?;
        ctx.set_time_base(timeline());
        // Two threads: the decoder is one stage of several on a small machine; slice
        // threads would add no delay, frame threads add a frame each.
        ctx.set_threading(ff::threading::Config {
            count: 2,
            ..ff::threading::Config::kind(ff::threading::Type::Frame)
        });
        let decoder = ctx
            .decoder()
            .video()
            .map_err(|e| DecodeSetupError::Open("H.264", e))?;
        Ok(Some(Self { decoder }))
    }

    /// Feeds one picture; the decoded pictures that became ready go to `out`.
    pub fn decode(
        &mut self,
        frame: &Frame,
        out: &mut impl FnMut(ff::frame::Video),
    ) -> Result<(), ff::Error> {
        let mut packet = ff::Packet::copy(&frame.data);
        packet.set_pts(Some(frame.pts));
        packet.set_dts(Some(frame.dts));
        if frame.key {
            packet.set_flags(ff::codec::packet::Flags::KEY);
        }
        self.decoder.send_packet(&packet)?;
        self.drain(out)
    }

    fn drain(&mut self, out: &mut impl FnMut(ff::frame::Video)) -> Result<(), ff::Error> {
        loop {
            let mut picture = ff::frame::Video::empty();
            match self.decoder.receive_frame(&mut picture) {
                Ok(()) => {
                    let ts = picture.timestamp();
                    picture.set_pts(ts);
                    out(picture);
                }
                Err(ff::Error::Other { errno }) if errno == ff::error::EAGAIN => return Ok(()),
                Err(ff::Error::Eof) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

/// Decodes the source's audio (AAC or MP3) to PCM.
pub struct AudioDecoder {
    decoder: ff::decoder::Audio,
}

impl std::fmt::Debug for AudioDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AudioDecoder")
    }
}

impl AudioDecoder {
    pub fn new(config: &StreamConfig) -> Result<Option<Self>, DecodeSetupError> {
        let (id, name, extradata) = match &config.audio {
            None => return Ok(None),
            Some(AudioConfig::Aac(aac)) => (ff::codec::Id::AAC, "AAC", Some(&aac.raw)),
            Some(AudioConfig::Mp3 { .. }) => (ff::codec::Id::MP3, "MP3", None),
        };
        let codec = ff::decoder::find(id).ok_or(DecodeSetupError::Missing(name))?;
        let mut ctx = ff::codec::context::Context::new_with_codec(codec);
        if let Some(data) = extradata {
            ctx = ffi::with_extradata(ctx, data).map_err(|e| DecodeSetupError::Open(name, e))?;
        }
        ctx.set_time_base(timeline());
        let decoder = ctx
            .decoder()
            .audio()
            .map_err(|e| DecodeSetupError::Open(name, e))?;
        Ok(Some(Self { decoder }))
    }

    pub fn decode(
        &mut self,
        frame: &Frame,
        out: &mut impl FnMut(ff::frame::Audio),
    ) -> Result<(), ff::Error> {
        let mut packet = ff::Packet::copy(&frame.data);
        packet.set_pts(Some(frame.pts));
        packet.set_dts(Some(frame.dts));
        self.decoder.send_packet(&packet)?;
        loop {
            let mut pcm = ff::frame::Audio::empty();
            match self.decoder.receive_frame(&mut pcm) {
                Ok(()) => {
                    let ts = pcm.timestamp();
                    pcm.set_pts(ts);
                    out(pcm);
                }
                Err(ff::Error::Other { errno }) if errno == ff::error::EAGAIN => return Ok(()),
                Err(ff::Error::Eof) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

/// A live source's loudness, frame by frame (dead air), from the same decoder.
#[derive(Debug)]
pub struct Meter {
    decoder: AudioDecoder,
}

impl Meter {
    pub fn new(audio: &AudioConfig) -> Result<Self, DecodeSetupError> {
        let config = StreamConfig {
            video: None,
            audio: Some(audio.clone()),
        };
        AudioDecoder::new(&config)?
            .map(|decoder| Self { decoder })
            .ok_or(DecodeSetupError::Missing("audio"))
    }
}

impl tidecast_engine::transcode::LevelMeter for Meter {
    fn measure(&mut self, frame: &Frame) -> Option<(f32, f64)> {
        let mut peak: Option<f32> = None;
        let mut secs = 0.0;
        let _ = self.decoder.decode(frame, &mut |pcm| {
            secs += pcm.samples() as f64 / f64::from(pcm.rate().max(1));
            let p = peak_of(&pcm);
            peak = Some(peak.map_or(p, |q| q.max(p)));
        });
        peak.map(|p| (p, secs))
    }
}

/// The peak of decoded audio in the formats FFmpeg's MP3 and AAC decoders produce.
fn peak_of(pcm: &ff::frame::Audio) -> f32 {
    use ff::format::Sample;
    use ff::format::sample::Type;
    let planes = if pcm.is_planar() { pcm.planes() } else { 1 };
    let per_plane = if pcm.is_planar() {
        pcm.samples()
    } else {
        pcm.samples() * usize::from(pcm.channels())
    };
    let mut peak = 0f32;
    for i in 0..planes {
        let data = pcm.data(i);
        match pcm.format() {
            Sample::F32(Type::Planar | Type::Packed) => {
                for b in data.chunks_exact(4).take(per_plane) {
                    peak = peak.max(f32::from_ne_bytes([b[0], b[1], b[2], b[3]]).abs());
                }
            }
            Sample::I16(Type::Planar | Type::Packed) => {
                for b in data.chunks_exact(2).take(per_plane) {
                    peak = peak.max(f32::from(i16::from_ne_bytes([b[0], b[1]])).abs() / 32768.0);
                }
            }
            _ => return 1.0, // unknown: never taken for silence
        }
    }
    peak
}
