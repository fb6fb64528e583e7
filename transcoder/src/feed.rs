//! Radio mount feeds: the primary's decoded audio re-encoded for an extra mount (MP3 with
//! libmp3lame, AAC as ADTS, Opus in Ogg) and handed to the engine in chunks of about a
//! quarter second, the way an Icecast source would send them.

use bytes::{Bytes, BytesMut};
use ffmpeg_next as ff;
use tidecast_engine::media::TIMESCALE;
use tidecast_engine::media::aac::AacConfig;
use tidecast_engine::transcode::{AudioCodec, FeedJob, FeedOutput, PcmEncoder, TranscodeError};

use crate::audio::{Rechunker, layout_for};
use crate::ffi;

/// One mount feed: its filter graph (format, rate, frame size), encoder and output.
pub struct Feed {
    mount: String,
    codec: AudioCodec,
    encoder: ff::encoder::Audio,
    rechunk: Rechunker,
    /// How encoded packets become the stream listeners get.
    mux: Mux,
    output: Box<dyn FeedOutput>,
    pending: BytesMut,
    /// Bytes gathered before they go out (about 250 ms of the stream).
    chunk: usize,
}

tidecast_engine::debug_fields!(Feed { mount, codec, .. });

/// Why a feed could not start (its mount stays without the transcoder).
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the {0} encoder: {1}")]
    Encoder(&'static str, ff::Error),
}

impl Feed {
    /// A feed of `job` from audio at `rate` Hz with `channels` channels.
    pub fn new(job: FeedJob, rate: u32, channels: u8) -> Result<Self, FeedError> {
        let (name, fmt, rate) = match job.spec.codec {
            AudioCodec::Mp3 => ("libmp3lame", ff::format::sample::Type::Planar, rate),
            AudioCodec::Aac => ("aac", ff::format::sample::Type::Planar, rate),
            // Opus runs at 48 kHz whatever comes in.
            AudioCodec::Opus => ("libopus", ff::format::sample::Type::Packed, 48_000),
        };
        let channels = if job.spec.codec == AudioCodec::Opus {
            channels.min(2)
        } else {
            channels
        };
        let err = |e| FeedError::Encoder(name, e);
        let codec = ff::encoder::find_by_name(name)
            .ok_or(FeedError::Encoder(name, ff::Error::EncoderNotFound))?;
        let layout = layout_for(channels);
        let mut ctx = ff::codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(err)?;
        ctx.set_rate(rate as i32);
        ctx.set_channel_layout(layout);
        ctx.set_format(ff::format::Sample::F32(fmt));
        ctx.set_bit_rate(job.spec.kbps as usize * 1000);
        ctx.set_time_base(ff::Rational::new(1, rate as i32));
        if job.spec.codec != AudioCodec::Mp3 {
            ctx.set_flags(ff::codec::Flags::GLOBAL_HEADER);
        }
        let encoder = ctx.open_as(codec).map_err(err)?;
        let frame_size = encoder.frame_size();
        let mut output = job.output;
        let mux = match job.spec.codec {
            AudioCodec::Mp3 => Mux::Raw,
            AudioCodec::Aac => Mux::Adts(
                AacConfig::parse(&Bytes::from(ffi::extradata(&encoder)))
                    .map_err(|_| err(ff::Error::InvalidData))?,
            ),
            AudioCodec::Opus => {
                let (mux, headers) = Mux::ogg_opus(&ffi::extradata(&encoder))
                    .map_err(|_| err(ff::Error::InvalidData))?;
                output.headers(headers);
                mux
            }
        };
        Ok(Self {
            mount: job.spec.mount,
            codec: job.spec.codec,
            encoder,
            rechunk: Rechunker::new(ff::format::Sample::F32(fmt), layout, rate, frame_size),
            mux,
            output,
            pending: BytesMut::new(),
            chunk: (job.spec.kbps as usize * 1000 / 8 / 4).max(1024),
        })
    }

    /// Encodes decoded audio; full chunks go to the mount.
    pub fn encode(&mut self, pcm: &ff::frame::Audio) -> Result<(), ff::Error> {
        let (encoder, mux, pending) = (&mut self.encoder, &mut self.mux, &mut self.pending);
        self.rechunk.run(pcm, &mut |chunk| {
            encoder.send_frame(chunk)?;
            let mut packet = ff::Packet::empty();
            while encoder.receive_packet(&mut packet).is_ok() {
                let Some(data) = packet.data() else { continue };
                mux.packet(data, packet.duration(), pending);
            }
            Ok(())
        })?;
        if self.pending.len() >= self.chunk {
            self.output.data(self.pending.split().freeze());
        }
        Ok(())
    }
}

/// A feed driven by PCM instead of a decoder (AutoDJ): interleaved stereo `f32` at a fixed
/// rate, stamped with its running sample count.
#[derive(Debug)]
pub struct PcmFeed {
    feed: Feed,
    rate: u32,
    samples: i64,
}

impl PcmFeed {
    pub fn new(job: FeedJob, rate: u32) -> Result<Self, FeedError> {
        Ok(Self {
            feed: Feed::new(job, rate, 2)?,
            rate,
            samples: 0,
        })
    }
}

