//! Media files decoded for AutoDJ and for import: any audio FFmpeg reads (and the audio
//! track of a video file), converted to interleaved stereo `f32` at the rate asked for.
//!
//! FFmpeg rather than symphonia here because playout needs every format a customer uploads
//! (symphonia has no Opus and no HE-AAC) and a resampler (libswresample) in the same pass;
//! the import still reads tags and cover art with symphonia.

use std::path::Path;

use ffmpeg_next as ff;
use tidecast_engine::transcode::{TrackReader, TranscodeError};

/// One open file, read in order.
pub struct FileTrack {
    input: ff::format::context::Input,
    stream: usize,
    decoder: ff::decoder::Audio,
    resampler: Option<(ff::software::resampling::Context, Shape)>,
    rate: u32,
    /// The decoder has been told the file ended (what it still holds is being drained).
    draining: bool,
    done: bool,
    decoded: ff::frame::Audio,
}

tidecast_engine::debug_fields!(FileTrack { stream, rate, .. });

/// What a resampler was built for: a decoder may change format mid-file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    format: ff::format::Sample,
    layout: u64,
    rate: u32,
}

/// The demuxers a media file may use. FFmpeg picks a demuxer by content, whatever the
/// file's name: without a list, an uploaded text file could be an HLS or concat playlist
/// that makes FFmpeg read other files on the server (or wait forever on a "live" one).
const FORMATS: &str = "mp3,aac,flac,ogg,wav,w64,aiff,caf,matroska,webm,mov,mp4,m4a,asf,avi,\
flv,mpegts,mpeg,ac3,eac3,dts,truehd,mlp,wv,ape,tta,amr,au,voc,loas,image2,png_pipe,jpeg_pipe";

/// Opens a local media file with only [`FORMATS`] and the `file` protocol allowed.
pub(crate) fn open_file(path: &Path) -> Result<ff::format::context::Input, TranscodeError> {
    let mut options = ff::Dictionary::new();
    options.set("format_whitelist", FORMATS);
    options.set("protocol_whitelist", "file");
    ff::format::input_with_dictionary(&path, options)
        .map_err(err("not a media file this server can read"))
}

fn err(what: &str) -> impl Fn(ff::Error) -> TranscodeError + '_ {
    move |e| TranscodeError::failed(what.to_owned(), e)
}

impl FileTrack {
    /// Opens `path` and its best audio stream.
    pub fn open(path: &Path, rate: u32) -> Result<Self, TranscodeError> {
        let input = open_file(path)?;
        let stream = input
            .streams()
            .best(ff::media::Type::Audio)
            .ok_or_else(|| TranscodeError::input("the file has no audio"))?;
        let index = stream.index();
        let decoder = ff::codec::context::Context::from_parameters(stream.parameters())
            .and_then(|c| c.decoder().audio())
            .map_err(err("its audio cannot be decoded"))?;
        Ok(Self {
            input,
            stream: index,
            decoder,
            resampler: None,
            rate,
            draining: false,
            done: false,
            decoded: ff::frame::Audio::empty(),
        })
    }

    /// Converts the decoded frame in `self.decoded` and appends it to `out`.
    fn convert(&mut self, out: &mut Vec<f32>) -> Result<usize, TranscodeError> {
        let frame = &mut self.decoded;
        if frame.channel_layout().bits() == 0 {
            // Files without a layout (WAV, some MP4s): the usual one for the count.
            frame.set_channel_layout(ff::ChannelLayout::default(i32::from(
                frame.channels().max(1),
            )));
        }
        let shape = Shape {
            format: frame.format(),
            layout: frame.channel_layout().bits(),
            rate: frame.rate(),
        };
        if self.resampler.as_ref().is_none_or(|(_, s)| *s != shape) {
            let ctx = ff::software::resampling::Context::get(
                shape.format,
                frame.channel_layout(),
                shape.rate,
                ff::format::Sample::F32(ff::format::sample::Type::Packed),
                ff::ChannelLayout::STEREO,
                self.rate,
            )
            .map_err(err("the audio cannot be converted"))?;
            self.resampler = Some((ctx, shape));
        }
        let Some((ctx, _)) = self.resampler.as_mut() else {
            return Ok(0);
        };
        // Room for all the output: ffmpeg-next would size it like the input, which loses
        // audio when upsampling.
        let room = frame.samples() * self.rate as usize / shape.rate.max(1) as usize + 256;
        let mut converted = output_frame(room);
        ctx.run(frame, &mut converted)
            .map_err(err("the audio cannot be converted"))?;
        Ok(append(&converted, out))
    }

    /// What the resampler still holds at the end of the file.
    fn flush(&mut self, out: &mut Vec<f32>) -> usize {
        let Some((ctx, _)) = self.resampler.as_mut() else {
            return 0;
        };
        let mut converted = output_frame(1024);
        match ctx.flush(&mut converted) {
            Ok(_) => append(&converted, out),
            Err(_) => 0,
        }
    }
}

fn output_frame(samples: usize) -> ff::frame::Audio {
    ff::frame::Audio::new(
        ff::format::Sample::F32(ff::format::sample::Type::Packed),
        samples,
        ff::ChannelLayout::STEREO,
    )
}

