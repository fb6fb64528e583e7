//! AAC encoding of a source's decoded audio, once per distinct bitrate a ladder asks for:
//! renditions that share a bitrate share the encoded frames.
//!
//! Decoded audio goes through a small libavfilter graph first (abuffer → abuffersink with the
//! encoder's sample format, layout and frame size), which re-chunks MP3's 1152-sample or
//! HE-AAC's 2048-sample frames into the 1024 the AAC encoder takes.

use bytes::Bytes;
use ffmpeg_next as ff;
use tidecast_engine::media::aac::AacConfig;
use tidecast_engine::media::{AudioConfig, Frame, TIMESCALE, Track};

use crate::ffi;

/// One AAC encoder at one bitrate.
struct Encoder {
    kbps: u32,
    encoder: ff::encoder::Audio,
    config: AudioConfig,
}

/// The source's audio re-encoded to AAC at each bitrate the ladder needs.
pub struct AudioLadder {
    rechunk: Rechunker,
    encoders: Vec<Encoder>,
    rate: u32,
}

impl std::fmt::Debug for AudioLadder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioLadder")
            .field(
                "kbps",
                &self.encoders.iter().map(|e| e.kbps).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The channel layout of decoded audio (decoders may leave it unset: then by count).
pub fn layout_bits(pcm: &ff::frame::Audio) -> u64 {
    if pcm.channel_layout().bits() == 0 {
        ff::ChannelLayout::default(i32::from(pcm.channels())).bits()
    } else {
        pcm.channel_layout().bits()
    }
}

/// abuffer → abuffersink: decoded audio like `pcm` becomes `format` at `rate` in `layout`,
/// in frames of `frame_size` samples (what an encoder takes).
pub fn graph_for(
    pcm: &ff::frame::Audio,
    format: ff::format::Sample,
    layout: ff::ChannelLayout,
    rate: u32,
    frame_size: u32,
) -> Result<ff::filter::Graph, ff::Error> {
    let mut graph = ff::filter::Graph::new();
    let args = format!(
        "time_base=1/{}:sample_rate={}:sample_fmt={}:channel_layout=0x{:x}",
        TIMESCALE,
        pcm.rate(),
        pcm.format().name(),
        layout_bits(pcm)
    );
    let abuffer = ff::filter::find("abuffer").ok_or(ff::Error::FilterNotFound)?;
    let abuffersink = ff::filter::find("abuffersink").ok_or(ff::Error::FilterNotFound)?;
    graph.add(&abuffer, "in", &args)?;
    graph.add(&abuffersink, "out", "")?;
    {
        let mut out = graph.get("out").ok_or(ff::Error::FilterNotFound)?;
        out.set_sample_format(format);
        out.set_channel_layout(layout);
        out.set_sample_rate(rate);
    }
    let spec = if pcm.rate() == rate {
        "anull".to_owned()
    } else {
        format!("aresample={rate}")
    };
    graph.output("in", 0)?.input("out", 0)?.parse(&spec)?;
    graph.validate()?;
    if frame_size > 0 {
        graph
            .get("out")
            .ok_or(ff::Error::FilterNotFound)?
            .sink()
            .set_frame_size(frame_size);
    }
    Ok(graph)
}

/// Decoded audio in, encoder-ready frames out: a [`graph_for`] graph, rebuilt when the
/// decoded audio changes (a new source), frames timed in samples of the output rate.
pub struct Rechunker {
    graph: Option<ff::filter::Graph>,
    /// The decoded audio the graph was built for (rate, format, layout bits).
    built_for: (u32, ff::format::Sample, u64),
    format: ff::format::Sample,
    layout: ff::ChannelLayout,
    rate: u32,
    frame_size: u32,
}

impl Rechunker {
    pub fn new(
        format: ff::format::Sample,
        layout: ff::ChannelLayout,
        rate: u32,
        frame_size: u32,
    ) -> Self {
        Self {
            graph: None,
            built_for: (0, ff::format::Sample::None, 0),
            format,
            layout,
            rate,
            frame_size,
        }
    }

    /// Feeds `pcm`; each frame that became ready goes to `each`.
    pub fn run(
        &mut self,
        pcm: &ff::frame::Audio,
        each: &mut impl FnMut(&ff::frame::Audio) -> Result<(), ff::Error>,
    ) -> Result<(), ff::Error> {
        let key = (pcm.rate(), pcm.format(), layout_bits(pcm));
        if self.graph.is_none() || key != self.built_for {
            self.graph = Some(graph_for(
                pcm,
                self.format,
                self.layout,
                self.rate,
                self.frame_size,
            )?);
            self.built_for = key;
        }
        let Some(graph) = self.graph.as_mut() else {
            return Ok(());
        };
        // A buffer source takes the references of the frame it is given (leaving it empty):
        // it gets its own, so the caller's frame still serves other graphs.
        graph
            .get("in")
            .ok_or(ff::Error::FilterNotFound)?
            .source()
            .add(&*ffi::share_audio(pcm)?)?;
        let mut sink = graph.get("out").ok_or(ff::Error::FilterNotFound)?;
        loop {
            let mut chunk = ff::frame::Audio::empty();
            if sink.sink().frame(&mut chunk).is_err() {
                return Ok(());
            }
            // The sink's time base is the source's (90 kHz); encoders count samples.
            let pts = chunk.pts().unwrap_or(0) * i64::from(self.rate) / TIMESCALE;
            chunk.set_pts(Some(pts));
            each(&chunk)?;
        }
    }
}

pub fn layout_for(channels: u8) -> ff::ChannelLayout {
    if channels == 1 {
        ff::ChannelLayout::MONO
    } else {
        ff::ChannelLayout::STEREO
    }
}

impl AudioLadder {
    /// Encoders for each of `kbps` (deduplicated) at the source's rate; more than two
    /// channels are downmixed to stereo.
    pub fn new(sample_rate: u32, channels: u8, kbps: &[u32]) -> Result<Self, ff::Error> {
        let codec = ff::encoder::find(ff::codec::Id::AAC).ok_or(ff::Error::EncoderNotFound)?;
        let layout = layout_for(channels);
        let mut wanted: Vec<u32> = kbps.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mut encoders = Vec::with_capacity(wanted.len());
        for kbps in wanted {
            let mut ctx = ff::codec::context::Context::new_with_codec(codec)
                .encoder()
                .audio()?;
            ctx.set_rate(sample_rate as i32);
            ctx.set_channel_layout(layout);
            ctx.set_format(ff::format::Sample::F32(ff::format::sample::Type::Planar));
            ctx.set_bit_rate(kbps as usize * 1000);
            ctx.set_time_base(ff::Rational::new(1, sample_rate as i32));
            ctx.set_flags(ff::codec::Flags::GLOBAL_HEADER);
            let encoder = ctx.open_as(codec)?;
            let asc = Bytes::from(ffi::extradata(&encoder));
            let aac = AacConfig::parse(&asc).map_err(|_| ff::Error::InvalidData)?;
            encoders.push(Encoder {
                kbps,
                encoder,
                config: AudioConfig::Aac(aac),
            });
        }
        let frame_size = encoders.first().map_or(1024, |e| e.encoder.frame_size());
        let fltp = ff::format::Sample::F32(ff::format::sample::Type::Planar);
        Ok(Self {
            rechunk: Rechunker::new(fltp, layout, sample_rate, frame_size),
            encoders,
            rate: sample_rate,
        })
    }

    /// The AAC configuration of the encoder at `kbps` (the nearest one made).
    pub fn config(&self, kbps: u32) -> Option<AudioConfig> {
        self.nearest(kbps).map(|i| self.encoders[i].config.clone())
    }

    fn nearest(&self, kbps: u32) -> Option<usize> {
        (0..self.encoders.len()).min_by_key(|&i| self.encoders[i].kbps.abs_diff(kbps))
    }

    /// Which encoder feeds a rendition asking for `kbps`.
    pub fn index_for(&self, kbps: u32) -> usize {
        self.nearest(kbps).unwrap_or(0)
    }

    /// Encodes decoded audio; each encoded frame goes to `out(encoder index, frame)`, with
    /// timestamps on the engine's 90 kHz timeline.
    pub fn encode(
        &mut self,
        pcm: &ff::frame::Audio,
        out: &mut impl FnMut(usize, Frame),
    ) -> Result<(), ff::Error> {
        let rate = i64::from(self.rate);
        let encoders = &mut self.encoders;
        self.rechunk.run(pcm, &mut |chunk| {
            let pts_samples = chunk.pts().unwrap_or(0);
            for (i, e) in encoders.iter_mut().enumerate() {
                e.encoder.send_frame(chunk)?;
                let mut packet = ff::Packet::empty();
                while e.encoder.receive_packet(&mut packet).is_ok() {
                    let Some(data) = packet.data() else { continue };
                    let pts = packet.pts().unwrap_or(pts_samples) * TIMESCALE / rate;
                    out(
                        i,
                        Frame {
                            track: Track::Audio,
                            dts: pts,
                            pts,
                            key: true,
                            data: Bytes::copy_from_slice(data),
                        },
                    );
                }
            }
            Ok(())
        })
    }
}