impl PcmEncoder for PcmFeed {
    fn encode(&mut self, pcm: &[f32]) -> Result<(), TranscodeError> {
        let n = pcm.len() / 2;
        if n == 0 {
            return Ok(());
        }
        let mut frame = ff::frame::Audio::new(
            ff::format::Sample::F32(ff::format::sample::Type::Packed),
            n,
            ff::ChannelLayout::STEREO,
        );
        frame.set_rate(self.rate);
        for (dst, s) in frame.data_mut(0).chunks_exact_mut(4).zip(&pcm[..n * 2]) {
            dst.copy_from_slice(&s.to_ne_bytes());
        }
        // The feed's graph takes 90 kHz time stamps, as from a decoder.
        frame.set_pts(Some(self.samples * TIMESCALE / i64::from(self.rate)));
        self.samples += n as i64;
        self.feed
            .encode(&frame)
            .map_err(|e| TranscodeError::failed(format!("encoding {} failed", self.feed.mount), e))
    }

    fn flush(&mut self) {
        if !self.feed.pending.is_empty() {
            let chunk = self.feed.pending.split().freeze();
            self.feed.output.data(chunk);
        }
    }
}

/// Encoded packets → the bytes of the stream.
enum Mux {
    /// MP3: frames as they are.
    Raw,
    /// AAC: each frame behind its ADTS header.
    Adts(AacConfig),
    /// Opus: Ogg pages (RFC 7845), a page every few packets.
    Ogg {
        writer: ogg::PacketWriter<'static, Vec<u8>>,
        serial: u32,
        granule: u64,
        in_page: u32,
    },
}

/// Opus packets per Ogg page: 10 × 20 ms.
const PACKETS_PER_PAGE: u32 = 10;

impl Mux {
    /// The Ogg muxer for Opus, and its two header pages (OpusHead from the encoder, then
    /// OpusTags).
    fn ogg_opus(head: &[u8]) -> std::io::Result<(Self, Vec<Bytes>)> {
        use ogg::PacketWriteEndInfo::EndPage;
        if !head.starts_with(b"OpusHead") {
            return Err(std::io::Error::other("no OpusHead from the encoder"));
        }
        // Any serial will do; one that differs per feed keeps chained streams apart.
        let serial = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos() | 1);
        let mut writer = ogg::PacketWriter::new(Vec::new());
        let mut pages = Vec::new();
        writer.write_packet(head.to_vec(), serial, EndPage, 0)?;
        pages.push(Bytes::from(std::mem::take(writer.inner_mut())));
        let vendor = b"Tidecast";
        let mut tags = b"OpusTags".to_vec();
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes());
        writer.write_packet(tags, serial, EndPage, 0)?;
        pages.push(Bytes::from(std::mem::take(writer.inner_mut())));
        Ok((
            Self::Ogg {
                writer,
                serial,
                granule: 0,
                in_page: 0,
            },
            pages,
        ))
    }

    fn packet(&mut self, data: &[u8], duration: i64, out: &mut BytesMut) {
        match self {
            Self::Raw => out.extend_from_slice(data),
            Self::Adts(aac) => {
                out.extend_from_slice(&aac.adts_header(data.len()));
                out.extend_from_slice(data);
            }
            Self::Ogg {
                writer,
                serial,
                granule,
                in_page,
            } => {
                // Durations are in 48 kHz samples (the encoder's time base).
                *granule += u64::try_from(duration)
                    .ok()
                    .filter(|d| *d > 0)
                    .unwrap_or(960);
                *in_page += 1;
                let end = if *in_page >= PACKETS_PER_PAGE {
                    *in_page = 0;
                    ogg::PacketWriteEndInfo::EndPage
                } else {
                    ogg::PacketWriteEndInfo::NormalPacket
                };
                if writer
                    .write_packet(data.to_vec(), *serial, end, *granule)
                    .is_ok()
                {
                    // Whatever the writer emitted is whole pages.
                    out.extend_from_slice(&std::mem::take(writer.inner_mut()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tidecast_engine::transcode::FeedSpec;

    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<u8>>>);

    impl FeedOutput for Collect {
        fn headers(&mut self, _pages: Vec<Bytes>) {}
        fn data(&mut self, data: Bytes) {
            self.0.lock().expect("lock").extend_from_slice(&data);
        }
    }

    fn tone(samples: usize, at: i64) -> ff::frame::Audio {
        let mut pcm = ff::frame::Audio::new(
            ff::format::Sample::F32(ff::format::sample::Type::Planar),
            samples,
            ff::ChannelLayout::MONO,
        );
        pcm.set_rate(44_100);
        for (i, s) in pcm.plane_mut::<f32>(0).iter_mut().enumerate() {
            *s = ((i as f32) * 0.0627).sin() * 0.3;
        }
        pcm.set_pts(Some(at));
        pcm
    }

    #[test]
    fn mp3_and_aac_feeds_make_their_formats() {
        ff::init().expect("ffmpeg");
        for (codec, sync) in [
            (AudioCodec::Mp3, 0xFFu8),
            (AudioCodec::Aac, 0xFF),
            (AudioCodec::Opus, b'O'),
        ] {
            let out = Collect::default();
            let mut feed = Feed::new(
                FeedJob {
                    spec: FeedSpec {
                        mount: "m".into(),
                        codec,
                        kbps: 64,
                    },
                    output: Box::new(out.clone()),
                },
                44_100,
                1,
            )
            .expect("encoder");
            for i in 0..200 {
                feed.encode(&tone(1152, i * 1152 * TIMESCALE / 44_100))
                    .expect("encode");
            }
            let bytes = out.0.lock().expect("lock").clone();
            assert!(bytes.len() > 10_000, "{codec:?}: {} bytes", bytes.len());
            assert_eq!(bytes[0], sync, "{codec:?} starts with a frame header");
        }
    }
}