/// Appends a converted (packed stereo `f32`) frame's samples; returns the frame count.
fn append(converted: &ff::frame::Audio, out: &mut Vec<f32>) -> usize {
    let n = converted.samples();
    let bytes = &converted.data(0)[..n * 8];
    out.extend(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
    );
    n
}

impl TrackReader for FileTrack {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize, TranscodeError> {
        loop {
            if self.done {
                return Ok(0);
            }
            if self.decoder.receive_frame(&mut self.decoded).is_ok() {
                let n = self.convert(out)?;
                if n > 0 {
                    return Ok(n);
                }
                continue;
            }
            if self.draining {
                self.done = true;
                return Ok(self.flush(out));
            }
            let mut packet = ff::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) => {
                    if packet.stream() != self.stream {
                        continue;
                    }
                    // A damaged packet is skipped, as a player would; the rest still plays.
                    let _ = self.decoder.send_packet(&packet);
                }
                Err(ff::Error::Eof) => {
                    let _ = self.decoder.send_eof();
                    self.draining = true;
                }
                Err(e) => {
                    return Err(TranscodeError::failed("reading the file failed", e));
                }
            }
        }
    }
}

/// What import learns by decoding a whole file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Analysis {
    /// Decoded duration (the file's own header may be wrong).
    pub duration_s: f64,
    /// EBU R128 integrated loudness; `None` for a silent file.
    pub loudness_lufs: Option<f64>,
    /// Where the sound starts and ends (silence at the head and tail skipped).
    pub cue_in_s: f64,
    pub cue_out_s: f64,
}

/// The longest an import's decode may take, and the most audio a file may hold (12 hours).
const MAX_ANALYSIS: std::time::Duration = std::time::Duration::from_secs(300);
const MAX_FRAMES: u64 = 12 * 3600 * ANALYSIS_RATE as u64;
/// The rate analysis decodes at.
const ANALYSIS_RATE: u32 = 48_000;
/// Below this peak level (−45 dBFS) a 10 ms block counts as silence.
const SILENCE: f32 = 0.005_623;

/// Decodes `path` once: its duration, loudness and cue points.
pub fn analyse(path: &Path) -> Result<Analysis, TranscodeError> {
    let mut track = FileTrack::open(path, ANALYSIS_RATE)?;
    let mut meter = ebur128::EbuR128::new(2, ANALYSIS_RATE, ebur128::Mode::I)
        .map_err(|e| TranscodeError::failed("loudness meter", e))?;
    let block = (ANALYSIS_RATE / 100) as usize;
    let (mut frames, mut first, mut last) = (0usize, None, 0usize);
    let mut pcm = Vec::with_capacity(16_384);
    // Samples of the block being measured for silence, carried across reads.
    let mut carry: Vec<f32> = Vec::new();
    let started = std::time::Instant::now();
    loop {
        if started.elapsed() > MAX_ANALYSIS || frames as u64 > MAX_FRAMES {
            return Err(TranscodeError::input(
                "the file is too long to import (over 12 hours, or it would not stop decoding)",
            ));
        }
        pcm.clear();
        let n = track.read(&mut pcm)?;
        if n == 0 {
            break;
        }
        meter
            .add_frames_f32(&pcm)
            .map_err(|e| TranscodeError::failed("loudness meter", e))?;
        carry.extend_from_slice(&pcm);
        let whole = carry.len() / (block * 2) * block * 2;
        for chunk in carry[..whole].chunks_exact(block * 2) {
            if chunk.iter().any(|s| s.abs() > SILENCE) {
                first.get_or_insert(frames);
                last = frames + block;
            }
            frames += block;
        }
        carry.drain(..whole);
    }
    let tail = carry.len() / 2;
    if carry.iter().any(|s| s.abs() > SILENCE) {
        first.get_or_insert(frames);
        last = frames + tail;
    }
    frames += tail;
    if frames == 0 {
        return Err(TranscodeError::input(
            "no audio could be decoded from the file",
        ));
    }
    let secs = |f: usize| f as f64 / f64::from(ANALYSIS_RATE);
    let loudness = meter.loudness_global().ok().filter(|l| l.is_finite());
    Ok(Analysis {
        duration_s: secs(frames),
        loudness_lufs: loudness,
        cue_in_s: secs(first.unwrap_or(0)),
        cue_out_s: secs(if first.is_some() { last } else { frames }),
    })
}

/// Tags and facts FFmpeg reads from a file's header (for what symphonia cannot open).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub duration_s: Option<f64>,
    pub bitrate_kbps: Option<u32>,
    pub has_audio: bool,
    pub has_video: bool,
}

/// Reads a file's header with FFmpeg.
pub fn probe(path: &Path) -> Result<Probe, TranscodeError> {
    let input = open_file(path)?;
    let tag = |key: &str| {
        let own = input.metadata();
        let found = own
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim().to_owned());
        found.or_else(|| {
            input.streams().find_map(|s| {
                s.metadata()
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.trim().to_owned())
            })
        })
    };
    let duration = input.duration();
    Ok(Probe {
        title: tag("title").filter(|t| !t.is_empty()),
        artist: tag("artist").filter(|t| !t.is_empty()),
        album: tag("album").filter(|t| !t.is_empty()),
        duration_s: (duration > 0).then(|| duration as f64 / f64::from(ff::ffi::AV_TIME_BASE)),
        bitrate_kbps: u32::try_from(input.bit_rate() / 1000)
            .ok()
            .filter(|b| *b > 0),
        has_audio: input.streams().best(ff::media::Type::Audio).is_some(),
        has_video: input
            .streams()
            .best(ff::media::Type::Video)
            .is_some_and(|s| {
                s.disposition() & ff::format::stream::Disposition::ATTACHED_PIC
                    != ff::format::stream::Disposition::ATTACHED_PIC
            }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV file: `secs` of silence, a 440 Hz tone at `amp`, `secs` of silence.
    fn wav(dir: &Path, rate: u32, channels: u16, amp: f32) -> std::path::PathBuf {
        let path = dir.join(format!("t{rate}_{channels}.wav"));
        let mut samples: Vec<i16> = Vec::new();
        let quiet = rate as usize / 2;
        let loud = rate as usize;
        for i in 0..(quiet + loud + quiet) {
            let v = if (quiet..quiet + loud).contains(&i) {
                (amp * (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 32767.0)
                    as i16
            } else {
                0
            };
            for _ in 0..channels {
                samples.push(v);
            }
        }
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
        out.extend_from_slice(&(channels * 2).to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&data);
        std::fs::write(&path, out).expect("write wav");
        path
    }

    #[test]
    fn a_mono_22k_file_reads_as_stereo_at_the_asked_rate() {
        ff::init().expect("ffmpeg");
        let dir = tempfile::tempdir().expect("tmp");
        let path = wav(dir.path(), 22_050, 1, 0.5);
        let mut track = FileTrack::open(&path, 44_100).expect("open");
        let mut pcm = Vec::new();
        while track.read(&mut pcm).expect("read") > 0 {}
        let frames = pcm.len() / 2;
        // 2 s of audio at 44.1 kHz, give or take the resampler's delay.
        assert!((frames as i64 - 88_200).abs() < 200, "{frames} frames");
        // Both channels carry the mono signal.
        let mid = 44_100 + 1_000;
        assert!(pcm[mid * 2].abs() > 0.0 && (pcm[mid * 2] - pcm[mid * 2 + 1]).abs() < 1e-6);
    }

    #[test]
    fn analysis_finds_the_cue_points_and_the_loudness() {
        ff::init().expect("ffmpeg");
        let dir = tempfile::tempdir().expect("tmp");
        let loud = analyse(&wav(dir.path(), 44_100, 2, 0.5)).expect("analyse");
        assert!((loud.duration_s - 2.0).abs() < 0.01, "{loud:?}");
        assert!((loud.cue_in_s - 0.5).abs() < 0.02, "{loud:?}");
        assert!((loud.cue_out_s - 1.5).abs() < 0.02, "{loud:?}");
        let lufs = loud.loudness_lufs.expect("measured");
        // A −6 dBFS sine in both channels: about −6 LUFS (K-weighting adds a little at 440 Hz).
        assert!((-9.0..-3.0).contains(&lufs), "{lufs}");
        let quiet = analyse(&wav(dir.path(), 48_000, 2, 0.05)).expect("analyse");
        let q = quiet.loudness_lufs.expect("measured");
        assert!((lufs - q - 20.0).abs() < 0.5, "{lufs} vs {q}");
    }

    #[test]
    fn a_playlist_disguised_as_audio_is_never_followed() {
        ff::init().expect("ffmpeg");
        let dir = tempfile::tempdir().expect("tmp");
        let real = wav(dir.path(), 44_100, 2, 0.5);
        // An HLS playlist pointing at another file on the server, named like an MP3.
        let sneaky = dir.path().join("song.mp3");
        std::fs::write(
            &sneaky,
            format!(
                "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\n{}\n#EXT-X-ENDLIST\n",
                real.display()
            ),
        )
        .expect("write");
        assert!(probe(&sneaky).is_err());
        assert!(analyse(&sneaky).is_err());
        let concat = dir.path().join("list.flac");
        std::fs::write(
            &concat,
            format!("ffconcat version 1.0\nfile '{}'\n", real.display()),
        )
        .expect("write");
        assert!(analyse(&concat).is_err());
        // The real thing still opens.
        assert!(analyse(&real).is_ok());
    }

    #[test]
    fn a_file_that_is_not_media_is_refused_with_a_reason() {
        ff::init().expect("ffmpeg");
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("notes.mp3");
        std::fs::write(&path, b"this is not audio at all, just some text").expect("write");
        let e = analyse(&path).expect_err("refused");
        // FFmpeg's refusal to open it, or no audio in it: either way, said.
        assert!(
            matches!(e, TranscodeError::Failed { .. } | TranscodeError::Input(_)),
            "{e:?}"
        );
        assert!(!e.to_string().is_empty());
    }
}
